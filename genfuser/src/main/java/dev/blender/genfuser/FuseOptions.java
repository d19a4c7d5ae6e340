package dev.blender.genfuser;

import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.SamplerOptions;
import java.util.List;
import java.util.Objects;

/**
 * How the fused answer is decoded.
 *
 * @param maxTokens    most tokens of the answer
 * @param sampler      greedy, or sampled
 * @param stop         strings that end the answer (excluded from it)
 * @param seed         sampling seed
 * @param cancellation set from another thread to stop; null for none
 */
public record FuseOptions(int maxTokens, SamplerOptions sampler, List<String> stop, long seed,
                          Cancellation cancellation) {
    public FuseOptions {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        Objects.requireNonNull(sampler, "sampler");
        stop = List.copyOf(stop);
    }

    /** Greedy, at most {@code maxTokens}. */
    public static FuseOptions greedy(int maxTokens) {
        return new FuseOptions(maxTokens, SamplerOptions.greedy(), List.of(), 0, null);
    }
}
