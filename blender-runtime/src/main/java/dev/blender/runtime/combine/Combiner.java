package dev.blender.runtime.combine;

import java.lang.foreign.MemorySegment;

/**
 * Mixes K next-token distributions into one. Inputs are raw logits (any shift per member); the output
 * is normalised log-probabilities, {@code -infinity} where a token is ruled out. Implementations keep
 * scratch state: one instance per thread.
 */
public interface Combiner {
    /** Combines {@code logits[k]} (each at least {@code n} floats) into {@code out[0..n)}. */
    void combine(MemorySegment[] logits, int n, float[] out);

    /** Combines heap arrays; the same as wrapping them with {@link MemorySegment#ofArray(float[])}. */
    default void combine(float[][] logits, int n, float[] out) {
        MemorySegment[] segs = new MemorySegment[logits.length];
        for (int k = 0; k < logits.length; k++) {
            segs[k] = MemorySegment.ofArray(logits[k]);
        }
        combine(segs, n, out);
    }

    CombineOptions options();

    /**
     * LINEAR and LOG_LINEAR: the member weights of the following {@link #combine} calls (normalised),
     * in place of the options' own; how adaptive weights ({@link CombineOptions#adaptive}) take effect
     * without a new combiner (and its scratch buffers) per token.
     */
    void reweight(float[] weights);

    /** The SIMD implementation (Vector API). */
    static Combiner vectorized(CombineOptions options) {
        return new VectorCombiner(options);
    }

    /** The same algorithm in plain scalar Java: the baseline of the benchmarks. */
    static Combiner scalar(CombineOptions options) {
        return new ScalarCombiner(options);
    }
}
