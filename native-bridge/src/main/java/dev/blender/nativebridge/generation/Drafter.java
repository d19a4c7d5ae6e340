package dev.blender.nativebridge.generation;

/**
 * Guesses the tokens a sequence will write next, for speculative decoding ({@link Speculation}): the model checks a
 * guess of k tokens in one decode instead of k, and keeps the longest part it agrees with, so a guess changes how
 * fast a sequence is written, never what is written. A drafter is asked once per decode and must be cheap next to
 * one; it may be asked from any generating thread, so keep it free of mutable state.
 */
@FunctionalInterface
public interface Drafter {
    /**
     * Up to {@code max} tokens likely to follow {@code generated}, the tokens the sequence has written so far (its
     * prompt excluded); empty for no guess.
     */
    int[] draft(int[] generated, int max);

    /** Never guesses: plain decoding. */
    Drafter NONE = (generated, max) -> new int[0];
}
