package dev.blender.pairranker;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Ranks candidates with a {@link PairRanker} and an {@link Aggregation}. Stateless and thread-safe
 * (as thread-safe as the ranker it is given).
 */
public final class Rankings {
    private Rankings() {}

    /**
     * Ranks all candidates (bubble: top 1).
     *
     * @throws IllegalArgumentException no candidates, or fewer than two, or a null or blank candidate
     */
    public static Ranking rank(PairRanker ranker, String instruction, List<String> candidates, Aggregation aggregation) {
        return rank(ranker, instruction, candidates, aggregation, 1, 0);
    }

    /**
     * Ranks candidates; {@code topK} and {@code seed} matter for bubble only (k passes over a
     * permutation drawn from the seed).
     */
    public static Ranking rank(PairRanker ranker, String instruction, List<String> candidates, Aggregation aggregation,
                               int topK, long seed) {
        Objects.requireNonNull(ranker, "ranker");
        Objects.requireNonNull(instruction, "instruction");
        Objects.requireNonNull(aggregation, "aggregation");
        Objects.requireNonNull(candidates, "candidates");
        if (candidates.size() < 2) {
            throw new IllegalArgumentException("ranking needs at least two candidates, got " + candidates.size());
        }
        for (int i = 0; i < candidates.size(); i++) {
            if (candidates.get(i) == null) {
                throw new IllegalArgumentException("candidate " + i + " is null");
            }
            if (candidates.get(i).isBlank()) {
                // a judge would spend model calls comparing nothing; callers drop empty answers first
                throw new IllegalArgumentException("candidate " + i + " is empty; drop empty candidates before ranking");
            }
        }
        if (topK < 1 || topK > candidates.size()) {
            throw new IllegalArgumentException("topK must be in 1.." + candidates.size() + ", was " + topK);
        }
        return switch (aggregation) {
            case MAX_LOGITS, MAX_WINS -> matrix(ranker, instruction, candidates, aggregation);
            case BUBBLE -> bubble(ranker, instruction, candidates, topK, seed);
        };
    }

    private static Ranking matrix(PairRanker ranker, String instruction, List<String> candidates, Aggregation aggregation) {
        int n = candidates.size();
        List<OrderedPair> pairs = new ArrayList<>(n * (n - 1));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i != j) {
                    pairs.add(new OrderedPair(i, j));
                }
            }
        }
        double[] s = ranker.compare(instruction, candidates, pairs);
        double[][] m = new double[n][n];
        for (int p = 0; p < pairs.size(); p++) {
            m[pairs.get(p).first()][pairs.get(p).second()] = s[p];
        }
        double[] logits = new double[n];
        double[] wins = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i != j) {
                    logits[i] += (m[i][j] - m[j][i]) / (n - 1);
                    wins[i] += (m[i][j] > 0 ? 1 : 0) + (m[j][i] < 0 ? 1 : 0);
                }
            }
        }
        double[] primary = aggregation == Aggregation.MAX_WINS ? wins : logits;
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        order.sort(Comparator.<Integer>comparingDouble(i -> -primary[i]).thenComparingDouble(i -> -logits[i])
                .thenComparingInt(i -> i));
        return new Ranking(order, primary, aggregation, n, pairs.size());
    }

    private static Ranking bubble(PairRanker ranker, String instruction, List<String> candidates, int topK, long seed) {
        int n = candidates.size();
        List<Integer> remaining = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            remaining.add(i);
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            remaining.set(i, remaining.set(j, remaining.get(i)));
        }
        List<Integer> order = new ArrayList<>();
        double[] scores = new double[n];
        int comparisons = 0;
        for (int pass = 0; pass < topK; pass++) {
            int best = remaining.get(0);
            for (int c = 1; c < remaining.size(); c++) {
                int challenger = remaining.get(c);
                double[] s = ranker.compare(instruction, candidates,
                        List.of(new OrderedPair(challenger, best), new OrderedPair(best, challenger)));
                comparisons++;
                // both orders averaged: > 0 means the challenger is better; a tie keeps the incumbent
                if ((s[0] - s[1]) / 2 > 0) {
                    best = challenger;
                }
            }
            order.add(best);
            scores[best] = topK - pass;
            remaining.remove(Integer.valueOf(best));
            if (remaining.size() == 1 && pass + 1 < topK) {
                int last = remaining.remove(0);
                order.add(last);
                scores[last] = topK - pass - 1;
                break;
            }
        }
        int ranked = order.size();
        order.addAll(remaining);
        return new Ranking(order, scores, Aggregation.BUBBLE, ranked, comparisons);
    }
}
