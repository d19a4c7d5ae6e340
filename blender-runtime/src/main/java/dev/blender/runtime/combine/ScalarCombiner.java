package dev.blender.runtime.combine;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/** The combination written as plainly as possible, in double precision: reference and baseline. */
final class ScalarCombiner implements Combiner {
    private final CombineOptions options;
    private final float[] w;
    private double[] s = new double[0];

    ScalarCombiner(CombineOptions options) {
        this.options = options;
        this.w = options.logSpaceWeights();
    }

    @Override
    public CombineOptions options() {
        return options;
    }

    @Override
    public void combine(MemorySegment[] logits, int n, float[] out) {
        int k = checkArity(logits.length, options);
        double[] lse = new double[k];
        double[] max = new double[k];
        for (int m = 0; m < k; m++) {
            max[m] = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                max[m] = Math.max(max[m], logits[m].getAtIndex(JAVA_FLOAT, i));
            }
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += Math.exp(logits[m].getAtIndex(JAVA_FLOAT, i) - max[m]);
            }
            lse[m] = max[m] + Math.log(sum);
        }
        if (options.method() == CombineMethod.LINEAR) {
            for (int i = 0; i < n; i++) {
                double p = 0;
                for (int m = 0; m < k; m++) {
                    p += w[m] * Math.exp(logits[m].getAtIndex(JAVA_FLOAT, i) - lse[m]);
                }
                out[i] = (float) Math.log(p);
            }
            return;
        }
        boolean masked = options.method() == CombineMethod.NEGATIVE_EVIDENCE;
        double floor = max[0] + Math.log(options.alpha());
        double best = Double.NEGATIVE_INFINITY;
        if (s.length < n) {
            s = new double[n];
        }
        for (int i = 0; i < n; i++) {
            if (masked && logits[0].getAtIndex(JAVA_FLOAT, i) < floor) {
                s[i] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double v = 0;
            for (int m = 0; m < k; m++) {
                v += w[m] * (logits[m].getAtIndex(JAVA_FLOAT, i) - lse[m]);
            }
            s[i] = v;
            best = Math.max(best, v);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(s[i] - best);
        }
        double norm = best + Math.log(sum);
        for (int i = 0; i < n; i++) {
            out[i] = (float) (s[i] - norm);
        }
    }

    static int checkArity(int given, CombineOptions options) {
        if (given != options.members()) {
            throw new IllegalArgumentException(options + " combines " + options.members() + " models, got "
                    + given + " logit rows");
        }
        return given;
    }
}
