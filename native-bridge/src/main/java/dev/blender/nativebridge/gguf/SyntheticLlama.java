package dev.blender.nativebridge.gguf;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * An immutable specification of a tiny llama-architecture model with random weights, written as GGUF.
 * The file is a pure function of the options: the same spec always yields byte-identical output, and
 * weights are generated row by row while writing, so large specs never sit in memory.
 *
 * <p>Use {@link #builder()}; every option has a default.
 */
public final class SyntheticLlama {
    /** Smallest vocabulary: 3 control, 256 byte tokens and a handful of ordinary pieces. */
    public static final int MIN_VOCAB_SIZE = SyntheticVocabulary.FIRST_NORMAL_ID + 5;
    /** Largest vocabulary the piece generator is sized for. */
    public static final int MAX_VOCAB_SIZE = 1 << 18;

    private final int vocabSize;
    private final long vocabularySeed;
    private final long weightSeed;
    private final int layers;
    private final int embeddingLength;
    private final int heads;
    private final int kvHeads;
    private final int feedForwardLength;
    private final int contextLength;
    private final GgmlType tensorType;
    private final String chatTemplate;
    private final String name;
    private final List<String> tokens;

    private SyntheticLlama(Builder b, int kvHeads, int ffn) {
        this.vocabSize = b.vocabSize;
        this.vocabularySeed = b.vocabularySeed;
        this.weightSeed = b.weightSeed;
        this.layers = b.layers;
        this.embeddingLength = b.embeddingLength;
        this.heads = b.heads;
        this.kvHeads = kvHeads;
        this.feedForwardLength = ffn;
        this.contextLength = b.contextLength;
        this.tensorType = b.tensorType;
        this.chatTemplate = b.chatTemplate;
        this.name = b.name;
        this.tokens = List.copyOf(SyntheticVocabulary.tokens(vocabSize, vocabularySeed));
    }

    /** A builder with all defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Number of tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** Seed for the token text beyond the fixed leading pieces (0 = canonical order). */
    public long vocabularySeed() {
        return vocabularySeed;
    }

    /** Seed for all weights. */
    public long weightSeed() {
        return weightSeed;
    }

    /** Number of transformer blocks. */
    public int layers() {
        return layers;
    }

    /** Model width. */
    public int embeddingLength() {
        return embeddingLength;
    }

    /** Attention heads. */
    public int heads() {
        return heads;
    }

    /** Key/value heads (grouped-query attention when fewer than {@link #heads()}). */
    public int kvHeads() {
        return kvHeads;
    }

    /** Width of each head. */
    public int headDim() {
        return embeddingLength / heads;
    }

    /** Hidden width of the feed-forward network. */
    public int feedForwardLength() {
        return feedForwardLength;
    }

    /** Trained context length recorded in the metadata. */
    public int contextLength() {
        return contextLength;
    }

    /** Type of all non-norm weights. */
    public GgmlType tensorType() {
        return tensorType;
    }

    /** The chat template, if any. */
    public Optional<String> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /** general.name. */
    public String name() {
        return name;
    }

    /** The vocabulary, indexed by token id. */
    public List<String> tokens() {
        return tokens;
    }

    /** Total number of weights over all tensors. */
    public long parameterCount() {
        long n = 0;
        for (TensorInfo t : writer().tensors()) {
            n += t.elementCount();
        }
        return n;
    }

    /** Size of the file {@link #writeTo(Path)} produces. */
    public long fileSize() {
        return writer().fileSize();
    }

    /** Writes the model atomically to {@code path}. */
    public void writeTo(Path path) throws IOException {
        writer().write(path);
    }

    /** A writer holding this model's metadata and tensor declarations, ready to {@link GgufWriter#write}. */
    public GgufWriter writer() {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.name", name);
        w.putU32("general.file_type", switch (tensorType) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            default -> throw new AssertionError(tensorType);
        });
        w.putU32("llama.context_length", contextLength);
        w.putU32("llama.embedding_length", embeddingLength);
        w.putU32("llama.block_count", layers);
        w.putU32("llama.feed_forward_length", feedForwardLength);
        w.putU32("llama.attention.head_count", heads);
        w.putU32("llama.attention.head_count_kv", kvHeads);
        w.putU32("llama.rope.dimension_count", headDim());
        w.putF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.putU32("llama.vocab_size", vocabSize);
        w.putString("tokenizer.ggml.model", "llama");
        w.putStringArray("tokenizer.ggml.tokens", tokens);
        float[] scores = new float[vocabSize];
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            scores[i] = SyntheticVocabulary.score(i);
            types[i] = SyntheticVocabulary.tokenType(i);
        }
        w.putF32Array("tokenizer.ggml.scores", scores);
        w.putI32Array("tokenizer.ggml.token_type", types);
        w.putU32("tokenizer.ggml.bos_token_id", SyntheticVocabulary.BOS_ID);
        w.putU32("tokenizer.ggml.eos_token_id", SyntheticVocabulary.EOS_ID);
        w.putU32("tokenizer.ggml.unknown_token_id", SyntheticVocabulary.UNKNOWN_ID);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
        if (chatTemplate != null) {
            w.putString("tokenizer.chat_template", chatTemplate);
        }

        long emb = embeddingLength;
        long kvDim = (long) kvHeads * headDim();
        long ffn = feedForwardLength;
        // Residual-path weights stay small; the unembedding is scaled so logits have roughly unit spread
        // after RMS norm, which keeps the output distribution far from uniform without saturating it.
        double hidden = 0.05;
        gaussian(w, "token_embd.weight", emb, vocabSize, 0.1);
        ones(w, "output_norm.weight", emb);
        gaussian(w, "output.weight", emb, vocabSize, 1.0 / Math.sqrt(emb));
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            ones(w, p + "attn_norm.weight", emb);
            gaussian(w, p + "attn_q.weight", emb, emb, hidden);
            gaussian(w, p + "attn_k.weight", emb, kvDim, hidden);
            gaussian(w, p + "attn_v.weight", emb, kvDim, hidden);
            gaussian(w, p + "attn_output.weight", emb, emb, hidden);
            ones(w, p + "ffn_norm.weight", emb);
            gaussian(w, p + "ffn_gate.weight", emb, ffn, hidden);
            gaussian(w, p + "ffn_up.weight", emb, ffn, hidden);
            gaussian(w, p + "ffn_down.weight", ffn, emb, hidden);
        }
        return w;
    }

    private static void ones(GgufWriter w, String tensor, long n) {
        w.tensor(tensor, GgmlType.F32, new long[] {n}, (row, out) -> Arrays.fill(out, 1f));
    }

    private void gaussian(GgufWriter w, String tensor, long ne0, long ne1, double std) {
        long tensorSeed = mix(weightSeed, tensor.hashCode());
        // one generator per row makes each row independent of the order in which rows are requested
        w.tensor(tensor, tensorType, new long[] {ne0, ne1}, (row, out) -> {
            SplittableRandom random = new SplittableRandom(mix(tensorSeed, row));
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (random.nextGaussian() * std);
            }
        });
    }

    /** Combines two values into a well-spread 64-bit seed (SplitMix64 finaliser). */
    static long mix(long a, long b) {
        long z = a * 0x9E3779B97F4A7C15L + b;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return "SyntheticLlama[" + name + ", vocab=" + vocabSize + ", layers=" + layers + ", emb="
                + embeddingLength + ", heads=" + heads + "/" + kvHeads + ", ffn=" + feedForwardLength
                + ", " + tensorType + ", seeds=" + vocabularySeed + "/" + weightSeed + "]";
    }

    /** Collects options; {@link #build()} validates them all. */
    public static final class Builder {
        private int vocabSize = 512;
        private long vocabularySeed;
        private long weightSeed;
        private int layers = 2;
        private int embeddingLength = 64;
        private int heads = 4;
        private int kvHeads;
        private int feedForwardLength;
        private int contextLength = 256;
        private GgmlType tensorType = GgmlType.F32;
        private String chatTemplate;
        private String name = "synthetic-llama";

        private Builder() {
        }

        /** Number of tokens (default 512). */
        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        /** Seed for token text (default 0, the canonical order). */
        public Builder vocabularySeed(long v) {
            vocabularySeed = v;
            return this;
        }

        /** Seed for weights (default 0). */
        public Builder weightSeed(long v) {
            weightSeed = v;
            return this;
        }

        /** Number of blocks (default 2). */
        public Builder layers(int v) {
            layers = v;
            return this;
        }

        /** Model width (default 64). */
        public Builder embeddingLength(int v) {
            embeddingLength = v;
            return this;
        }

        /** Attention heads (default 4). */
        public Builder heads(int v) {
            heads = v;
            return this;
        }

        /** Key/value heads (default: same as heads). */
        public Builder kvHeads(int v) {
            kvHeads = v;
            return this;
        }

        /** Feed-forward width (default 4 x embeddingLength). */
        public Builder feedForwardLength(int v) {
            feedForwardLength = v;
            return this;
        }

        /** Context length (default 256). */
        public Builder contextLength(int v) {
            contextLength = v;
            return this;
        }

        /** Type of non-norm weights: F32 (default), F16, Q8_0 or Q4_0. */
        public Builder tensorType(GgmlType v) {
            tensorType = v;
            return this;
        }

        /** Chat template for tokenizer.chat_template (default none; null removes it). */
        public Builder chatTemplate(String v) {
            chatTemplate = v;
            return this;
        }

        /** general.name (default "synthetic-llama"). */
        public Builder name(String v) {
            name = v;
            return this;
        }

        /**
         * Validates the options and builds the spec.
         *
         * @throws IllegalArgumentException naming the first invalid option
         */
        public SyntheticLlama build() {
            List<String> errors = new ArrayList<>();
            if (vocabSize < MIN_VOCAB_SIZE || vocabSize > MAX_VOCAB_SIZE) {
                errors.add("vocabSize must be in " + MIN_VOCAB_SIZE + ".." + MAX_VOCAB_SIZE + ", got " + vocabSize);
            }
            if (layers < 1 || layers > 1024) {
                errors.add("layers must be in 1..1024, got " + layers);
            }
            if (heads < 1) {
                errors.add("heads must be positive, got " + heads);
            }
            if (embeddingLength < 2 || embeddingLength > 65536) {
                errors.add("embeddingLength must be in 2..65536, got " + embeddingLength);
            } else if (heads >= 1 && (embeddingLength % heads != 0 || (embeddingLength / heads) % 2 != 0)) {
                errors.add("embeddingLength (" + embeddingLength + ") must be divisible by heads (" + heads
                        + ") with an even head size, as rotary embeddings need");
            }
            int kv = kvHeads == 0 ? heads : kvHeads;
            if (kv < 1 || (heads >= 1 && (kv > heads || heads % kv != 0))) {
                errors.add("kvHeads must divide heads (" + heads + "), got " + kvHeads);
            }
            int ffn = feedForwardLength == 0 ? 4 * embeddingLength : feedForwardLength;
            if (ffn < 1 || ffn > 1 << 20) {
                errors.add("feedForwardLength must be in 1.." + (1 << 20) + ", got " + ffn);
            }
            if (contextLength < 1) {
                errors.add("contextLength must be positive, got " + contextLength);
            }
            if (tensorType == null || !GgmlQuant.supports(tensorType)) {
                errors.add("tensorType must be one of " + GgmlQuant.SUPPORTED + ", got " + tensorType);
            } else if (tensorType.isQuantized()) {
                int block = tensorType.blockSize();
                if (embeddingLength % block != 0) {
                    errors.add("embeddingLength must be a multiple of " + block + " for tensorType "
                            + tensorType + ", got " + embeddingLength);
                }
                if (ffn % block != 0) {
                    errors.add("feedForwardLength must be a multiple of " + block + " for tensorType "
                            + tensorType + ", got " + ffn);
                }
            }
            if (name == null || name.isBlank()) {
                errors.add("name must not be blank");
            }
            if (!errors.isEmpty()) {
                throw new IllegalArgumentException("invalid SyntheticLlama options: " + String.join("; ", errors));
            }
            return new SyntheticLlama(this, kv, ffn);
        }
    }
}
