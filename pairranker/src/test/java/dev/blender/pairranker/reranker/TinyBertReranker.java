package dev.blender.pairranker.reranker;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes a tiny BERT cross-encoder GGUF with random weights, laid out as llama.cpp b4916 loads
 * {@code LLM_ARCH_BERT}: separate q/k/v with biases, post-attention and post-FFN layer norms, learned
 * positions and token types, and a RoBERTa-style classification head ({@code cls} dense + tanh, then
 * {@code cls.output} to one logit) that rank pooling runs over the first token of each sequence.
 *
 * <p>The vocabulary is WordPiece as llama.cpp stores it: a word-initial piece carries the U+2581
 * prefix (the converter's replacement for the absence of {@code ##}), a continuation piece has none.
 */
public final class TinyBertReranker {
    static final int PAD = 0;
    static final int UNK = 1;
    static final int CLS = 2;
    static final int SEP = 3;
    static final int MASK = 4;

    /** Words every test sentence is built from, so tokenising never falls back to [UNK]. */
    static final List<String> WORDS = List.of("the", "a", "cat", "dog", "sat", "on", "mat", "what", "is", "two",
            "plus", "four", "five", "answer", "paris", "capital", "of", "france", "berlin", "germany", "blue",
            "sky", "red", "why", ".", "?", ",", "+", "=", "2", "4", "5");
    /** Continuation pieces, so an unknown word like "cats" still tokenises as "cat" + "s". */
    static final List<String> SUFFIXES = List.of("s", "ing", "ed");

    private final long seed;
    private final int embd;
    private final int heads;
    private final int layers;
    private final int ff;
    private final int contextLength;
    private final boolean withClassifierOutput;
    private final boolean withEos;

    public TinyBertReranker(long seed) {
        this(seed, 32, 2, 2, 64, 128, true, true);
    }

    /**
     * @param withClassifierOutput write cls.output (a reranker) or leave the head at the pooler dense
     * @param withEos              declare an EOS id; without one llama.cpp's WordPiece default is none
     */
    TinyBertReranker(long seed, int embd, int heads, int layers, int ff, int contextLength,
            boolean withClassifierOutput, boolean withEos) {
        this.seed = seed;
        this.embd = embd;
        this.heads = heads;
        this.layers = layers;
        this.ff = ff;
        this.contextLength = contextLength;
        this.withClassifierOutput = withClassifierOutput;
        this.withEos = withEos;
    }

    static List<String> tokens() {
        List<String> t = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"));
        for (String w : WORDS) {
            t.add("\u2581" + w);
        }
        t.addAll(SUFFIXES);
        return t;
    }

    public void writeTo(Path path) throws IOException {
        List<String> tokens = tokens();
        int vocab = tokens.size();
        int[] types = new int[vocab];
        Arrays.fill(types, 1);
        for (int i = 0; i <= MASK; i++) {
            types[i] = 3;
        }
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "bert");
        w.putString("general.name", "tiny-bert-reranker-" + seed);
        w.putU32("general.file_type", 0);
        w.putU32("bert.context_length", contextLength);
        w.putU32("bert.embedding_length", embd);
        w.putU32("bert.block_count", layers);
        w.putU32("bert.feed_forward_length", ff);
        w.putU32("bert.attention.head_count", heads);
        w.putF32("bert.attention.layer_norm_epsilon", 1e-12f);
        w.putBool("bert.attention.causal", false);
        w.putU32("bert.pooling_type", 4);
        w.putU32("bert.vocab_size", vocab);
        w.putString("tokenizer.ggml.model", "bert");
        w.putStringArray("tokenizer.ggml.tokens", tokens);
        w.putI32Array("tokenizer.ggml.token_type", types);
        w.putU32("tokenizer.ggml.token_type_count", 2);
        // llama.cpp's WPM defaults (101/102/100/0/103) point outside a small vocabulary, so every
        // special id is spelled out; EOS = SEP as in XLM-RoBERTa rerankers, so the server's rerank
        // layout [BOS] q [EOS] [SEP] d [EOS] is complete
        w.putU32("tokenizer.ggml.bos_token_id", CLS);
        if (withEos) {
            w.putU32("tokenizer.ggml.eos_token_id", SEP);
        }
        w.putU32("tokenizer.ggml.seperator_token_id", SEP);
        w.putU32("tokenizer.ggml.unknown_token_id", UNK);
        w.putU32("tokenizer.ggml.padding_token_id", PAD);
        w.putU32("tokenizer.ggml.mask_token_id", MASK);

        SplittableRandom rnd = new SplittableRandom(seed);
        double scale = 1.0 / Math.sqrt(embd);
        gaussian(w, rnd, "token_embd.weight", embd, vocab, 1.0);
        gaussian(w, rnd, "token_types.weight", embd, 2, 0.1);
        gaussian(w, rnd, "position_embd.weight", embd, contextLength, 0.1);
        norm(w, rnd, "token_embd_norm");
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            for (String m : List.of("attn_q", "attn_k", "attn_v", "attn_output")) {
                gaussian(w, rnd, p + m + ".weight", embd, embd, scale);
                vector(w, rnd, p + m + ".bias", embd, 0.02);
            }
            norm(w, rnd, p + "attn_output_norm");
            gaussian(w, rnd, p + "ffn_up.weight", embd, ff, scale);
            vector(w, rnd, p + "ffn_up.bias", ff, 0.02);
            gaussian(w, rnd, p + "ffn_down.weight", ff, embd, 1.0 / Math.sqrt(ff));
            vector(w, rnd, p + "ffn_down.bias", embd, 0.02);
            norm(w, rnd, p + "layer_output_norm");
        }
        gaussian(w, rnd, "cls.weight", embd, embd, scale);
        vector(w, rnd, "cls.bias", embd, 0.02);
        if (withClassifierOutput) {
            gaussian(w, rnd, "cls.output.weight", embd, 1, 1.0);
            vector(w, rnd, "cls.output.bias", 1, 0.1);
        }
        w.write(path);
    }

    private void norm(GgufWriter w, SplittableRandom rnd, String name) {
        w.tensor(name + ".weight", GgmlType.F32, new long[] {embd}, (row, out) -> Arrays.fill(out, 1f));
        vector(w, rnd, name + ".bias", embd, 0.02);
    }

    private static void vector(GgufWriter w, SplittableRandom rnd, String name, int n, double sd) {
        float[] v = draw(rnd, n, sd);
        w.tensor(name, GgmlType.F32, new long[] {n}, (row, out) -> System.arraycopy(v, 0, out, 0, n));
    }

    private static void gaussian(GgufWriter w, SplittableRandom rnd, String name, int ne0, int ne1, double sd) {
        float[] v = draw(rnd, ne0 * ne1, sd);
        w.tensor(name, GgmlType.F32, new long[] {ne0, ne1},
                (row, out) -> System.arraycopy(v, (int) row * ne0, out, 0, ne0));
    }

    private static float[] draw(SplittableRandom rnd, int n, double sd) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller: SplittableRandom has no nextGaussian, and a seeded stream keeps files reproducible
            double u1 = 1.0 - rnd.nextDouble();
            double u2 = rnd.nextDouble();
            v[i] = (float) (sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return v;
    }
}
