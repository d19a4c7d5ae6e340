package dev.blender.nativebridge.natives;

/** Installing natives failed or was refused; the message says why and what to do instead. */
public class NativesException extends dev.blender.nativebridge.LlamaException {
    private static final long serialVersionUID = 1L;

    public NativesException(String message) {
        super(message);
    }

    public NativesException(String message, Throwable cause) {
        super(message, cause);
    }
}
