package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The top alternatives of each generated token, against logits read step by step from a second context. */
class TopLogprobsTest {

    static ContextOptions ctx() {
        return ContextOptions.defaults().withContextSize(256).withThreads(1);
    }

    /** The logits after the prompt and each of {@code tokens}, decoded one token at a time, as Generator does. */
    static float[][] rows(LlamaModel m, int[] prompt, int[] tokens) {
        try (LlamaContext ref = m.newContext(ctx()); SequenceDecoder d = new SequenceDecoder(ref)) {
            float[][] out = new float[tokens.length + 1][ref.vocabSize()];
            d.prefill(0, prompt);
            for (int k = 0; k <= tokens.length; k++) {
                d.copyLogits(0, out[k]);
                if (k < tokens.length) {
                    d.append(0, new int[] {tokens[k]}, 0);
                }
            }
            return out;
        }
    }

    /** Ids by descending logit, ties to the lower id. */
    static int[] ranked(float[] row) {
        return IntStream.range(0, row.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -row[i]).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
    }

    static void assertMatches(float[] row, TopLogprobs step, int n) {
        int[] want = Arrays.copyOf(ranked(row), n);
        assertArrayEquals(want, step.top().stream().mapToInt(TopLogprobs.Alternative::token).toArray());
        for (TopLogprobs.Alternative a : step.top()) {
            assertEquals(Sampler.logProbability(row, row.length, a.token()), a.logprob(), 1e-4f);
        }
        assertEquals(Sampler.logProbability(row, row.length, step.chosen().token()), step.chosen().logprob(), 1e-4f);
    }

    @Test
    void greedyStepsListTheChosenTokenFirstWithTheModelsLogProbabilities() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/answerer-a.gguf"),
                ModelOptions.defaults().withThreads(1)); LlamaContext ctx = m.newContext(ctx())) {
            int[] prompt = m.vocab().tokenize("Q: 85+95= A:");
            Candidate c = Generator.generate(ctx, GenerationRequest.of(prompt).withMaxTokens(8).withTopLogprobs(5)).get(0);
            assertEquals(FinishReason.END_OF_GENERATION, c.finishReason());
            assertEquals(" 181", c.text(), "shared/models/arith/README.md's answer");
            // one step per token, then the step that chose the end of generation
            assertEquals(c.tokenCount() + 1, c.topLogprobs().size());
            float[][] rows = rows(m, prompt, c.tokens());
            for (int k = 0; k < c.topLogprobs().size(); k++) {
                TopLogprobs step = c.topLogprobs().get(k);
                assertEquals(5, step.top().size());
                assertEquals(step.chosen(), step.top().get(0), "greedy: the chosen token is the most likely");
                assertMatches(rows[k], step, 5);
                if (k < c.tokenCount()) {
                    assertEquals(c.tokens()[k], step.chosen().token());
                    assertEquals(c.logProbs()[k], step.chosen().logprob());
                    assertArrayEquals(m.vocab().piece(c.tokens()[k], false), step.chosen().bytes());
                }
            }
            TopLogprobs.Alternative end = c.topLogprobs().getLast().chosen();
            assertTrue(m.vocab().isEndOfGeneration(end.token()));
            assertEquals("</s>", end.text(), "an end is listed by its text, as servers list it");

            Candidate plain = Generator.generate(ctx, GenerationRequest.of(prompt).withMaxTokens(8)).get(0);
            assertEquals(List.of(), plain.topLogprobs(), "off by default");
            assertArrayEquals(c.tokens(), plain.tokens());
        }
    }

    @Test
    void theListIsTheRawDistributionNotThePenalisedOne() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(ctx())) {
            int[] prompt = m.vocab().tokenize("Once upon a time");
            // a strong repetition penalty makes greedy pick other tokens than the raw argmax
            SamplerOptions penalised = SamplerOptions.greedy().withRepeatPenalty(5f, 64);
            Candidate c = Generator.generate(ctx, GenerationRequest.of(prompt).withMaxTokens(24).withSampler(penalised)
                    .withTopLogprobs(20)).get(0);
            assertEquals(24, c.topLogprobs().size());
            float[][] rows = rows(m, prompt, c.tokens());
            int notFirst = 0;
            for (int k = 0; k < c.tokenCount(); k++) {
                TopLogprobs step = c.topLogprobs().get(k);
                assertMatches(rows[k], step, 20);
                assertEquals(c.logProbs()[k], step.chosen().logprob());
                notFirst += step.chosen().token() != step.top().get(0).token() ? 1 : 0;
            }
            assertNotEquals(0, notFirst, "the penalty changed some choice, and the list still ranks the raw logits");
        }
    }

    @Test
    void theCountIsOpenAIsRange() {
        int[] prompt = {1};
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.of(prompt).withTopLogprobs(21));
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.of(prompt).withTopLogprobs(-1));
        assertEquals(0, GenerationRequest.of(prompt).topLogprobs());
        assertEquals(20, GenerationRequest.of(prompt).withTopLogprobs(20).withSeed(3).withCandidates(2).topLogprobs());
    }
}
