package dev.blender.runtime.combine;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * The same algorithm as {@link VectorCombiner} in plain scalar Java ({@code Math.exp}, one element at a
 * time): the baseline the benchmarks compare the Vector API path with, so a speed-up measures the
 * vectorisation, not a different algorithm.
 */
final class ScalarCombiner implements Combiner {
    private final CombineOptions options;
    private final float[] w;
    private final double[] scale;
    private float[][] exps = new float[0][];
    private int[] live = new int[0];

    ScalarCombiner(CombineOptions options) {
        this.options = options;
        this.w = options.logSpaceWeights();
        this.scale = new double[w.length];
    }

    @Override
    public CombineOptions options() {
        return options;
    }

    @Override
    public void reweight(float[] weights) {
        AdaptiveWeights.normaliseInto(options, weights, w);
    }

    @Override
    public void combine(MemorySegment[] logits, int n, float[] out) {
        int k = checkInputs(logits, n, out, options);
        if (options.method() == CombineMethod.LINEAR) {
            if (exps.length < k || exps[0].length < n) {
                exps = new float[k][n];
            }
            for (int m = 0; m < k; m++) {
                float max = max(logits[m], n);
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    float e = (float) Math.exp(logits[m].getAtIndex(JAVA_FLOAT, i) - max);
                    exps[m][i] = e;
                    sum += e;
                }
                scale[m] = w[m] / sum;
            }
            for (int i = 0; i < n; i++) {
                double p = 0;
                for (int m = 0; m < k; m++) {
                    p += scale[m] * exps[m][i];
                }
                out[i] = (float) Math.log(p);
            }
            return;
        }
        boolean masked = options.method() == CombineMethod.NEGATIVE_EVIDENCE;
        float floor = masked ? max(logits[0], n) + (float) Math.log(options.alpha()) : Float.NEGATIVE_INFINITY;
        if (live.length < n) {
            live = new int[n];
        }
        int lives = 0;
        float best = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float core = logits[0].getAtIndex(JAVA_FLOAT, i);
            float v = Float.NEGATIVE_INFINITY;
            if (core >= floor) {
                // a member of weight 0 has no say, even where its row is -infinity
                v = w[0] == 0 ? 0 : w[0] * core;
                for (int m = 1; m < k; m++) {
                    if (w[m] != 0) {
                        v += w[m] * logits[m].getAtIndex(JAVA_FLOAT, i);
                    }
                }
                live[lives++] = i;
            }
            out[i] = v;
            best = Math.max(best, v);
        }
        // only tokens that passed the mask (all of them for log-linear) take part in normalisation
        double sum = 0;
        for (int l = 0; l < lives; l++) {
            sum += Math.exp(out[live[l]] - best);
        }
        float norm = (float) (best + Math.log(sum));
        for (int l = 0; l < lives; l++) {
            out[live[l]] -= norm;
        }
    }

    private static float max(MemorySegment seg, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, seg.getAtIndex(JAVA_FLOAT, i));
        }
        return m;
    }

    /** Checks arity and sizes shared by every implementation; returns K. */
    static int checkInputs(MemorySegment[] logits, int n, float[] out, CombineOptions options) {
        if (logits.length != options.members()) {
            throw new IllegalArgumentException(options + " combines " + options.members() + " models, got "
                    + logits.length + " logit rows");
        }
        if (out.length < n) {
            throw new IllegalArgumentException("out holds " + out.length + " floats, needs " + n);
        }
        for (int m = 0; m < logits.length; m++) {
            if (logits[m].byteSize() < (long) n * Float.BYTES) {
                throw new IllegalArgumentException("logits row " + m + " holds " + logits[m].byteSize() / 4
                        + " floats, needs " + n);
            }
        }
        return logits.length;
    }
}
