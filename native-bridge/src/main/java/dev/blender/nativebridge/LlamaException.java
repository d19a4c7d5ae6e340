package dev.blender.nativebridge;

/**
 * A failure reported by llama.cpp, or a request the bridge refused because llama.cpp would have
 * crashed on it. The message says what to change.
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
