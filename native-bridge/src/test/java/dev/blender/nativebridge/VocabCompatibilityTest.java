package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class VocabCompatibilityTest {
    private static final ModelOptions VOCAB_ONLY = ModelOptions.defaults().withVocabOnly(true);

    private static VocabCompatibility check(Path a, Path b) {
        try (LlamaModel ma = LlamaModel.load(a, VOCAB_ONLY); LlamaModel mb = LlamaModel.load(b, VOCAB_ONLY)) {
            return VocabCompatibility.check(ma.vocab(), mb.vocab());
        }
    }

    @Test
    void sameVocabularyDifferentWeightsIsCompatible() {
        VocabCompatibility c = check(TestModels.tiny(1, 0), TestModels.tiny(2, 0));
        assertTrue(c.compatible(), c.explain());
        assertEquals("compatible", c.explain());
        assertEquals(-1, c.firstTextMismatch());
    }

    @Test
    void differentVocabularySeedIsIncompatibleWithTheReason() {
        VocabCompatibility c = check(TestModels.tiny(1, 0), TestModels.tiny(1, 7));
        assertFalse(c.compatible());
        assertTrue(c.textMismatches() > 0);
        assertTrue(c.firstTextMismatch() >= VocabCompatibility.FIRST_CHECKED_ID);
        assertTrue(c.explain().contains("different text"), c.explain());
    }

    @Test
    void sizesTooFarApartAreIncompatible() {
        Path big = TestModels.generated("vocab-800", SyntheticLlama.builder().vocabSize(800).build());
        VocabCompatibility c = check(TestModels.tiny(1, 0), big);
        assertFalse(c.compatible());
        assertTrue(c.explain().contains("sizes differ by 288"), c.explain());
        Path near = TestModels.generated("vocab-600", SyntheticLlama.builder().vocabSize(600).build());
        VocabCompatibility n = check(TestModels.tiny(1, 0), near);
        assertTrue(n.compatible(), "within 128 tokens and the shared ids agree: " + n.explain());
    }

    @Test
    void storiesAndAidreamsDiffer() {
        VocabCompatibility c = check(TestModels.stories(), TestModels.aidreams());
        assertFalse(c.compatible());
        assertTrue(c.textMismatches() > 100, c.explain());
        System.out.println("stories260K vs aidreams260K: " + c.explain());
    }

    @Test
    void theArithFamilySharesOneVocabulary() {
        Path a = TestModels.sharedFile("models/arith/answerer-a.gguf");
        for (String other : new String[] {"answerer-b", "answerer-c", "answerer-strong", "judge", "judge-weak", "fuser"}) {
            VocabCompatibility c = check(a, TestModels.sharedFile("models/arith/" + other + ".gguf"));
            assertTrue(c.compatible(), other + ": " + c.explain());
        }
    }
}
