package dev.blender.nativebridge;

/** {@code llama_decode} failed; {@link #code()} is its return value. */
public final class DecodeException extends LlamaException {
    private static final long serialVersionUID = 1L;

    private final int code;

    public DecodeException(int code, String message) {
        super(message);
        this.code = code;
    }

    /**
     * llama.cpp's return code: 1 means no KV-cache slot was free for the batch (the context's
     * {@code n_ctx} is too small for all its sequences together), 2 means the decode was aborted,
     * negative values are errors.
     */
    public int code() {
        return code;
    }

    /** True when the batch did not fit into the KV cache: free sequences or use a larger context. */
    public boolean isKvCacheFull() {
        return code == 1;
    }
}
