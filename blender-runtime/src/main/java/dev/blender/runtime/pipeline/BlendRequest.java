package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Cancellation;
import java.time.Duration;
import java.util.Objects;

/**
 * One request. Immutable; start from {@link #of(String)}.
 *
 * @param prompt       the user's text (formatted with each model's chat template when it has one)
 * @param strategy     how to answer; null = the blender's default
 * @param seed         sampling seed
 * @param timeBudget   soft limit: a stage that would start after it is skipped (ranking falls back to a
 *                     majority vote, fusion to the top candidate); null = none
 * @param cancellation set from another thread to stop; the blend then throws
 *                     {@link java.util.concurrent.CancellationException}
 */
public record BlendRequest(String prompt, Strategy strategy, long seed, Duration timeBudget, Cancellation cancellation) {
    public BlendRequest {
        Objects.requireNonNull(prompt, "prompt");
        if (timeBudget != null && (timeBudget.isNegative() || timeBudget.isZero())) {
            throw new IllegalArgumentException("timeBudget must be positive, was " + timeBudget);
        }
    }

    public static BlendRequest of(String prompt) {
        return new BlendRequest(prompt, null, 1, null, null);
    }

    public BlendRequest withStrategy(Strategy s) {
        return new BlendRequest(prompt, s, seed, timeBudget, cancellation);
    }

    public BlendRequest withSeed(long s) {
        return new BlendRequest(prompt, strategy, s, timeBudget, cancellation);
    }

    public BlendRequest withTimeBudget(Duration d) {
        return new BlendRequest(prompt, strategy, seed, d, cancellation);
    }

    public BlendRequest withCancellation(Cancellation c) {
        return new BlendRequest(prompt, strategy, seed, timeBudget, c);
    }
}
