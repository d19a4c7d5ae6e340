package dev.blender.pairranker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Aggregations on hand-made comparison matrices, where the right ranking follows from the definitions. */
class RankingsTest {
    /** Answers M[first][second] and counts the ordered pairs it is asked for. */
    static final class MatrixRanker implements PairRanker {
        final double[][] m;
        int pairsScored;
        int calls;

        MatrixRanker(double[][] m) {
            this.m = m;
        }

        @Override
        public String id() {
            return "matrix";
        }

        @Override
        public double[] compare(String instruction, List<String> candidates, List<OrderedPair> pairs) {
            calls++;
            pairsScored += pairs.size();
            double[] out = new double[pairs.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = m[pairs.get(i).first()][pairs.get(i).second()];
            }
            return out;
        }
    }

    static List<String> names(int n) {
        List<String> c = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            c.add("candidate " + i);
        }
        return c;
    }

    /** Transitive: strength s_i, M_ij = s_i - s_j plus a position bias of +0.5 for whoever is shown first. */
    static double[][] transitive(double... strength) {
        int n = strength.length;
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m[i][j] = i == j ? 0 : strength[i] - strength[j] + 0.5;
            }
        }
        return m;
    }

    @Test
    void maxLogitsOnATransitiveMatrixFollowsStrengthDespitePositionBias() {
        MatrixRanker r = new MatrixRanker(transitive(0.5, 3, -1, 2));
        Ranking k = Rankings.rank(r, "q", names(4), Aggregation.MAX_LOGITS);
        assertEquals(List.of(1, 3, 0, 2), k.order());
        // mean_j (M_ij - M_ji) = mean_j 2 (s_i - s_j); for candidate 1: 2 * (2.5 + 4 + 1) / 3 = 5
        assertEquals(5.0, k.scores()[1], 1e-12);
        assertEquals(12, k.comparisons());
        assertEquals(12, r.pairsScored, "N(N-1) ordered pairs");
    }

    @Test
    void maxWinsCountsBothOrders() {
        MatrixRanker r = new MatrixRanker(transitive(0.5, 3, -1, 2));
        Ranking k = Rankings.rank(r, "q", names(4), Aggregation.MAX_WINS);
        assertEquals(List.of(1, 3, 0, 2), k.order());
        // the weakest never wins: the 0.5 bias of being shown first is smaller than every gap
        assertEquals(6.0, k.scores()[1], "the strongest wins all 6 ordered comparisons");
        assertEquals(0.0, k.scores()[2]);
    }

    @Test
    void aCycleIsATieForWinsBrokenByLogits() {
        // rock-paper-scissors: 0 beats 1, 1 beats 2, 2 beats 0, with different margins
        double[][] m = {{0, 3, -1}, {-3, 0, 2}, {1, -2, 0}};
        Ranking wins = Rankings.rank(new MatrixRanker(m), "q", names(3), Aggregation.MAX_WINS);
        assertEquals(2.0, wins.scores()[0]);
        assertEquals(2.0, wins.scores()[1]);
        assertEquals(2.0, wins.scores()[2]);
        // logits: 0: (6 - 2)/2 = 2, 1: (-6 + 4)/2 = -1, 2: (2 - 4)/2 = -1 -> 0 first, then 1 and 2 by index
        assertEquals(List.of(0, 1, 2), wins.order());
        Ranking logits = Rankings.rank(new MatrixRanker(m), "q", names(3), Aggregation.MAX_LOGITS);
        assertEquals(2.0, logits.scores()[0], 1e-12);
    }

    @Test
    void tiesKeepIndexOrder() {
        double[][] zero = new double[4][4];
        assertEquals(List.of(0, 1, 2, 3), Rankings.rank(new MatrixRanker(zero), "q", names(4), Aggregation.MAX_LOGITS).order());
        // bubble keeps the incumbent on a tie: the first of the permutation wins
        Ranking b = Rankings.rank(new MatrixRanker(zero), "q", names(4), Aggregation.BUBBLE, 1, 3);
        assertEquals(1, b.rankedCount());
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5, 8, 16})
    void bubbleFindsTheBestInNMinusOneComparisonsPerPass(int n) {
        double[] strength = new double[n];
        for (int i = 0; i < n; i++) {
            strength[i] = (i * 7919) % n; // a permutation of 0..n-1
        }
        for (long seed = 0; seed < 5; seed++) {
            MatrixRanker r = new MatrixRanker(transitive(strength));
            Ranking one = Rankings.rank(r, "q", names(n), Aggregation.BUBBLE, 1, seed);
            int best = 0;
            for (int i = 1; i < n; i++) {
                best = strength[i] > strength[best] ? i : best;
            }
            assertEquals(best, one.best());
            assertEquals(n - 1, one.comparisons());
            assertEquals(2 * (n - 1), r.pairsScored, "each comparison scores both orders");
        }
        if (n >= 3) {
            MatrixRanker r = new MatrixRanker(transitive(strength));
            Ranking top3 = Rankings.rank(r, "q", names(n), Aggregation.BUBBLE, 3, 1);
            assertEquals(3, top3.rankedCount());
            assertEquals((n - 1) + (n - 2) + (n - 3), top3.comparisons());
            for (int k = 0; k < 3; k++) {
                assertEquals(n - 1 - k, strength[top3.order().get(k)], 1e-12, "the k-th best by strength");
            }
        }
    }

    @Test
    void cacheMakesAReRankFree() {
        MatrixRanker r = new MatrixRanker(transitive(1, 4, 2, 3));
        CachingPairRanker cached = new CachingPairRanker(r, 1000);
        Ranking first = Rankings.rank(cached, "q", names(4), Aggregation.MAX_LOGITS);
        int afterFirst = r.pairsScored;
        Ranking again = Rankings.rank(cached, "q", names(4), Aggregation.MAX_LOGITS);
        Rankings.rank(cached, "q", names(4), Aggregation.MAX_WINS);
        Rankings.rank(cached, "q", names(4), Aggregation.BUBBLE, 2, 9);
        assertEquals(first.order(), again.order());
        assertEquals(12, afterFirst);
        assertEquals(12, r.pairsScored, "every later ranking is served from the cache");
        assertEquals(12, cached.delegatePairs());
        assertTrue(cached.stats().hitCount() >= 24, cached.stats().toString());
        // another instruction is another key
        Rankings.rank(cached, "other question", names(4), Aggregation.MAX_LOGITS);
        assertEquals(24, r.pairsScored);
    }

    @Test
    void badInputIsRefusedClearly() {
        MatrixRanker r = new MatrixRanker(new double[2][2]);
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Rankings.rank(r, "q", List.of(), Aggregation.MAX_LOGITS)).getMessage().contains("at least two"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Rankings.rank(r, "q", List.of("only"), Aggregation.BUBBLE)).getMessage().contains("got 1"));
        List<String> withNull = new ArrayList<>();
        withNull.add("a");
        withNull.add(null);
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Rankings.rank(r, "q", withNull, Aggregation.MAX_LOGITS)).getMessage().contains("candidate 1 is null"));
        assertThrows(IllegalArgumentException.class,
                () -> Rankings.rank(r, "q", names(2), Aggregation.BUBBLE, 3, 0));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Rankings.rank(r, "q", List.of("a", " "), Aggregation.MAX_LOGITS)).getMessage()
                .contains("candidate 1 is empty"));
        assertThrows(IllegalArgumentException.class, () -> new OrderedPair(1, 1));
        assertThrows(IllegalArgumentException.class, () -> new CachingPairRanker(r, 0));
    }
}
