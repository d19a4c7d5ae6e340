package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The vocabulary-only GGUF files of real model families that llama.cpp v0.5.0 tests its tokenizers with
 * (shared/data/llama.cpp-v0.5.0/vocab; read at test time, never committed; tests skip when absent), and which of
 * them the bundled b4916 cannot load.
 */
public final class RealVocabularies {
    private RealVocabularies() {}

    public static final ModelOptions VOCAB_ONLY = ModelOptions.defaults().withVocabOnly(true);

    /**
     * The vocabularies b4916 cannot load and what its refusal must name. Listed rather than inferred, so that a
     * vocabulary b4916 should load but does not fails a test instead of passing as refused.
     */
    private static final Map<String, String> NEWER_THAN_B4916 = Map.of(
            "qwen35", "pre-tokenizer 'qwen35'",
            "gemma-4", "architecture 'gemma4'");

    /** Every ggml-vocab-NAME.gguf in the folder, by file name. */
    public static List<Path> all() {
        Path dir = TestModels.sharedFile("data/llama.cpp-v0.5.0/vocab");
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> all = files.filter(p -> p.getFileName().toString().matches("ggml-vocab-.*\\.gguf")).sorted()
                    .toList();
            assertFalse(all.isEmpty(), "no ggml-vocab-*.gguf in " + dir);
            return all;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** "qwen2" for ggml-vocab-qwen2.gguf. */
    public static String name(Path gguf) {
        return gguf.getFileName().toString().replaceFirst("^ggml-vocab-", "").replaceFirst("\\.gguf$", "");
    }

    /** The names of the vocabularies b4916 refuses. */
    public static Set<String> newerThanB4916() {
        return NEWER_THAN_B4916.keySet();
    }

    /** What b4916's refusal of this vocabulary must name, or empty where b4916 loads it. */
    public static Optional<String> b4916Refusal(String name) {
        return Optional.ofNullable(NEWER_THAN_B4916.get(name));
    }

    /** Whether the llama.cpp in use loads this vocabulary. */
    public static boolean loads(String name) {
        return LlamaBackend.abi() != LlamaAbi.B4916 || !NEWER_THAN_B4916.containsKey(name);
    }
}
