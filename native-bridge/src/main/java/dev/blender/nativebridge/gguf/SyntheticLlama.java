package dev.blender.nativebridge.gguf;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * An immutable specification of a tiny decoder-only model with random weights, written as GGUF.
 * The file is a pure function of the options: the same spec always yields byte-identical output, and
 * weights are generated row by row while writing, so large specs never sit in memory.
 *
 * <p>Use {@link #builder()}; every option has a default. The defaults (llama architecture, SentencePiece
 * vocabulary) write the same bytes as before the other architectures and vocabularies existed, so files
 * and hashes recorded from earlier specs stay valid.
 */
public final class SyntheticLlama {
    /** Smallest vocabulary: 3 control, 256 byte tokens and a handful of ordinary pieces (either kind). */
    public static final int MIN_VOCAB_SIZE = SyntheticVocabulary.FIRST_NORMAL_ID + 5;
    /** Largest vocabulary the piece generator is sized for. */
    public static final int MAX_VOCAB_SIZE = 1 << 18;

    /** The model family: which tensors exist and which metadata prefix llama.cpp reads. */
    public enum Architecture {
        /** Llama: the family every llama.cpp build knows. */
        LLAMA("llama"),
        /**
         * Qwen3: llama's layout plus a per-head RMS norm on queries and keys ({@code attn_q_norm},
         * {@code attn_k_norm}). Newer than llama.cpp b4916, which refuses to load it.
         */
        QWEN3("qwen3"),
        /**
         * T5 (v1.1 / Flan-T5 layout): an encoder and a decoder of {@code layers} blocks each, the decoder
         * with cross attention over the encoder's output, relative position buckets instead of rotary
         * embeddings (one bias table per stack, in block 0, as the released checkpoints have), gated-GELU
         * feed-forward. The prompt goes through {@code llama_encode}; generation decodes from
         * {@code t5.decoder_start_token_id}. With the SentencePiece vocabulary, prompts end with EOS and get no
         * BOS, as T5's tokenizer does.
         */
        T5("t5");

        private final String ggufName;

        Architecture(String ggufName) {
            this.ggufName = ggufName;
        }

        /** The value of general.architecture, which is also the prefix of the hyperparameter keys. */
        public String ggufName() {
            return ggufName;
        }
    }

    /** The tokenizer family of the generated vocabulary. */
    public enum VocabularyKind {
        /**
         * SentencePiece as llama and Mistral use it: {@code <unk> <s> </s>}, byte-fallback tokens
         * {@code <0x00>..<0xFF>}, {@code ▁} for space, BOS added to every prompt.
         */
        SENTENCE_PIECE,
        /**
         * GPT-2 style byte-level BPE as Qwen uses it: 256 byte tokens renamed to printable characters
         * ({@code Ġ} is space, {@code Ċ} newline), merges, and {@code <|endoftext|>}, {@code <|im_start|>},
         * {@code <|im_end|>} as the last ids; no BOS is added.
         */
        BYTE_LEVEL_BPE,
        /**
         * A real vocabulary copied from another GGUF file ({@link Builder#vocabularyFrom}): every
         * {@code tokenizer.*} key as it is there, so llama.cpp tokenises exactly as for the released model.
         */
        COPIED
    }

    /** T5's number of relative position buckets (every released T5 uses 32). */
    static final int T5_RELATIVE_BUCKETS = 32;
    /** What {@link Builder#decoderStartToken} takes to write no decoder start token. */
    public static final int NO_DECODER_START_TOKEN = -1;

    /** T5's padding token, which is also its decoder start token: {@code <unk>} of the generated vocabulary. */
    public static final int T5_PADDING_ID = SyntheticVocabulary.UNKNOWN_ID;

    /** Prefix of the metadata keys that make up a vocabulary. */
    static final String TOKENIZER_PREFIX = "tokenizer.";
    static final String CHAT_TEMPLATE_KEY = "tokenizer.chat_template";

    /** Qwen3's RoPE base, larger than llama's default 10000, as in the released models. */
    static final float QWEN3_ROPE_FREQ_BASE = 1_000_000f;

    private final Architecture architecture;
    private final VocabularyKind vocabulary;
    private final int vocabSize;
    private final long vocabularySeed;
    private final long weightSeed;
    private final int layers;
    private final int embeddingLength;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int feedForwardLength;
    private final int contextLength;
    private final GgmlType tensorType;
    private final String chatTemplate;
    private final String name;
    private final int decoderStartToken;
    private final List<String> tokens;
    private final List<String> merges;
    /** The copied vocabulary's keys, chat template excluded; null for generated vocabularies. */
    private final Map<String, GgufValue> copiedTokenizer;
    private long fileSize = -1;

    private SyntheticLlama(Builder b, int vocabSize, int kvHeads, int headDim, int ffn, String name) {
        this.architecture = b.architecture;
        this.vocabulary = b.vocabulary;
        this.vocabSize = vocabSize;
        this.vocabularySeed = b.vocabularySeed;
        this.weightSeed = b.weightSeed;
        this.layers = b.layers;
        this.embeddingLength = b.embeddingLength;
        this.heads = b.heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.feedForwardLength = ffn;
        this.contextLength = b.contextLength;
        this.tensorType = b.tensorType;
        this.name = name;
        this.decoderStartToken = b.decoderStartToken;
        if (vocabulary == VocabularyKind.COPIED) {
            GgufFile source = b.vocabularySource;
            Map<String, GgufValue> keys = new LinkedHashMap<>();
            source.metadata().forEach((k, v) -> {
                if (k.startsWith(TOKENIZER_PREFIX) && !k.equals(CHAT_TEMPLATE_KEY)) {
                    keys.put(k, v);
                }
            });
            this.copiedTokenizer = java.util.Collections.unmodifiableMap(keys);
            this.tokens = source.stringArray("tokenizer.ggml.tokens");
            this.merges = source.stringArray("tokenizer.ggml.merges");
            this.chatTemplate = b.chatTemplateSet ? b.chatTemplate : source.string(CHAT_TEMPLATE_KEY).orElse(null);
            return;
        }
        this.copiedTokenizer = null;
        this.chatTemplate = b.chatTemplate;
        if (vocabulary == VocabularyKind.BYTE_LEVEL_BPE) {
            SyntheticBpeVocabulary.Tokens bpe = SyntheticBpeVocabulary.tokens(vocabSize, vocabularySeed);
            this.tokens = bpe.tokens();
            this.merges = bpe.merges();
        } else {
            this.tokens = List.copyOf(SyntheticVocabulary.tokens(vocabSize, vocabularySeed));
            this.merges = List.of();
        }
    }

    /** This spec with other weights and name, sharing the generated vocabulary (which takes seconds at 152k tokens). */
    private SyntheticLlama(SyntheticLlama o, long weightSeed, String name) {
        this.architecture = o.architecture;
        this.vocabulary = o.vocabulary;
        this.vocabSize = o.vocabSize;
        this.vocabularySeed = o.vocabularySeed;
        this.weightSeed = weightSeed;
        this.layers = o.layers;
        this.embeddingLength = o.embeddingLength;
        this.heads = o.heads;
        this.kvHeads = o.kvHeads;
        this.headDim = o.headDim;
        this.feedForwardLength = o.feedForwardLength;
        this.contextLength = o.contextLength;
        this.tensorType = o.tensorType;
        this.chatTemplate = o.chatTemplate;
        this.name = name;
        this.decoderStartToken = o.decoderStartToken;
        this.tokens = o.tokens;
        this.merges = o.merges;
        this.copiedTokenizer = o.copiedTokenizer;
    }

    /**
     * The same spec with another weight seed and name: what {@link Builder#weightSeed} and {@link Builder#name}
     * would build, without generating the vocabulary again. A family of models of one shape and vocabulary
     * is made this way.
     *
     * @throws IllegalArgumentException a blank name
     */
    public SyntheticLlama withWeights(long weightSeed, String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("invalid SyntheticLlama options: name must not be blank");
        }
        return new SyntheticLlama(this, weightSeed, name);
    }

    /** A builder with all defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** The model family. */
    public Architecture architecture() {
        return architecture;
    }

    /** The tokenizer family. */
    public VocabularyKind vocabulary() {
        return vocabulary;
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

    /** Width of each attention head (query, key and value alike). */
    public int headDim() {
        return headDim;
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

    /**
     * T5 only: the token id written as {@code t5.decoder_start_token_id}, or {@link #NO_DECODER_START_TOKEN}
     * when the key is left out.
     */
    public int decoderStartToken() {
        return decoderStartToken;
    }

    /** general.name. */
    public String name() {
        return name;
    }

    /** The vocabulary, indexed by token id. */
    public List<String> tokens() {
        return tokens;
    }

    /** The BPE merges ("left right"), highest priority first; empty for SentencePiece. */
    public List<String> merges() {
        return merges;
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
        if (fileSize < 0) { // the metadata of a large vocabulary is worth laying out once
            fileSize = writer().fileSize();
        }
        return fileSize;
    }

    /** Writes the model atomically to {@code path}. */
    public void writeTo(Path path) throws IOException {
        writer().write(path);
    }

    /** A writer holding this model's metadata and tensor declarations, ready to {@link GgufWriter#write}. */
    public GgufWriter writer() {
        GgufWriter w = new GgufWriter();
        String arch = architecture.ggufName();
        w.putString("general.architecture", arch);
        w.putString("general.name", name);
        w.putU32("general.file_type", switch (tensorType) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            default -> throw new AssertionError(tensorType);
        });
        w.putU32(arch + ".context_length", contextLength);
        w.putU32(arch + ".embedding_length", embeddingLength);
        w.putU32(arch + ".block_count", layers);
        w.putU32(arch + ".feed_forward_length", feedForwardLength);
        w.putU32(arch + ".attention.head_count", heads);
        if (architecture != Architecture.T5) {
            // T5's converter writes no KV head count: its attention is never grouped
            w.putU32(arch + ".attention.head_count_kv", kvHeads);
        }
        switch (architecture) {
            case LLAMA -> {
                w.putU32("llama.rope.dimension_count", headDim);
                // llama.cpp assumes embedding_length / head_count; the keys are written only when that is
                // wrong, so specs without a custom headDim keep their original bytes
                if (headDim != embeddingLength / heads) {
                    w.putU32("llama.attention.key_length", headDim);
                    w.putU32("llama.attention.value_length", headDim);
                }
                w.putF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
                w.putU32("llama.vocab_size", vocabSize);
            }
            case QWEN3 -> {
                // as Qwen3's converter writes them: the head size explicit, no rope.dimension_count, so
                // llama.cpp rotates the whole head as its Qwen3 graph requires
                w.putU32("qwen3.attention.key_length", headDim);
                w.putU32("qwen3.attention.value_length", headDim);
                w.putF32("qwen3.rope.freq_base", QWEN3_ROPE_FREQ_BASE);
                w.putF32("qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
            }
            case T5 -> {
                // T5's head size is its own hyperparameter (d_kv), not width / heads
                w.putU32("t5.attention.key_length", headDim);
                w.putU32("t5.attention.value_length", headDim);
                // llama.cpp reads the RMS key; T5's converter writes the plain one too, with the same value
                w.putF32("t5.attention.layer_norm_epsilon", 1e-6f);
                w.putF32("t5.attention.layer_norm_rms_epsilon", 1e-6f);
                w.putU32("t5.attention.relative_buckets_count", T5_RELATIVE_BUCKETS);
                if (decoderStartToken != NO_DECODER_START_TOKEN) {
                    w.putU32("t5.decoder_start_token_id", decoderStartToken);
                }
            }
        }
        switch (vocabulary) {
            case SENTENCE_PIECE -> putSentencePiece(w);
            case BYTE_LEVEL_BPE -> putByteLevelBpe(w);
            case COPIED -> copiedTokenizer.forEach(w::put);
        }
        if (chatTemplate != null) {
            w.putString("tokenizer.chat_template", chatTemplate);
        }

        long emb = embeddingLength;
        long qDim = (long) heads * headDim;
        long kvDim = (long) kvHeads * headDim;
        long ffn = feedForwardLength;
        // Residual-path weights stay small; the unembedding is scaled so logits have roughly unit spread
        // after RMS norm, which keeps the output distribution far from uniform without saturating it.
        double hidden = 0.05;
        if (architecture == Architecture.T5) {
            putT5Tensors(w, hidden);
            return w;
        }
        gaussian(w, "token_embd.weight", emb, vocabSize, 0.1);
        ones(w, "output_norm.weight", emb);
        gaussian(w, "output.weight", emb, vocabSize, 1.0 / Math.sqrt(emb));
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            ones(w, p + "attn_norm.weight", emb);
            gaussian(w, p + "attn_q.weight", emb, qDim, hidden);
            gaussian(w, p + "attn_k.weight", emb, kvDim, hidden);
            gaussian(w, p + "attn_v.weight", emb, kvDim, hidden);
            gaussian(w, p + "attn_output.weight", qDim, emb, hidden);
            if (architecture == Architecture.QWEN3) {
                ones(w, p + "attn_q_norm.weight", headDim);
                ones(w, p + "attn_k_norm.weight", headDim);
            }
            ones(w, p + "ffn_norm.weight", emb);
            gaussian(w, p + "ffn_gate.weight", emb, ffn, hidden);
            gaussian(w, p + "ffn_up.weight", emb, ffn, hidden);
            gaussian(w, p + "ffn_down.weight", ffn, emb, hidden);
        }
        return w;
    }

    /**
     * The tensors llama.cpp's t5 loader asks for (b4916 and v0.5.0 alike): shared embedding, an untied output
     * as Flan-T5 has, one encoder and one decoder stack of equal depth (b4916 knows no separate decoder depth).
     */
    private void putT5Tensors(GgufWriter w, double hidden) {
        long emb = embeddingLength;
        long qDim = (long) heads * headDim;
        long ffn = feedForwardLength;
        gaussian(w, "token_embd.weight", emb, vocabSize, 0.1);
        ones(w, "enc.output_norm.weight", emb);
        ones(w, "dec.output_norm.weight", emb);
        gaussian(w, "output.weight", emb, vocabSize, 1.0 / Math.sqrt(emb));
        for (String stack : new String[] {"enc", "dec"}) {
            for (int i = 0; i < layers; i++) {
                String p = stack + ".blk." + i + ".";
                ones(w, p + "attn_norm.weight", emb);
                if (i == 0) {
                    // F32 whatever the tensor type: its rows are heads long, shorter than a quantisation block
                    gaussianF32(w, p + "attn_rel_b.weight", heads, T5_RELATIVE_BUCKETS, 0.5);
                }
                gaussian(w, p + "attn_q.weight", emb, qDim, hidden);
                gaussian(w, p + "attn_k.weight", emb, qDim, hidden);
                gaussian(w, p + "attn_v.weight", emb, qDim, hidden);
                gaussian(w, p + "attn_o.weight", qDim, emb, hidden);
                if (stack.equals("dec")) {
                    ones(w, p + "cross_attn_norm.weight", emb);
                    gaussian(w, p + "cross_attn_q.weight", emb, qDim, hidden);
                    gaussian(w, p + "cross_attn_k.weight", emb, qDim, hidden);
                    gaussian(w, p + "cross_attn_v.weight", emb, qDim, hidden);
                    gaussian(w, p + "cross_attn_o.weight", qDim, emb, hidden);
                }
                ones(w, p + "ffn_norm.weight", emb);
                gaussian(w, p + "ffn_gate.weight", emb, ffn, hidden);
                gaussian(w, p + "ffn_up.weight", emb, ffn, hidden);
                gaussian(w, p + "ffn_down.weight", ffn, emb, hidden);
            }
        }
    }

    private void putSentencePiece(GgufWriter w) {
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
        if (architecture == Architecture.T5) {
            // T5's tokenizer: no BOS, EOS closes every input; padding (here shared with <unk>) starts the decoder
            w.putU32("tokenizer.ggml.padding_token_id", T5_PADDING_ID);
            w.putBool("tokenizer.ggml.add_bos_token", false);
            w.putBool("tokenizer.ggml.add_eos_token", true);
        } else {
            w.putBool("tokenizer.ggml.add_bos_token", true);
            w.putBool("tokenizer.ggml.add_eos_token", false);
        }
    }

    private void putByteLevelBpe(GgufWriter w) {
        w.putString("tokenizer.ggml.model", SyntheticBpeVocabulary.MODEL);
        w.putString("tokenizer.ggml.pre", SyntheticBpeVocabulary.PRE);
        w.putStringArray("tokenizer.ggml.tokens", tokens);
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            types[i] = SyntheticBpeVocabulary.tokenType(i, vocabSize);
        }
        w.putI32Array("tokenizer.ggml.token_type", types);
        w.putStringArray("tokenizer.ggml.merges", merges);
        // Qwen's choice: <|endoftext|> begins and pads, <|im_end|> ends a turn, and prompts get no BOS;
        // BPE has no unknown token because every byte is one
        int endOfText = SyntheticBpeVocabulary.specialId(vocabSize, SyntheticBpeVocabulary.END_OF_TEXT);
        w.putU32("tokenizer.ggml.bos_token_id", endOfText);
        w.putU32("tokenizer.ggml.eos_token_id", SyntheticBpeVocabulary.specialId(vocabSize,
                SyntheticBpeVocabulary.IM_END));
        w.putU32("tokenizer.ggml.padding_token_id", endOfText);
        w.putBool("tokenizer.ggml.add_bos_token", false);
        w.putBool("tokenizer.ggml.add_eos_token", false);
    }

    private static void ones(GgufWriter w, String tensor, long n) {
        w.tensor(tensor, GgmlType.F32, new long[] {n}, (row, out) -> Arrays.fill(out, 1f));
    }

    private void gaussian(GgufWriter w, String tensor, long ne0, long ne1, double std) {
        gaussian(w, tensor, tensorType, ne0, ne1, std);
    }

    private void gaussianF32(GgufWriter w, String tensor, long ne0, long ne1, double std) {
        gaussian(w, tensor, GgmlType.F32, ne0, ne1, std);
    }

    private void gaussian(GgufWriter w, String tensor, GgmlType type, long ne0, long ne1, double std) {
        long tensorSeed = mix(weightSeed, tensor.hashCode());
        // one generator per row makes each row independent of the order in which rows are requested
        w.tensor(tensor, type, new long[] {ne0, ne1}, (row, out) -> {
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
        return "SyntheticLlama[" + name + ", " + architecture.ggufName() + ", " + vocabulary + ", vocab="
                + vocabSize + ", layers=" + layers + ", emb=" + embeddingLength + ", heads=" + heads + "/"
                + kvHeads + "x" + headDim + ", ffn=" + feedForwardLength
                + ", " + tensorType + ", seeds=" + vocabularySeed + "/" + weightSeed + "]";
    }

    /** Collects options; {@link #build()} validates them all. */
    public static final class Builder {
        private Architecture architecture = Architecture.LLAMA;
        private VocabularyKind vocabulary = VocabularyKind.SENTENCE_PIECE;
        private int vocabSize = 512;
        private long vocabularySeed;
        private long weightSeed;
        private int layers = 2;
        private int embeddingLength = 64;
        private int heads = 4;
        private int kvHeads;
        private int headDim;
        private int feedForwardLength;
        private int contextLength = 256;
        private GgmlType tensorType = GgmlType.F32;
        private String chatTemplate;
        private boolean chatTemplateSet;
        private GgufFile vocabularySource;
        private boolean vocabSizeSet;
        private String name;
        private boolean nameSet;
        private int decoderStartToken = T5_PADDING_ID;

        private Builder() {
        }

        /** Model family (default {@link Architecture#LLAMA}). */
        public Builder architecture(Architecture v) {
            architecture = v;
            return this;
        }

        /**
         * Tokenizer family (default {@link VocabularyKind#SENTENCE_PIECE}); either goes with either architecture.
         * {@link VocabularyKind#COPIED} is chosen by {@link #vocabularyFrom}; choosing another kind forgets the file.
         */
        public Builder vocabulary(VocabularyKind v) {
            vocabulary = v;
            if (v != VocabularyKind.COPIED) {
                vocabularySource = null;
            }
            return this;
        }

        /**
         * A real vocabulary: every {@code tokenizer.*} key of {@code file} (a released model or one of llama.cpp's
         * vocabulary-only files) is copied as it is (tokens, types, scores, merges, pre-tokenizer, special ids,
         * BOS/EOS flags), and the embedding and output are sized to its tokens. The file's chat template comes too
         * unless {@link #chatTemplate} says otherwise. The file's other keys (its real hyperparameters) are not
         * read: the shape is this builder's. Whether a llama.cpp build knows the tokenizer is for it to say at load.
         */
        public Builder vocabularyFrom(GgufFile file) {
            vocabularySource = java.util.Objects.requireNonNull(file, "file");
            vocabulary = VocabularyKind.COPIED;
            return this;
        }

        /** Number of tokens (default 512; a copied vocabulary has its own, which this may only repeat). */
        public Builder vocabSize(int v) {
            vocabSize = v;
            vocabSizeSet = true;
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

        /**
         * Width of each attention head (default embeddingLength / heads). Qwen3 decouples it from the
         * model width (0.6B: width 1024, 16 heads of 128), so this reproduces such shapes; it must be even.
         */
        public Builder headDim(int v) {
            headDim = v;
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

        /**
         * Chat template for tokenizer.chat_template (default none, or a copied vocabulary's own; null removes it,
         * a copied one included).
         */
        public Builder chatTemplate(String v) {
            chatTemplate = v;
            chatTemplateSet = true;
            return this;
        }

        /**
         * T5 only: {@code t5.decoder_start_token_id} (default {@link #T5_PADDING_ID}, as T5 starts from its
         * padding token); {@link #NO_DECODER_START_TOKEN} leaves the key out, so readers fall back to BOS.
         */
        public Builder decoderStartToken(int v) {
            decoderStartToken = v;
            return this;
        }

        /** general.name (default "synthetic-" and the architecture's name, e.g. "synthetic-llama"). */
        public Builder name(String v) {
            name = v;
            nameSet = true;
            return this;
        }

        /**
         * Validates the options and builds the spec.
         *
         * @throws IllegalArgumentException naming the first invalid option
         */
        public SyntheticLlama build() {
            List<String> errors = new ArrayList<>();
            if (architecture == null) {
                errors.add("architecture must be one of " + Arrays.toString(Architecture.values()));
            }
            if (vocabulary == null) {
                errors.add("vocabulary must be one of " + Arrays.toString(VocabularyKind.values()));
            }
            int size = vocabSize;
            if (vocabulary == VocabularyKind.COPIED) {
                size = copiedVocabularySize(errors);
            } else if (vocabSize < MIN_VOCAB_SIZE || vocabSize > MAX_VOCAB_SIZE) {
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
            } else if (headDim == 0 && heads >= 1
                    && (embeddingLength % heads != 0 || (embeddingLength / heads) % 2 != 0)) {
                errors.add("embeddingLength (" + embeddingLength + ") must be divisible by heads (" + heads
                        + ") with an even head size, as rotary embeddings need");
            }
            int head = headDim == 0 && heads >= 1 ? embeddingLength / heads : headDim;
            if (headDim != 0 && (headDim < 2 || headDim > 1024 || headDim % 2 != 0)) {
                errors.add("headDim must be even and in 2..1024, as rotary embeddings need, got " + headDim);
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
                // attn_output's rows span all heads; with the default head size that is embeddingLength
                if (headDim != 0 && heads >= 1 && ((long) heads * headDim) % block != 0) {
                    errors.add("headDim x heads must be a multiple of " + block + " for tensorType " + tensorType
                            + ", got " + headDim + " x " + heads);
                }
            }
            if (decoderStartToken != NO_DECODER_START_TOKEN
                    && (decoderStartToken < 0 || decoderStartToken >= vocabSize)) {
                errors.add("decoderStartToken must be a token id in 0.." + (vocabSize - 1) + " or "
                        + NO_DECODER_START_TOKEN + " for none, got " + decoderStartToken);
            }
            String n = nameSet ? name
                    : "synthetic-" + (architecture == null ? "model" : architecture.ggufName());
            if (n == null || n.isBlank()) {
                errors.add("name must not be blank");
            }
            if (!errors.isEmpty()) {
                throw new IllegalArgumentException("invalid SyntheticLlama options: " + String.join("; ", errors));
            }
            return new SyntheticLlama(this, size, kv, head, ffn, n);
        }

        /** The copied vocabulary's size, its faults added to {@code errors}. */
        private int copiedVocabularySize(List<String> errors) {
            if (vocabularySource == null) {
                errors.add("vocabulary COPIED needs the file to copy it from: use vocabularyFrom(file)");
                return vocabSize;
            }
            GgufFile f = vocabularySource;
            int n = f.value("tokenizer.ggml.tokens").map(v -> v instanceof GgufValue.Array a
                    && a.elementType() == GgufValueType.STRING ? a.elements().size() : -1).orElse(-1);
            if (f.string("tokenizer.ggml.model").isEmpty() || n <= 0) {
                errors.add("vocabularyFrom(" + f.path().getFileName() + "): no vocabulary there"
                        + " (tokenizer.ggml.model and a non-empty tokenizer.ggml.tokens are required)");
                return vocabSize;
            }
            for (String parallel : List.of("tokenizer.ggml.token_type", "tokenizer.ggml.scores")) {
                if (f.value(parallel).orElse(null) instanceof GgufValue.Array a && a.elements().size() != n) {
                    errors.add("vocabularyFrom(" + f.path().getFileName() + "): " + parallel + " has "
                            + a.elements().size() + " entries for " + n + " tokens");
                }
            }
            if (vocabSizeSet && vocabSize != n) {
                errors.add("vocabSize " + vocabSize + " contradicts the copied vocabulary's " + n + " tokens");
            }
            return n;
        }
    }
}
