package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * llama.cpp's own tokenizer test vectors (tests/test-tokenizer-0 of llama.cpp v0.5.0: real vocabularies of
 * model families, each with inputs and the ids llama.cpp gives them) run through this bridge on whichever ABI
 * is loaded. A wrong tokenize binding, buffer size or flag shows up here as a wrong id on real text. Vocabularies
 * newer than b4916 must be refused there with the advice to use v0.5.0, never half-loaded.
 */
class TokenizerConformanceTest {
    private static final ModelOptions VOCAB_ONLY = RealVocabularies.VOCAB_ONLY;
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    /** One vocabulary's test vectors: the inputs and, per input, the expected ids. */
    record Vectors(String name, Path gguf, List<String> inputs, List<int[]> expected) {
        static Vectors read(Path gguf) {
            String name = RealVocabularies.name(gguf);
            try {
                String inp = Files.readString(Path.of(gguf + ".inp"), StandardCharsets.UTF_8);
                List<String> inputs = new ArrayList<>(Arrays.asList(inp.split(Pattern.quote(SEPARATOR), -1)));
                // most files end with the separator, one does not; only the former leaves an empty tail
                if (inp.endsWith(SEPARATOR)) {
                    inputs.removeLast();
                }
                List<int[]> expected = Files.readAllLines(Path.of(gguf + ".out"), StandardCharsets.UTF_8).stream()
                        .map(l -> l.isBlank() ? new int[0]
                                : Arrays.stream(l.strip().split(" +")).mapToInt(Integer::parseInt).toArray())
                        .toList();
                assertEquals(inputs.size(), expected.size(), name + ": one line of ids per input");
                return new Vectors(name, gguf, inputs, expected);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        boolean loads() {
            return RealVocabularies.loads(name);
        }
    }

    static List<Vectors> all() {
        return RealVocabularies.all().stream()
                .filter(p -> Files.exists(Path.of(p + ".inp")) && Files.exists(Path.of(p + ".out")))
                .map(Vectors::read).toList();
    }

    private static String show(int[] ids) {
        return Arrays.toString(ids);
    }

    @TestFactory
    Stream<DynamicTest> everyVectorTokenisesAsLlamaCppSays() {
        return all().stream().filter(Vectors::loads).map(v -> DynamicTest.dynamicTest(v.name(), () -> {
            List<String> failures = new ArrayList<>();
            try (LlamaModel m = LlamaModel.load(v.gguf(), VOCAB_ONLY)) {
                Vocab vocab = m.vocab();
                for (int i = 0; i < v.inputs().size(); i++) {
                    int[] got = vocab.tokenize(v.inputs().get(i), false, false);
                    if (!Arrays.equals(v.expected().get(i), got)) {
                        failures.add("case " + i + " " + escape(v.inputs().get(i)) + ": expected "
                                + show(v.expected().get(i)) + ", got " + show(got));
                    }
                }
            }
            System.out.printf("tokenizer conformance %s on llama.cpp %s: %d/%d cases%n", v.name(),
                    LlamaBackend.version(), v.inputs().size() - failures.size(), v.inputs().size());
            if (!failures.isEmpty()) {
                fail(v.name() + ": " + failures.size() + " of " + v.inputs().size() + " cases differ from llama.cpp's"
                        + " vectors:\n" + String.join("\n", failures.subList(0, Math.min(10, failures.size()))));
            }
        }));
    }

    /**
     * The expected ids detokenise back to the input, byte for byte, except in two documented ways: WordPiece
     * lower-cases and strips accents (so it is not checked), and a vocabulary whose pre-tokenizer has llama.cpp
     * clean up spaces (as Hugging Face's clean_up_tokenization_spaces does) drops the space before ? ! . and , in
     * every case. Which of the two a vocabulary does is not known here, so every case must agree with one rule.
     */
    @TestFactory
    Stream<DynamicTest> theIdsDetokeniseBackToTheInput() {
        return all().stream().filter(Vectors::loads).map(v -> DynamicTest.dynamicTest(v.name(), () -> {
            try (LlamaModel m = LlamaModel.load(v.gguf(), VOCAB_ONLY)) {
                Vocab vocab = m.vocab();
                if (vocab.type() == VocabType.WPM) {
                    return;
                }
                List<String> notExact = new ArrayList<>();
                List<String> notCleaned = new ArrayList<>();
                for (int i = 0; i < v.inputs().size(); i++) {
                    String in = v.inputs().get(i);
                    String out = vocab.detokenize(v.expected().get(i), false, false);
                    if (!out.equals(in)) {
                        notExact.add("case " + i + " " + escape(in) + " gave " + escape(out));
                    }
                    if (!out.equals(cleanSpaces(in))) {
                        notCleaned.add("case " + i + " " + escape(in) + " gave " + escape(out));
                    }
                }
                System.out.printf("detokenise %s on llama.cpp %s: %s%n", v.name(), LlamaBackend.version(),
                        notExact.isEmpty() ? "exact" : notCleaned.isEmpty() ? "exact but for cleaned spaces" : "differs");
                assertTrue(notExact.isEmpty() || notCleaned.isEmpty(), v.name() + " detokenises neither to the input"
                        + " (" + notExact + ") nor to it with spaces cleaned (" + notCleaned + ")");
            }
        }));
    }

    private static String cleanSpaces(String s) {
        return s.replaceAll(" ([?!.,])", "$1");
    }

    @TestFactory
    Stream<DynamicTest> vocabulariesNewerThanB4916AreRefusedWithTheWayOut() {
        return all().stream().filter(v -> !v.loads()).map(v -> DynamicTest.dynamicTest(v.name(), () -> {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> LlamaModel.load(v.gguf(), VOCAB_ONLY));
            String why = e.getMessage();
            assertTrue(why.contains(RealVocabularies.b4916Refusal(v.name()).orElseThrow()), why);
            assertTrue(why.contains("is newer than llama.cpp b4916"), why);
            assertTrue(why.contains("blender natives install cpu"), why);
            assertTrue(why.contains("BLENDER_LLAMA_LIBRARY"), why);
        }));
    }

    /** A renamed or missing vocabulary would otherwise leave the refusal test above with nothing to check. */
    @Test
    void theVocabulariesNewerThanB4916AreAmongTheVectors() {
        List<String> names = all().stream().map(Vectors::name).toList();
        assertTrue(names.containsAll(RealVocabularies.newerThanB4916()), names.toString());
    }

    private static String escape(String s) {
        String e = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r");
        return '"' + (e.length() <= 40 ? e : e.substring(0, 37) + "...") + '"';
    }
}
