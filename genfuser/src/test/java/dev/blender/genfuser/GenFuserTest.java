package dev.blender.genfuser;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
                    new FuseOptions(40, SamplerOptions.greedy(), List.of(), 0, null), (cand, token, text) -> streamed.append(text)).candidate();
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

    /**
     * LLM-Blender's own fuser architecture: an encoder-decoder (Flan-T5; here a generated T5). The fusion prompt goes
     * through the encoder, the answer is decoded from the start token and streamed, and it is exactly the greedy
     * encode-then-decode reference in raw bridge calls; the prompt is bounded by the encoder's one pass, not by
     * the KV cache, and candidates are cut to fit it.
     */
    @Test
    void anEncoderDecoderFuserFusesEndToEnd() {
        try (LlamaModel m = LlamaModel.load(TestModels.t5()); LlamaContext c = m.newContext(ctx(256))) {
            assertTrue(m.hasEncoder());
            GenFuser fuser = new GenFuser(c, FuserTemplate.llmBlender());
            String instruction = "Say where the cat was.";
            List<String> ranked = List.of("The cat was in the park.", "It was at the sea with the dog.",
                    "The cat and the dog were in the house.");
            StringBuilder streamed = new StringBuilder();
            Candidate out = fuser.fuse(instruction, ranked, FuseOptions.greedy(12),
                    (cand, token, text) -> streamed.append(text)).candidate();
            int[] prompt = fuser.prompt(instruction, ranked, FuserTemplate.llmBlender().maxCandidateTokens());
            assertTrue(prompt.length > 12, "the prompt is longer than the answer budget: " + prompt.length);
            assertEquals(m.vocab().eos(), prompt[prompt.length - 1], "T5 input ends with EOS");
            int[] reference = TestModels.greedyEncoderDecoder(c, prompt, 12);
            assertTrue(reference.length > 0);
            assertArrayEquals(reference, out.tokens());
            // guessed from the candidates where the ABI decodes T5 tokens alike in a batch, plainly at b4916
            assertEquals(dev.blender.nativebridge.LlamaBackend.abi().batchesEncoderDecoder(),
                    out.speculation().drafted() > 0, out.speculation().toString());
            assertEquals(out.text(), streamed.toString());
            assertTrue(out.finishReason() == FinishReason.LENGTH || out.finishReason() == FinishReason.END_OF_GENERATION);

            // long candidates: the prompt must fit the encoder's single pass (here 160 tokens), whatever the KV cache
            try (LlamaContext small = m.newContext(ctx(256).withBatchSize(160))) {
                GenFuser cut = new GenFuser(small, FuserTemplate.llmBlender());
                String longOne = "the cat and the dog were in the park and he was at the sea ".repeat(6);
                List<String> longs = List.of(longOne, longOne, longOne);
                assertTrue(cut.prompt(instruction, longs, FuserTemplate.llmBlender().maxCandidateTokens()).length > 160);
                Candidate fused = cut.fuse(instruction, longs, 8);
                assertTrue(fused.tokenCount() > 0);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> cut.fuse("x ".repeat(200), List.of("a"), 8));
                assertTrue(e.getMessage().contains("encoder"), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> cut.fuse(instruction, ranked, 256),
                        "the start token and 256 answer tokens do not fit 256 cells");
            }
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
