package dev.blender.pairranker;

import java.util.Arrays;
import java.util.List;

/**
 * The outcome of ranking candidates.
 *
 * @param order        candidate indices, best first (for {@link Aggregation#BUBBLE}, the first
 *                     {@code rankedCount} are ranked, the rest follow in no meaningful order)
 * @param scores       per candidate (by index): MaxLogits score, MaxWins wins, or for bubble the passes
 *                     a candidate survived as winner ({@code k - pass}; 0 for unranked)
 * @param aggregation  the strategy used
 * @param rankedCount  how many leading entries of {@code order} are ranked
 * @param comparisons  comparisons made: ordered pairs scored for the matrix strategies, two-order
 *                     comparisons for bubble
 */
public record Ranking(List<Integer> order, double[] scores, Aggregation aggregation, int rankedCount, int comparisons) {

    public Ranking {
        order = List.copyOf(order);
        scores = scores.clone();
    }

    @Override
    public double[] scores() {
        return scores.clone();
    }

    /** Index of the best candidate. */
    public int best() {
        return order.get(0);
    }

    /** The best {@code k} candidate indices (at most {@link #rankedCount()}). */
    public List<Integer> top(int k) {
        return order.subList(0, Math.min(k, rankedCount));
    }

    @Override
    public String toString() {
        return "Ranking[" + aggregation + " " + order + " scores=" + Arrays.toString(scores) + ", comparisons="
                + comparisons + "]";
    }
}
