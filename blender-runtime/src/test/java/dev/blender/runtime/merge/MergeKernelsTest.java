package dev.blender.runtime.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MergeKernelsTest {

    private static float[] plus(float[] base, float[] t) {
        float[] out = new float[base.length];
        for (int j = 0; j < out.length; j++) {
            out[j] = base[j] + t[j];
        }
        return out;
    }

    @Test
    void linearIsTheElementWiseMean() {
        assertArrayEquals(new float[] {2, 4, -1}, MergeKernels.linear(new float[][] {{1, 2, 0}, {3, 6, -2}}), 0f);
        float[] a = {0.1f, -3.7f, 1e-7f};
        assertArrayEquals(a, MergeKernels.linear(new float[][] {a, a}), 0f);
    }

    @Test
    void taskArithmeticAddsTheScaledSumOfTaskVectors() {
        float[] base = {1, 1, 1};
        float[][] models = {{2, 0, 1}, {1, 3, 1}};
        // task vectors (1, -1, 0) and (0, 2, 0): sum (1, 1, 0), half of it added to the base
        assertArrayEquals(new float[] {1.5f, 1.5f, 1}, MergeKernels.taskArithmetic(base, models, 0.5), 0f);
        assertArrayEquals(base, MergeKernels.taskArithmetic(base, models, 0), 0f);
    }

    @Test
    void trimKeepsTheTopFractionByMagnitudeAndEveryTieAtTheThreshold() {
        // density 0.25 of 4 = 1 entry, but all three at the threshold |1| stay
        assertArrayEquals(new float[] {1, -1, 1, 0}, MergeKernels.trim(new float[] {1, -1, 1, 0.5f}, 0.25), 0f);
        assertArrayEquals(new float[] {0, -4, 0, 3}, MergeKernels.trim(new float[] {1, -4, 2, 3}, 0.5), 0f);
        assertArrayEquals(new float[] {1, -4, 2, 3}, MergeKernels.trim(new float[] {1, -4, 2, 3}, 1), 0f);
        // round(0.1 * 4) = 0: the largest is still kept
        assertArrayEquals(new float[] {0, -4, 0, 0}, MergeKernels.trim(new float[] {1, -4, 2, 3}, 0.1), 0f);
    }

    @Test
    void tiesTrimsElectsSignsAndAveragesTheAgreeingEntries() {
        float[] base = {1, 1, 1, 1, 1};
        float[] t1 = {3, -1, 0.5f, -2, 1};
        float[] t2 = {-2, 2, 0.5f, -2, -4};
        // density 0.6 of 5 = 3 entries: t1's threshold is |1| (both 1s kept): (3, -1, 0, -2, 1);
        // t2's is |2| (all three 2s kept): (-2, 2, 0, -2, -4).
        // sums (1, 1, 0, -4, -3) elect (+, +, none, -, -); the agreeing non-zero entries average to
        // (3, 2, 0, -2, -4); lambda 0.5 adds half of that to the base
        float[] merged = MergeKernels.ties(base, new float[][] {plus(base, t1), plus(base, t2)}, 0.6, 0.5);
        assertArrayEquals(new float[] {2.5f, 2, 1, 0, -1}, merged, 0f);
        // opposite entries of equal size cancel: no sign is elected, the base stays
        assertArrayEquals(new float[] {0, 2}, MergeKernels.ties(new float[] {0, 0},
                new float[][] {{1, 2}, {-1, 2}}, 1, 1), 0f);
    }

    @Test
    void dareDropsWithTheGivenProbabilityAndRescalesTheSurvivors() {
        int n = 200_000;
        float[] base = new float[n];
        float[] model = new float[n];
        SplittableRandom init = new SplittableRandom(3);
        double sum = 0;
        for (int j = 0; j < n; j++) {
            base[j] = (float) init.nextGaussian();
            model[j] = base[j] + 0.5f + (float) init.nextGaussian() * 0.1f;
            sum += model[j] - base[j];
        }
        float[] merged = MergeKernels.dare(base, new float[][] {model}, 0.9, 1, new SplittableRandom(7));
        // replaying the same draws: entry j survives exactly when its draw is at least the drop probability
        SplittableRandom replay = new SplittableRandom(7);
        int kept = 0;
        double mergedSum = 0;
        for (int j = 0; j < n; j++) {
            boolean survives = replay.nextDouble() >= 0.9;
            float expected = survives ? base[j] + (model[j] - base[j]) * (float) (1 / (1 - 0.9)) : base[j];
            assertEquals(expected, merged[j], 0f, "entry " + j);
            kept += survives ? 1 : 0;
            mergedSum += merged[j] - base[j];
        }
        assertEquals(0.1, kept / (double) n, 0.005);
        // rescaling keeps the task vector's expectation: its sum survives within a few percent
        assertEquals(1, mergedSum / sum, 0.03);
        // drop 0 is task arithmetic
        assertArrayEquals(MergeKernels.taskArithmetic(base, new float[][] {model}, 0.7),
                MergeKernels.dare(base, new float[][] {model}, 0, 0.7, new SplittableRandom(1)), 0f);
    }

    @Test
    void selectFindsTheKthSmallestLikeSorting() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(300);
            float[] a = new float[n];
            for (int j = 0; j < n; j++) {
                // few distinct values in half the trials: many ties
                a[j] = trial % 2 == 0 ? (float) r.nextGaussian() : r.nextInt(4);
            }
            float[] sorted = a.clone();
            Arrays.sort(sorted);
            int k = r.nextInt(n);
            assertEquals(sorted[k], MergeKernels.select(a.clone(), k), 0f, "trial " + trial);
        }
        float[] sortedRun = new float[10_000];
        for (int j = 0; j < sortedRun.length; j++) {
            sortedRun[j] = j;
        }
        assertEquals(9_000f, MergeKernels.select(sortedRun, 9_000));
        assertTrue(MergeKernels.magnitudeThreshold(new float[] {-5, 1, 2}, 1.0 / 3) == 5f);
    }
}
