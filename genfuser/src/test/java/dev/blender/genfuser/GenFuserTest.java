package dev.blender.genfuser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.SamplerOptions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GenFuserTest {
    static ContextOptions ctx(int cells) {
        return ContextOptions.defaults().withContextSize(cells).withThreads(1);
    }

    /** shared/models/arith/README.md: the fuser's greedy outputs (the last one is a documented mistake). */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {"85+95=; 180 280 170; 180", "39+99=; 148 128 138; 138", "77-67=; 10 0 8; 1"})
    void arithFuserGivesTheReadmeAnswers(String question, String candidates, String expected) {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/fuser.gguf"));
                LlamaContext c = m.newContext(ctx(64))) {
            GenFuser fuser = new GenFuser(c, FuserTemplate.arith());
            assertEquals("Q: 85+95= C1: 180 C2: 280 C3: 170 Fused:",
                    FuserTemplate.arith().render("85+95=", List.of("180", "280", "170")));
            Candidate out = fuser.fuse(question, List.of(candidates.split(" ")), 8);
            assertEquals(FinishReason.END_OF_GENERATION, out.finishReason());
            assertEquals(expected, out.text().strip());
        }
    }

    @Test
    void fewerCandidatesThanKRepeatTheBestAndMoreAreCut() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/fuser.gguf"));
                LlamaContext c = m.newContext(ctx(64))) {
            GenFuser fuser = new GenFuser(c, FuserTemplate.arith());
            String one = m.vocab().detokenize(fuser.prompt("85+95=", List.of("180", "180", "180"), 8));
            assertTrue(one.contains("C1: 180 C2: 180 C3: 180 Fused:"), one);
            assertEquals(fuser.fuse("85+95=", List.of("180", "180", "180"), 8).text(),
                    fuser.fuse("85+95=", List.of("180"), 8).text());
            assertEquals(fuser.fuse("85+95=", List.of("180", "280", "170"), 8).text(),
                    fuser.fuse("85+95=", List.of("180", "280", "170", "999", "111"), 8).text());
        }
    }

    @Test
    void longCandidatesAreCutToFitAndStreamed() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext c = m.newContext(ctx(160))) {
            FuserTemplate t = new FuserTemplate("{instruction}Story: {candidates}. The end.", "{candidate}", " / ", 3, 40, false);
            GenFuser fuser = new GenFuser(c, t);
            String longStory = "Once upon a time there was a little girl named Lily who loved to play in the park "
                    .repeat(8);
            StringBuilder streamed = new StringBuilder();
            Candidate out = fuser.fuse("", List.of(longStory, longStory, longStory),
                    new FuseOptions(40, SamplerOptions.greedy(), List.of(), 0, null), (cand, token, text) -> streamed.append(text));
            assertEquals(out.text(), streamed.toString());
            assertTrue(out.tokenCount() > 0);
            // the 40-token budget per candidate is cut further until the prompt leaves room for the answer
            assertTrue(fuser.prompt("", List.of(longStory, longStory, longStory), 40).length > 160 - 40,
                    "the full budget would not fit, so fuse() had to cut");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fuser.fuse("x ".repeat(400), List.of("a"), 40));
            assertTrue(e.getMessage().contains("context"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> fuser.fuse("q", List.of(), 8));
        }
    }

    @Test
    void templatesValidatePlaceholders() {
        assertThrows(IllegalArgumentException.class, () -> new FuserTemplate("no placeholder", "{candidate}", " ", 3, 8, false));
        assertThrows(IllegalArgumentException.class, () -> new FuserTemplate("{candidates}", "no candidate", " ", 3, 8, false));
        assertThrows(IllegalArgumentException.class, () -> new FuserTemplate("{candidates}", "{candidate}", " ", 0, 8, false));
        assertTrue(FuserTemplate.llmBlender().render("Say hi", List.of("hi", "hello", "hey"))
                .contains("Candidate 0: hi\nCandidate 1: hello"));
    }
}
