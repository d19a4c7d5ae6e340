package dev.blender.nativebridge.generation;

import java.util.List;
import java.util.Objects;

/**
 * What every decoding request says about its output, whatever produces the scores (one model, a per-token mix of
 * local or remote members): the settings {@link TokenLoop} applies. Immutable; start from {@link #greedy(int)}.
 *
 * @param maxTokens    most tokens written (at least 1)
 * @param sampler      how the next token is picked from the scores ({@link Sampler#of})
 * @param stop         strings that end the output when its text reaches them, the stop string excluded from the
 *                     text; none may be empty
 * @param seed         the sampler's random stream
 * @param cancellation set from another thread to stop within one token; null for none
 */
public record DecodeOptions(int maxTokens, SamplerOptions sampler, List<String> stop, long seed,
                            Cancellation cancellation) {
    public DecodeOptions {
        Objects.requireNonNull(sampler, "sampler");
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        stop = List.copyOf(Objects.requireNonNull(stop, "stop"));
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    /** The most likely token each step, up to {@code maxTokens}, no stop strings, no cancellation. */
    public static DecodeOptions greedy(int maxTokens) {
        return new DecodeOptions(maxTokens, SamplerOptions.greedy(), List.of(), 0, null);
    }

    public DecodeOptions withMaxTokens(int n) {
        return new DecodeOptions(n, sampler, stop, seed, cancellation);
    }

    public DecodeOptions withSampler(SamplerOptions s) {
        return new DecodeOptions(maxTokens, s, stop, seed, cancellation);
    }

    public DecodeOptions withStop(List<String> s) {
        return new DecodeOptions(maxTokens, sampler, s, seed, cancellation);
    }

    public DecodeOptions withSeed(long s) {
        return new DecodeOptions(maxTokens, sampler, stop, s, cancellation);
    }

    public DecodeOptions withCancellation(Cancellation c) {
        return new DecodeOptions(maxTokens, sampler, stop, seed, c);
    }

    /** Whether the request has been cancelled (never, without a cancellation). */
    public boolean isCancelled() {
        return cancellation != null && cancellation.isCancelled();
    }
}
