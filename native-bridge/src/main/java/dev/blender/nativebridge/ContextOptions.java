package dev.blender.nativebridge;

/**
 * How to create a {@link LlamaContext}. Immutable; start from {@link #defaults()}:
 * {@code ContextOptions.defaults().withContextSize(2048).withMaxSequences(8)}.
 *
 * <p>All sequences of a context share one KV cache of {@code contextSize} cells (b4916's only kind;
 * at v0.5.0 the bridge asks for the unified cache, so the meaning is the same): a
 * context that runs N sequences of L tokens needs {@code contextSize >= N * L} (prefix cells shared by
 * {@link LlamaContext#copySequence} count once).
 *
 * @param contextSize      KV-cache cells (0 = the model's training context length)
 * @param batchSize        most tokens one {@link LlamaContext#decode} call may carry
 * @param microBatchSize   physical batch size llama.cpp splits a decode into (at most {@code batchSize})
 * @param maxSequences     distinct sequence ids the context accepts: ids are 0 .. maxSequences-1
 * @param threads          threads for single-token decoding (0 = the model's setting, else automatic:
 *                         the physical cores, see {@link #automaticThreads()} - decoding is memory-bound and
 *                         hyper-threads do not add bandwidth - of which a context decodes with those other
 *                         processes leave free, as that changes)
 * @param batchThreads     threads for prompt/batch decoding (0 = same as {@code threads})
 * @param embeddings       compute embeddings (for embedding and reranker models) instead of logits
 * @param pooling          pooling for embeddings
 * @param flashAttention   use flash attention
 * @param prefixReuse      keep what sequence 0 held when a {@link dev.blender.nativebridge.generation.SequenceDecoder}
 *                         of this context closes, so the next prompt decodes only what it does not share with
 *                         it (a chat's history, a shared system prompt); see that class. Off by default: the
 *                         logits of a reused prefix come from a differently batched decode, equal to a fresh
 *                         one's only to float rounding
 */
public record ContextOptions(int contextSize, int batchSize, int microBatchSize, int maxSequences, int threads,
                             int batchThreads, boolean embeddings, PoolingType pooling, boolean flashAttention,
                             boolean prefixReuse) {

    public ContextOptions {
        if (contextSize < 0) {
            throw new IllegalArgumentException("contextSize must be >= 0 (0 = model default), was " + contextSize);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, was " + batchSize);
        }
        if (microBatchSize < 1 || microBatchSize > batchSize) {
            throw new IllegalArgumentException("microBatchSize must be in 1..batchSize (" + batchSize + "), was "
                    + microBatchSize);
        }
        if (maxSequences < 1) {
            throw new IllegalArgumentException("maxSequences must be >= 1, was " + maxSequences);
        }
        if (maxSequences > batchSize) {
            // one step decodes a token of every sequence; llama.cpp v0.5.0 sizes its outputs by the batch
            // and aborts the process (GGML_ASSERT n_outputs_max) when they outnumber it
            throw new IllegalArgumentException("maxSequences (" + maxSequences + ") must be <= batchSize (" + batchSize
                    + "): one step decodes a token of every sequence; raise batchSize first");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0 = automatic), was " + threads);
        }
        if (batchThreads < 0) {
            throw new IllegalArgumentException("batchThreads must be >= 0 (0 = same as threads), was " + batchThreads);
        }
        if (pooling == null) {
            throw new IllegalArgumentException("pooling must not be null (use PoolingType.UNSPECIFIED)");
        }
        if (prefixReuse && embeddings) {
            // a pooled embedding reads the whole sequence in one decode: there is no prefix to keep
            throw new IllegalArgumentException("prefixReuse needs a logits context, not an embeddings one");
        }
    }

    /** Model's context length, batch 512, one sequence, automatic threads, logits (no embeddings). */
    public static ContextOptions defaults() {
        return new ContextOptions(0, 512, 512, 1, 0, 0, false, PoolingType.UNSPECIFIED, false, false);
    }

    public ContextOptions withContextSize(int n) {
        return new ContextOptions(n, batchSize, microBatchSize, maxSequences, threads, batchThreads, embeddings,
                pooling, flashAttention, prefixReuse);
    }

    /** Sets the logical batch size; the micro-batch follows it down when it would exceed it. */
    public ContextOptions withBatchSize(int n) {
        return new ContextOptions(contextSize, n, Math.max(1, Math.min(microBatchSize, n)), maxSequences, threads,
                batchThreads, embeddings, pooling, flashAttention, prefixReuse);
    }

    public ContextOptions withMicroBatchSize(int n) {
        return new ContextOptions(contextSize, batchSize, n, maxSequences, threads, batchThreads, embeddings,
                pooling, flashAttention, prefixReuse);
    }

    public ContextOptions withMaxSequences(int n) {
        return new ContextOptions(contextSize, batchSize, microBatchSize, n, threads, batchThreads, embeddings,
                pooling, flashAttention, prefixReuse);
    }

    public ContextOptions withThreads(int n) {
        return new ContextOptions(contextSize, batchSize, microBatchSize, maxSequences, n, batchThreads, embeddings,
                pooling, flashAttention, prefixReuse);
    }

    public ContextOptions withBatchThreads(int n) {
        return new ContextOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, n, embeddings,
                pooling, flashAttention, prefixReuse);
    }

    public ContextOptions withEmbeddings(boolean on, PoolingType pooling) {
        return new ContextOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, batchThreads, on,
                pooling, flashAttention, prefixReuse);
    }

    public ContextOptions withFlashAttention(boolean on) {
        return new ContextOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, batchThreads,
                embeddings, pooling, on, prefixReuse);
    }

    public ContextOptions withPrefixReuse(boolean on) {
        return new ContextOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, batchThreads,
                embeddings, pooling, flashAttention, on);
    }

    /**
     * What {@code threads = 0} starts as: the physical cores this process may use ({@link CpuTopology}), as
     * llama.cpp's own tools choose. Members that decode at the same time split this count between them, and a
     * context on automatic threads leaves out the cores other processes keep busy ({@code CpuLoad}).
     */
    public static int automaticThreads() {
        return CpuTopology.physicalCores();
    }
}
