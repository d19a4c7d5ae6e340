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
 * @param draftTokens  most tokens guessed at once from the candidates, which a fuser mostly copies, and checked in
 *                     one decode ({@link dev.blender.nativebridge.generation.Speculation}): the same greedy answer,
 *                     the same sampled distribution, fewer decodes; 0 decodes one token at a time
 */
public record FuseOptions(int maxTokens, SamplerOptions sampler, List<String> stop, long seed,
                          Cancellation cancellation, int draftTokens) {
    /**
     * The default guess length: a token checked in a batch costs about a fifth of one generated on a CPU, so a
     * guess of 8 that is wholly wrong costs under two steps, and one that is right saves eight.
     */
    public static final int DEFAULT_DRAFT_TOKENS = 8;

    public FuseOptions {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        Objects.requireNonNull(sampler, "sampler");
        stop = List.copyOf(stop);
        if (draftTokens < 0) {
            throw new IllegalArgumentException("draftTokens must be >= 0 (0 = off), was " + draftTokens);
        }
    }

    /** Options with guesses of {@link #DEFAULT_DRAFT_TOKENS}. */
    public FuseOptions(int maxTokens, SamplerOptions sampler, List<String> stop, long seed, Cancellation cancellation) {
        this(maxTokens, sampler, stop, seed, cancellation, DEFAULT_DRAFT_TOKENS);
    }

    /** Greedy, at most {@code maxTokens}. */
    public static FuseOptions greedy(int maxTokens) {
        return new FuseOptions(maxTokens, SamplerOptions.greedy(), List.of(), 0, null);
    }

    /** The same options with guesses of at most {@code n} tokens (0: none). */
    public FuseOptions withDraftTokens(int n) {
        return new FuseOptions(maxTokens, sampler, stop, seed, cancellation, n);
    }
}
