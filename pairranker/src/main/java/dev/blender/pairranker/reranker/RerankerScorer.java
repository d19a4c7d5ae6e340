package dev.blender.pairranker.reranker;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.PoolingType;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.SequenceDecoder;
import dev.blender.nativebridge.generation.SequenceDecoder.LogitsFor;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.pairranker.CandidateScorer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * A pointwise cross-encoder: a reranker GGUF run by llama.cpp with rank pooling scores each candidate
 * against the instruction, higher meaning more relevant. The scores are the classification head's raw
 * logits, not probabilities.
 *
 * <p>Each candidate becomes one sequence laid out as llama.cpp b4916's server lays out a rerank
 * document ({@code format_rerank}): {@code [BOS] query [EOS] [SEP] document [EOS]}, with the model's own
 * special ids. All candidates of a call are decoded together, one sequence each, in as few decodes as
 * the context's {@link LlamaContext#maxSequences() maxSequences} and batch sizes allow.
 *
 * <p><b>Not thread-safe:</b> it drives one context, whose sequences and pooled outputs a concurrent call
 * would overwrite. Use one scorer (and context) per thread.
 *
 * <p>Check the model first and create the context second: with rank pooling llama.cpp builds the
 * classification head into the compute graph when the context is created and aborts the process if
 * the model has none, so {@link #checkSupported(LlamaModel)} must pass before
 * {@code model.newContext(ContextOptions.defaults().withEmbeddings(true, PoolingType.RANK))}.
 */
public final class RerankerScorer implements CandidateScorer {
    static final String SEPARATOR_KEY = "tokenizer.ggml.seperator_token_id";
    static final String TOKENIZER_KEY = "tokenizer.ggml.model";

    private static final String HOW_TO_CREATE = "create it with model.newContext(ContextOptions.defaults()"
            + ".withEmbeddings(true, PoolingType.RANK)) after RerankerScorer.checkSupported(model)";

    private final LlamaContext ctx;
    private final Vocab vocab;
    private final String id;
    private final int bos;
    private final int eos;
    private final int sep;
    /** Most tokens one decode may carry so that it stays a single micro-batch. */
    private final int roundTokens;
    private final int maxSequenceTokens;

    /**
     * A scorer over a context created with embeddings on and {@link PoolingType#RANK}.
     *
     * @throws IllegalArgumentException the model cannot do rank pooling at b4916, lacks BOS, EOS or SEP, or
     *                                  the context was not created for rank pooling
     */
    public RerankerScorer(LlamaContext ctx) {
        this.ctx = Objects.requireNonNull(ctx, "ctx");
        LlamaModel model = ctx.model();
        checkSupported(model);
        if (!ctx.options().embeddings() || ctx.pooling() != PoolingType.RANK) {
            throw new IllegalArgumentException("context of " + model.path().getFileName()
                    + " computes " + (ctx.options().embeddings() ? "embeddings with pooling " + ctx.pooling()
                    : "logits") + ", a reranker needs embeddings with PoolingType.RANK: " + HOW_TO_CREATE);
        }
        this.vocab = model.vocab();
        this.id = "reranker(" + model.path().getFileName() + ")";
        this.bos = vocab.bos();
        this.eos = vocab.eos();
        this.sep = separator(model.gguf(), vocab.size());
        // With pooling, b4916 splits a decode into micro-batches of whole tokens, not whole sequences: a
        // sequence cut in two would attend only to its own half (BERT keeps no KV cache), and its
        // classification row is indexed by sequence id, which must stay below the micro-batch's token
        // count. One micro-batch per decode avoids both.
        this.roundTokens = Math.min(Math.min(ctx.batchSize(), ctx.options().microBatchSize()), ctx.contextSize());
        // positions index a learned position table of trainingContextLength rows
        this.maxSequenceTokens = Math.min(roundTokens, model.trainingContextLength());
    }

    /**
     * Checks, in Java and before any native rank pooling, that llama.cpp b4916 can score with this
     * model: its architecture must be one b4916 loads a classification head for, the head must be in the
     * file, and the vocabulary must have the BOS, EOS and SEP tokens the rerank layout needs.
     *
     * @throws IllegalArgumentException naming the file, its architecture and what is missing
     */
    public static void checkSupported(LlamaModel model) {
        Objects.requireNonNull(model, "model");
        checkSupported(model.gguf());
        Vocab v = model.vocab();
        String what = model.path().getFileName() + " (architecture " + model.gguf().architecture().orElse("?")
                + ")";
        checkSpecial(what, "BOS", v.bos(), v.size());
        checkSpecial(what, "EOS", v.eos(), v.size());
        checkSpecial(what, "SEP", separator(model.gguf(), v.size()), v.size());
    }

    /**
     * The part of {@link #checkSupported(LlamaModel)} that needs only the GGUF header, so a file can be
     * vetted before it is loaded.
     *
     * <p>At b4916 rank pooling ({@code build_pooling}) asserts the {@code cls} dense layer and its bias,
     * and uses {@code cls.output} when loaded. Only {@code bert} (cls: n_embd x n_embd, optional
     * cls.output: n_embd x 1) and {@code jina-bert-v2} (cls: n_embd x 1, no cls.output) load them; every
     * other architecture, {@code nomic-bert} included, leaves them null and the process aborts. For
     * {@code bert}, cls.output is required here although llama.cpp would run without it: b4916 then reads
     * the score as element {@code seq_id} of an n_embd-wide pooler output, which is not a score.
     *
     * @throws IllegalArgumentException naming the file, its architecture and what is missing
     */
    public static void checkSupported(GgufFile gguf) {
        Objects.requireNonNull(gguf, "gguf");
        String arch = gguf.architecture().orElse("(none)");
        List<String> required = switch (arch) {
            case "bert" -> List.of("cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias");
            case "jina-bert-v2" -> List.of("cls.weight", "cls.bias");
            default -> null;
        };
        String file = String.valueOf(gguf.path().getFileName());
        if (required == null) {
            throw new IllegalArgumentException(file + ": b4916 cannot do rank pooling for architecture " + arch
                    + ": no classification head cls.output.weight (llama.cpp b4916 loads one only for"
                    + " architectures bert and jina-bert-v2; a reranker GGUF is usually one of those)");
        }
        List<String> missing = new ArrayList<>();
        for (String t : required) {
            if (gguf.tensor(t).isEmpty()) {
                missing.add(t);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(file + ": b4916 cannot do rank pooling for architecture " + arch
                    + ": no classification head " + String.join(", ", missing)
                    + " (an embedding model, not a reranker?)");
        }
    }

    private static void checkSpecial(String what, String name, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException(what + ": the vocabulary has no " + name + " token ("
                    + (id < 0 ? "id -1" : "id " + id + " outside 0.." + (vocabSize - 1))
                    + "), which the rerank layout [BOS] query [EOS] [SEP] document [EOS] needs");
        }
    }

    /**
     * {@code llama_vocab_sep} as b4916 computes it, which the bridge does not expose: the GGUF's id when
     * it lies inside the vocabulary, else the tokenizer's built-in default (102 for WordPiece, none for
     * the others); -1 when there is none.
     */
    static int separator(GgufFile gguf, int vocabSize) {
        OptionalLong declared = gguf.integer(SEPARATOR_KEY);
        if (declared.isPresent() && declared.getAsLong() >= 0 && declared.getAsLong() < vocabSize) {
            return (int) declared.getAsLong();
        }
        int fallback = "bert".equals(gguf.string(TOKENIZER_KEY).orElse("")) ? 102 : -1;
        return fallback < vocabSize ? fallback : -1;
    }

    @Override
    public String id() {
        return id;
    }

    /** The tokens scored for one candidate: {@code [BOS] query [EOS] [SEP] document [EOS]}. */
    public int[] tokens(String query, String document) {
        // parseSpecial off: candidate text is model output, and a "[SEP]" inside it must stay text
        int[] q = vocab.tokenize(query, false, false);
        int[] d = vocab.tokenize(document, false, false);
        int[] out = new int[q.length + d.length + 4];
        int n = 0;
        out[n++] = bos;
        System.arraycopy(q, 0, out, n, q.length);
        n += q.length;
        out[n++] = eos;
        out[n++] = sep;
        System.arraycopy(d, 0, out, n, d.length);
        n += d.length;
        out[n] = eos;
        return out;
    }

    /**
     * One relevance score per candidate for the instruction as the query.
     *
     * @throws IllegalArgumentException a candidate's tokens do not fit one micro-batch of the context or
     *                                  the model's trained context length
     */
    @Override
    public double[] score(String instruction, List<String> candidates) {
        Objects.requireNonNull(instruction, "instruction");
        Objects.requireNonNull(candidates, "candidates");
        int n = candidates.size();
        double[] scores = new double[n];
        if (n == 0) {
            return scores;
        }
        int[][] seqs = new int[n][];
        for (int i = 0; i < n; i++) {
            seqs[i] = tokens(instruction, Objects.requireNonNull(candidates.get(i), "candidate " + i));
            if (seqs[i].length > maxSequenceTokens) {
                throw new IllegalArgumentException("candidate " + i + " with the instruction is " + seqs[i].length
                        + " tokens, more than the " + maxSequenceTokens + " one sequence may have here (context "
                        + "batchSize " + ctx.batchSize() + ", microBatchSize " + ctx.options().microBatchSize()
                        + ", contextSize " + ctx.contextSize() + ", trained context "
                        + ctx.model().trainingContextLength() + "); shorten it or use a larger context");
            }
        }
        try (SequenceDecoder decoder = new SequenceDecoder(ctx)) {
            int next = 0;
            while (next < n) {
                int first = next;
                int tokens = 0;
                while (next < n && next - first < ctx.maxSequences() && tokens + seqs[next].length <= roundTokens) {
                    tokens += seqs[next].length;
                    next++;
                }
                int[] ids = new int[next - first];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = i;
                }
                // BERT keeps no cache at b4916, but a model that did would see earlier rounds' cells
                decoder.reset();
                decoder.append(ids, Arrays.copyOfRange(seqs, first, next), LogitsFor.ALL);
                for (int i = first; i < next; i++) {
                    scores[i] = decoder.sequenceEmbedding(i - first)[0];
                }
            }
        }
        return scores;
    }

    @Override
    public String toString() {
        return id;
    }
}
