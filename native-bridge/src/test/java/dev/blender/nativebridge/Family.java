package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Real model families as tiny models: the released vocabulary (llama.cpp's vocabulary-only GGUF files in
 * ../shared) and the released chat template, on random or scripted weights of a few megabytes. Everything real is
 * read from ../shared at test time; a test using a family is skipped with the reason printed when it is absent.
 */
public enum Family {
    LLAMA_3("llama-bpe", "meta-llama-Llama-3.1-8B-Instruct", "<|eot_id|>", LlamaAbi.B4916),
    QWEN_2_5("qwen2", "Qwen-Qwen2.5-7B-Instruct", "<|im_end|>", LlamaAbi.B4916),
    QWEN_3("qwen2", "Qwen-Qwen3-0.6B", "<|im_end|>", LlamaAbi.B4916),
    /** The qwen35 pre-tokenizer is newer than b4916, which refuses it. */
    QWEN_3_5("qwen35", "Qwen3.5-4B", "<|im_end|>", LlamaAbi.V0_5_0),
    PHI_3_5("phi-3", "microsoft-Phi-3.5-mini-instruct", "<|end|>", LlamaAbi.B4916),
    /** Gemma 4's tokenizer model ("gemma4") is newer than b4916, which refuses it. */
    GEMMA_4("gemma-4", "google-gemma-4-31B-it", "<turn|>", LlamaAbi.V0_5_0);

    /**
     * Width of the tiny models: the embedding and output of a 262k-token vocabulary stay a few MB in Q8_0, and a
     * scripted model has room for a script of up to {@code EMBEDDING - 1} tokens (one embedding axis each).
     */
    public static final int EMBEDDING = 64;

    private static final Map<String, GgufFile> VOCABULARIES = new HashMap<>();
    private static final Map<String, Path> SCRIPTED = new HashMap<>();

    private final String vocabulary;
    private final String template;
    private final String endOfTurn;
    private final LlamaAbi oldestAbi;

    Family(String vocabulary, String template, String endOfTurn, LlamaAbi oldestAbi) {
        this.vocabulary = vocabulary;
        this.template = template;
        this.endOfTurn = endOfTurn;
        this.oldestAbi = oldestAbi;
    }

    /** The reference file name of the family's chat template (without .jinja), as expected.jsonl names it. */
    public String templateName() {
        return template;
    }

    /** The text of the token that ends the assistant's turn in this family's template. */
    public String endOfTurn() {
        return endOfTurn;
    }

    /** Whether llama.cpp at this ABI knows the family's tokenizer. */
    public boolean loadsOn(LlamaAbi abi) {
        return oldestAbi == LlamaAbi.B4916 || abi == LlamaAbi.V0_5_0;
    }

    /** Skips the test where the running llama.cpp refuses this family (tests of the refusal say so themselves). */
    public void assumeLoadable() {
        LlamaAbi abi = LlamaBackend.abi();
        if (!loadsOn(abi)) {
            System.out.println("SKIPPED: " + this + " needs llama.cpp v0.5.0; this run is on " + abi.name());
        }
        assumeTrue(loadsOn(abi), () -> this + " needs llama.cpp v0.5.0");
    }

    /** llama.cpp's vocabulary-only file of the family in ../shared. */
    public Path vocabularyFile() {
        return TestModels.sharedFile("data/llama.cpp-v0.5.0/vocab/ggml-vocab-" + vocabulary + ".gguf");
    }

    /** The released chat template of the family, from ../shared. */
    public String chatTemplate() {
        try {
            return Files.readString(TestModels.sharedFile("data/llama.cpp-v0.5.0/templates/" + template + ".jinja"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tiny model's specification: llama layout, one block, width {@link #EMBEDDING}, Q8_0. */
    public SyntheticLlama spec() {
        GgufFile vocab;
        synchronized (VOCABULARIES) {
            vocab = VOCABULARIES.computeIfAbsent(vocabulary, v -> GgufFile.read(vocabularyFile()));
        }
        return SyntheticLlama.builder().vocabularyFrom(vocab).chatTemplate(chatTemplate()).layers(1)
                .embeddingLength(EMBEDDING).heads(4).feedForwardLength(2 * EMBEDDING).contextLength(4096)
                .tensorType(GgmlType.Q8_0).weightSeed(ordinal() + 1).name("tiny-" + name().toLowerCase()).build();
    }

    /** The family with random weights, written once per JVM. */
    public Path model() {
        return TestModels.generated("family-" + name(), spec());
    }

    /**
     * A model of this family that writes exactly {@code answer} and then its end-of-turn token, whatever the
     * prompt. All blocks are zero, so the last token alone decides the next (through the embedding and output,
     * a one-hot table): the script's tokens must differ from each other and from the prompt's last token.
     */
    public Path scripted(String answer) {
        String key = name() + "\u0000" + answer;
        synchronized (SCRIPTED) {
            Path p = SCRIPTED.get(key);
            if (p == null) {
                p = writeScripted(answer, SCRIPTED.size());
                SCRIPTED.put(key, p);
            }
            return p;
        }
    }

    /** The token ids of {@code text} in this family's vocabulary, special tokens parsed, none added. */
    public int[] tokens(String text) {
        try (LlamaModel m = LlamaModel.load(model(), ModelOptions.defaults().withVocabOnly(true))) {
            return m.vocab().tokenize(text, false, true);
        }
    }

    private Path writeScripted(String answer, int serial) {
        int[] script = tokens(answer + endOfTurn);
        Set<Integer> distinct = new HashSet<>();
        for (int t : script) {
            if (!distinct.add(t)) {
                throw new IllegalArgumentException("a scripted answer repeats token " + t + ": " + answer);
            }
        }
        if (script.length >= EMBEDDING) {
            throw new IllegalArgumentException("a script of " + script.length + " tokens needs a wider model");
        }
        Map<Integer, Integer> axis = new HashMap<>();
        for (int k = 0; k < script.length; k++) {
            axis.put(script[k], k);
        }
        int other = EMBEDDING - 1; // the axis of every token outside the script: it leads to the script's start
        SyntheticLlama spec = spec();
        GgufWriter source = spec.writer();
        GgufWriter w = new GgufWriter();
        source.metadata().forEach(w::put);
        for (TensorInfo t : source.tensors()) {
            String name = t.name();
            GgufWriter.TensorSource fill;
            if (name.equals("token_embd.weight")) {
                fill = (row, out) -> {
                    Arrays.fill(out, 0f);
                    out[axis.getOrDefault((int) row, other)] = 1f;
                };
            } else if (name.equals("output.weight")) {
                Map<Integer, Integer> from = new HashMap<>(); // output row (the next token) -> axis it follows
                for (int k = 0; k + 1 < script.length; k++) {
                    from.put(script[k + 1], k);
                }
                from.put(script[0], other);
                fill = (row, out) -> {
                    Arrays.fill(out, 0f);
                    Integer k = from.get((int) row);
                    if (k != null) {
                        out[k] = 10f;
                    }
                };
            } else if (name.endsWith("norm.weight")) {
                fill = (row, out) -> Arrays.fill(out, 1f);
            } else {
                fill = (row, out) -> Arrays.fill(out, 0f); // the writer reuses its row buffer
            }
            w.tensor(name, t.type(), t.dims(), fill);
        }
        try {
            Path file = TestModels.tempDir().resolve("scripted-" + name() + "-" + serial + ".gguf");
            w.write(file);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
