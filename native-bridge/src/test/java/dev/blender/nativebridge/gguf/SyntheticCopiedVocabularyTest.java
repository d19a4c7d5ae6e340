package dev.blender.nativebridge.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticCopiedVocabularyTest {
    private static GgufFile phi3() {
        return GgufFile.read(TestModels.sharedFile("data/llama.cpp-v0.5.0/vocab/ggml-vocab-phi-3.gguf"));
    }

    private static Map<String, GgufValue> tokenizerKeys(GgufFile f) {
        Map<String, GgufValue> out = new TreeMap<>();
        f.metadata().forEach((k, v) -> {
            if (k.startsWith("tokenizer.")) {
                out.put(k, v);
            }
        });
        return out;
    }

    @Test
    void everyTokenizerKeyIsCopiedAndTheTensorsAreSizedToTheVocabulary(@TempDir Path dir) throws IOException {
        GgufFile source = phi3();
        SyntheticLlama spec = SyntheticLlama.builder().vocabularyFrom(source).embeddingLength(32).heads(2).build();
        Path file = dir.resolve("m.gguf");
        spec.writeTo(file);
        GgufFile written = GgufFile.read(file);
        int n = source.stringArray("tokenizer.ggml.tokens").size();
        assertEquals(SyntheticLlama.VocabularyKind.COPIED, spec.vocabulary());
        assertEquals(n, spec.vocabSize());
        assertEquals(tokenizerKeys(source), tokenizerKeys(written), "the vocabulary and the source's own template");
        assertTrue(written.string("tokenizer.chat_template").isPresent());
        assertEquals(n, written.tensor("token_embd.weight").orElseThrow().dim(1));
        assertEquals(n, written.tensor("output.weight").orElseThrow().dim(1));
        assertEquals("llama", written.architecture().orElseThrow(), "the builder's architecture, not the source's");
        assertEquals(n, written.integer("llama.vocab_size").orElseThrow());
        assertEquals(32, written.integer("llama.embedding_length").orElseThrow(), "the builder's shape");
        assertEquals(spec.fileSize(), written.fileSize());
    }

    @Test
    void aChatTemplateSetOnTheBuilderReplacesTheCopiedOneAndNullRemovesIt() {
        GgufFile source = phi3();
        SyntheticLlama replaced = SyntheticLlama.builder().vocabularyFrom(source).chatTemplate("{{ messages }}").build();
        assertEquals("{{ messages }}", replaced.writer().metadata().get("tokenizer.chat_template") instanceof GgufValue.Str(
                String s) ? s : null);
        SyntheticLlama none = SyntheticLlama.builder().vocabularyFrom(source).chatTemplate(null).build();
        assertFalse(none.writer().metadata().containsKey("tokenizer.chat_template"));
        assertTrue(none.chatTemplate().isEmpty());
    }

    @Test
    void sharingTheVocabularyWithOtherWeightsKeepsIt() {
        SyntheticLlama spec = SyntheticLlama.builder().vocabularyFrom(phi3()).build();
        SyntheticLlama other = spec.withWeights(9, "other");
        assertEquals(spec.writer().metadata().get("tokenizer.ggml.tokens"),
                other.writer().metadata().get("tokenizer.ggml.tokens"));
        assertEquals(spec.fileSize(), other.fileSize());
    }

    @Test
    void aFileWithoutAVocabularyOrAContradictingSizeIsRefused(@TempDir Path dir) throws IOException {
        Path bare = dir.resolve("bare.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(bare);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticLlama.builder().vocabularyFrom(GgufFile.read(bare)).build());
        assertTrue(e.getMessage().contains("no vocabulary"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticLlama.builder().vocabularyFrom(phi3()).vocabSize(512).build());
        assertTrue(e.getMessage().contains("contradicts"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.COPIED).build());
        assertTrue(e.getMessage().contains("vocabularyFrom"), e.getMessage());
        assertEquals(SyntheticLlama.VocabularyKind.SENTENCE_PIECE, SyntheticLlama.builder().vocabularyFrom(phi3())
                .vocabulary(SyntheticLlama.VocabularyKind.SENTENCE_PIECE).build().vocabulary(), "another kind forgets the file");
    }
}
