package dev.blender.runtime.combine;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The combination with the Vector API, reading llama.cpp's logits in place. Per call: two passes per
 * member (max, then sum of exponentials, for its log-normaliser), then one fused pass that mixes all
 * members and, for the log-space methods, one more pass to renormalise. No allocation.
 */
final class VectorCombiner implements Combiner {
    private static final VectorSpecies<Float> F = VectorMath.F;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final int CHUNK = 128;

    private final CombineOptions options;
    private final float[] w;
    private final float[] lse;
    private final float[] max;
    private final boolean linear;
    private final boolean masked;
    private final float logAlpha;

    VectorCombiner(CombineOptions options) {
        this.options = options;
        this.w = options.logSpaceWeights();
        this.lse = new float[w.length];
        this.max = new float[w.length];
        this.linear = options.method() == CombineMethod.LINEAR;
        this.masked = options.method() == CombineMethod.NEGATIVE_EVIDENCE;
        this.logAlpha = (float) Math.log(options.alpha());
    }

    @Override
    public CombineOptions options() {
        return options;
    }

    @Override
    public void combine(MemorySegment[] logits, int n, float[] out) {
        int k = ScalarCombiner.checkArity(logits.length, options);
        if (out.length < n) {
            throw new IllegalArgumentException("out holds " + out.length + " floats, needs " + n);
        }
        for (int m = 0; m < k; m++) {
            if (logits[m].byteSize() < (long) n * Float.BYTES) {
                throw new IllegalArgumentException("logits row " + m + " holds " + logits[m].byteSize() / 4
                        + " floats, needs " + n);
            }
            max[m] = max(logits[m], n);
            lse[m] = max[m] + (float) Math.log(sumExp(logits[m], n, max[m]));
        }
        if (linear) {
            mixLinear(logits, k, n, out);
        } else {
            float best = mixLogSpace(logits, k, n, out);
            float norm = best + (float) Math.log(sumExp(MemorySegment.ofArray(out), n, best));
            subtract(out, n, norm);
        }
    }

    private void mixLinear(MemorySegment[] logits, int k, int n, float[] out) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            long off = (long) i * Float.BYTES;
            FloatVector acc = FloatVector.zero(F);
            for (int m = 0; m < k; m++) {
                FloatVector x = FloatVector.fromMemorySegment(F, logits[m], off, NATIVE).sub(lse[m]);
                acc = VectorMath.exp(x).fma(FloatVector.broadcast(F, w[m]), acc);
            }
            VectorMath.log(acc).intoArray(out, i);
        }
        for (; i < n; i++) {
            double p = 0;
            for (int m = 0; m < k; m++) {
                p += w[m] * Math.exp(logits[m].getAtIndex(JAVA_FLOAT, i) - lse[m]);
            }
            out[i] = (float) Math.log(p);
        }
    }

    /** out = sum_k w_k (x_k - lse_k), masked by the core's plausibility; returns the max of out. */
    private float mixLogSpace(MemorySegment[] logits, int k, int n, float[] out) {
        float c = 0;
        for (int m = 0; m < k; m++) {
            c += w[m] * lse[m];
        }
        float floor = max[0] + logAlpha;
        int bound = F.loopBound(n);
        FloatVector best = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < bound; i += F.length()) {
            long off = (long) i * Float.BYTES;
            FloatVector core = FloatVector.fromMemorySegment(F, logits[0], off, NATIVE);
            FloatVector acc = core.mul(w[0]);
            for (int m = 1; m < k; m++) {
                acc = FloatVector.fromMemorySegment(F, logits[m], off, NATIVE).fma(FloatVector.broadcast(F, w[m]), acc);
            }
            acc = acc.sub(c);
            if (masked) {
                acc = acc.blend(Float.NEGATIVE_INFINITY, core.compare(VectorOperators.LT, floor));
            }
            acc.intoArray(out, i);
            best = best.max(acc);
        }
        float b = best.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            float core = logits[0].getAtIndex(JAVA_FLOAT, i);
            float v;
            if (masked && core < floor) {
                v = Float.NEGATIVE_INFINITY;
            } else {
                v = w[0] * core;
                for (int m = 1; m < k; m++) {
                    v += w[m] * logits[m].getAtIndex(JAVA_FLOAT, i);
                }
                v -= c;
            }
            out[i] = v;
            b = Math.max(b, v);
        }
        return b;
    }

    static float max(MemorySegment seg, int n) {
        int bound = F.loopBound(n);
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < bound; i += F.length()) {
            acc = acc.max(FloatVector.fromMemorySegment(F, seg, (long) i * Float.BYTES, NATIVE));
        }
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, seg.getAtIndex(JAVA_FLOAT, i));
        }
        return m;
    }

    /**
     * sum_i exp(x_i - shift). Lanes add in float for at most {@value #CHUNK} vectors, then into a double:
     * float lanes alone lose ~1e-5 over a 152k vocabulary.
     */
    static double sumExp(MemorySegment seg, int n, float shift) {
        int bound = F.loopBound(n);
        int step = F.length();
        double s = 0;
        int i = 0;
        while (i < bound) {
            int end = Math.min(bound, i + CHUNK * step);
            FloatVector acc = FloatVector.zero(F);
            for (; i < end; i += step) {
                acc = acc.add(VectorMath.exp(FloatVector.fromMemorySegment(F, seg, (long) i * Float.BYTES, NATIVE).sub(shift)));
            }
            s += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            s += Math.exp(seg.getAtIndex(JAVA_FLOAT, i) - shift);
        }
        return s;
    }

    private static void subtract(float[] out, int n, float value) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, out, i).sub(value).intoArray(out, i);
        }
        for (; i < n; i++) {
            out[i] -= value;
        }
    }
}
