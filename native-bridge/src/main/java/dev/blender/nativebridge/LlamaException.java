package dev.blender.nativebridge;

/**
 * What went wrong with a model, the native library or a request to them, in words a user can act on:
 * a failure llama.cpp reported, a request the bridge refused because llama.cpp would have crashed on it,
 * a file that is not a usable GGUF model ({@link dev.blender.nativebridge.gguf.GgufFormatException}),
 * a library that cannot be used, or natives that could not be installed. The message says what to
 * change. Programming errors (use after close) are {@link IllegalStateException}s instead.
 */
public class LlamaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LlamaException(String message) {
        super(message);
    }

    public LlamaException(String message, Throwable cause) {
        super(message, cause);
    }
}
