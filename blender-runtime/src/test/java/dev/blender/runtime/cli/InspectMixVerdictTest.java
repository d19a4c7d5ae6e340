package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.RealVocabularies;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** {@code inspect a.gguf b.gguf ...} tells, for each file against the first, whether and how they mix. */
class InspectMixVerdictTest {
    private static final Map<String, Path> VOCABS = RealVocabularies.all().stream()
            .collect(Collectors.toMap(RealVocabularies::name, Function.identity()));

    private static String verdict(String out, String other) {
        List<String> lines = out.lines().toList();
        for (int i = 0; i + 1 < lines.size(); i++) {
            if (lines.get(i).startsWith("vocabulary ") && lines.get(i).contains(" vs ggml-vocab-" + other + ".gguf:")) {
                return lines.get(i + 1).strip();
            }
        }
        throw new AssertionError("no vocabulary line for " + other + " in:\n" + out);
    }

    @Test
    void reportsWhetherAndHowEachPairMixes() {
        BlenderCliTest.Run r = BlenderCliTest.run("inspect", VOCABS.get("llama-spm").toString(),
                VOCABS.get("phi-3").toString(), VOCABS.get("deepseek-coder").toString(), VOCABS.get("bert-bge").toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("can mix: id by id (one shared vocabulary)", verdict(r.out(), "phi-3"));
        String deepseek = verdict(r.out(), "deepseek-coder");
        assertTrue(deepseek.startsWith("can mix: by text, tokens aligned by the bytes they decode to ("), deepseek);
        assertTrue(deepseek.contains("with bytes no UTF-8 text has are never chosen"), deepseek);
        String bert = verdict(r.out(), "bert-bge");
        assertTrue(bert.startsWith("cannot mix: ggml-vocab-bert-bge.gguf has a WordPiece"), bert);
        assertTrue(bert.contains("lower-cases text"), bert);
    }
}
