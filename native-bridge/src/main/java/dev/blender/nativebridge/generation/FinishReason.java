package dev.blender.nativebridge.generation;

/** Why a candidate stopped. */
public enum FinishReason {
    /** The model produced an end-of-generation token (EOS, EOT). */
    END_OF_GENERATION,
    /** It reached the request's maxTokens. */
    LENGTH,
    /** Its text reached one of the request's stop strings (removed from the text). */
    STOP,
    /** The context had no KV-cache room left for it. */
    CONTEXT_FULL,
    /** The request was cancelled. */
    CANCELLED
}
