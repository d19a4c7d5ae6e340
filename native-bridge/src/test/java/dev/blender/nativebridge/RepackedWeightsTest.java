package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A CPU-only model whose matrices llama.cpp repacks (Q4_0, IQ4_NL) is read instead of mapped, since the mapped
 * pages would stay resident beside the repacked copies; other files keep the mapping they ask for.
 */
class RepackedWeightsTest {
    private static Path model(GgmlType type) {
        return TestModels.generated("repack-" + type, SyntheticLlama.builder().tensorType(type).weightSeed(9).build());
    }

    @Test
    void q4_0WeightsAreReadNotMappedAndStillDecode() {
        try (LlamaModel m = LlamaModel.load(model(GgmlType.Q4_0));
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64))) {
            assertTrue(m.options().mmap(), "the options say what was asked");
            assertFalse(m.mapped(), "what llama.cpp did");
            List<Candidate> c = Generator.generate(ctx, GenerationRequest.of(m.vocab().tokenize("hello")).withMaxTokens(4));
            assertEquals(4, c.get(0).tokenCount());
        }
    }

    @Test
    void otherWeightsKeepTheMappingAskedFor() {
        Path q8 = model(GgmlType.Q8_0);
        try (LlamaModel mapped = LlamaModel.load(q8);
             LlamaModel read = LlamaModel.load(q8, ModelOptions.defaults().withMmap(false))) {
            assertTrue(mapped.mapped());
            assertFalse(read.mapped());
        }
        // a vocabulary-only load reads no weights: nothing to repack, nothing changed
        try (LlamaModel vocab = LlamaModel.load(model(GgmlType.Q4_0), ModelOptions.defaults().withVocabOnly(true))) {
            assertTrue(vocab.mapped());
        }
    }
}
