package dev.blender.runtime.merge;

import java.util.SplittableRandom;

/**
 * The per-tensor arithmetic of each {@link MergeMethod}, on flat {@code float} arrays of equal length (one
 * tensor of each model). Sums and products are taken in {@code float}, in model order, as a PyTorch merge
 * in f32 computes them, so that figures measured on the same definitions reproduce.
 */
public final class MergeKernels {
    private MergeKernels() {}

    /** The element-wise mean of {@code models}. */
    public static float[] linear(float[][] models) {
        int n = sameLength(null, models);
        float[] out = new float[n];
        for (float[] m : models) {
            for (int j = 0; j < n; j++) {
                out[j] += m[j];
            }
        }
        float count = models.length;
        for (int j = 0; j < n; j++) {
            out[j] /= count;
        }
        return out;
    }

    /** {@code base + lambda * sum_i (models[i] - base)}. */
    public static float[] taskArithmetic(float[] base, float[][] models, double lambda) {
        int n = sameLength(base, models);
        float[] sum = new float[n];
        for (float[] m : models) {
            for (int j = 0; j < n; j++) {
                sum[j] += m[j] - base[j];
            }
        }
        return plusScaled(base, sum, lambda);
    }

    /**
     * TIES: each task vector {@code models[i] - base} trimmed by {@link #trim}; each entry's sign elected
     * as the sign of the sum of the trimmed vectors; the merged entry the mean of the trimmed entries that
     * are non-zero and have the elected sign (0 where none has, or where the sum is 0);
     * {@code base + lambda * merged}.
     */
    public static float[] ties(float[] base, float[][] models, double density, double lambda) {
        int n = sameLength(base, models);
        float[][] trimmed = new float[models.length][];
        for (int i = 0; i < models.length; i++) {
            float[] t = new float[n];
            for (int j = 0; j < n; j++) {
                t[j] = models[i][j] - base[j];
            }
            trimmed[i] = trim(t, density);
        }
        float[] merged = new float[n];
        for (int j = 0; j < n; j++) {
            float sum = 0;
            for (float[] t : trimmed) {
                sum += t[j];
            }
            float sign = Math.signum(sum);
            if (sign == 0 || Float.isNaN(sign)) {
                continue;
            }
            float agreeing = 0;
            int count = 0;
            for (float[] t : trimmed) {
                if (t[j] != 0 && Math.signum(t[j]) == sign) {
                    agreeing += t[j];
                    count++;
                }
            }
            merged[j] = count == 0 ? 0 : agreeing / count;
        }
        return plusScaled(base, merged, lambda);
    }

    /**
     * DARE: each entry of each task vector {@code models[i] - base} dropped with probability {@code drop}
     * and the survivors scaled by {@code 1 / (1 - drop)}, then task arithmetic with {@code lambda}. The draws
     * come from {@code random}, one {@code nextDouble()} per entry, model by model in order.
     */
    public static float[] dare(float[] base, float[][] models, double drop, double lambda, SplittableRandom random) {
        if (!(drop >= 0 && drop < 1)) {
            throw new IllegalArgumentException("drop must be in [0, 1), got " + drop);
        }
        int n = sameLength(base, models);
        float scale = (float) (1 / (1 - drop));
        float[] sum = new float[n];
        for (float[] m : models) {
            for (int j = 0; j < n; j++) {
                boolean dropped = random.nextDouble() < drop;
                if (!dropped) {
                    sum[j] += (m[j] - base[j]) * scale;
                }
            }
        }
        return plusScaled(base, sum, lambda);
    }

    /**
     * A copy of {@code taskVector} keeping only the entries whose magnitude is at least the
     * {@code k}-th largest magnitude, {@code k = round(density * length)} (at least 1): the top
     * {@code density} fraction, with every entry equal to the threshold kept; the rest are 0.
     */
    public static float[] trim(float[] taskVector, double density) {
        float threshold = magnitudeThreshold(taskVector, density);
        float[] out = new float[taskVector.length];
        for (int j = 0; j < out.length; j++) {
            if (Math.abs(taskVector[j]) >= threshold) {
                out[j] = taskVector[j];
            }
        }
        return out;
    }

    /** The {@code round(density * length)}-th largest magnitude of {@code v} (at least the largest). */
    public static float magnitudeThreshold(float[] v, double density) {
        if (!(density > 0 && density <= 1)) {
            throw new IllegalArgumentException("density must be in (0, 1], got " + density);
        }
        if (v.length == 0) {
            return 0;
        }
        long k = Math.max(1, Math.min(v.length, Math.round(density * v.length)));
        float[] abs = new float[v.length];
        for (int j = 0; j < abs.length; j++) {
            abs[j] = Math.abs(v[j]);
        }
        return select(abs, (int) (v.length - k));
    }

    /**
     * The {@code k}-th smallest value (0-based) of {@code a}, reordering it: Hoare's quickselect, linear on
     * average, where sorting a tensor of 10^8 entries per model would dominate a merge.
     */
    static float select(float[] a, int k) {
        int lo = 0;
        int hi = a.length - 1;
        while (lo < hi) {
            float x = a[lo];
            float y = a[(lo + hi) >>> 1];
            float z = a[hi];
            // median of three: sorted and reversed runs, common in weights, stay linear
            float pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    float t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (k <= j) {
                hi = j;
            } else if (k >= i) {
                lo = i;
            } else {
                return a[k];
            }
        }
        return a[k];
    }

    private static float[] plusScaled(float[] base, float[] delta, double lambda) {
        float l = (float) lambda;
        float[] out = new float[base.length];
        for (int j = 0; j < out.length; j++) {
            out[j] = base[j] + l * delta[j];
        }
        return out;
    }

    private static int sameLength(float[] base, float[][] models) {
        if (models.length == 0) {
            throw new IllegalArgumentException("no models to merge");
        }
        int n = base != null ? base.length : models[0].length;
        for (float[] m : models) {
            if (m.length != n) {
                throw new IllegalArgumentException("tensors of different lengths: " + n + " and " + m.length);
            }
        }
        return n;
    }
}
