package dev.blender.nativebridge;

/** {@code enum llama_pooling_type}: how a context with embeddings turns token states into one vector. */
public enum PoolingType {
    /** The model's own choice (from its metadata). */
    UNSPECIFIED(-1),
    NONE(0),
    MEAN(1),
    CLS(2),
    LAST(3),
    /** Reranker models: one relevance score per sequence from a classification head. */
    RANK(4);

    final int code;

    PoolingType(int code) {
        this.code = code;
    }

    static PoolingType of(int code) {
        for (PoolingType p : values()) {
            if (p.code == code) {
                return p;
            }
        }
        throw new LlamaException("unknown llama_pooling_type " + code);
    }
}
