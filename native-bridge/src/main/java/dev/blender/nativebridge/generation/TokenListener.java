package dev.blender.nativebridge.generation;

/**
 * Receives tokens as they are generated, on the generating thread. Keep it quick: the next decode
 * waits for it. An exception thrown here ends the generation and propagates to the caller.
 */
@FunctionalInterface
public interface TokenListener {
    /**
     * A token of candidate {@code candidate}; {@code text} is the new complete UTF-8 text it adds
     * (empty while a multi-byte character is incomplete, or while the text could still turn into a
     * stop string). A last call with {@code token == -1} releases text held back that way.
     */
    void onToken(int candidate, int token, String text);

    /** The candidate has finished. */
    default void onFinish(Candidate candidate) {}

    TokenListener NONE = (c, t, s) -> {};
}
