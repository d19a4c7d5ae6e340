package dev.blender.nativebridge.generation;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Draft-and-verify decoding ({@link Speculation}) changes how many decodes a sequence takes, never what it writes:
 * greedy outputs equal plain decoding's token for token whatever the guesses, sampled outputs keep their
 * distribution, and the KV cache after a rejected guess is the cache of the tokens kept.
 */
class SpeculativeDecodingTest {
    private static ContextOptions opts(int seqs, int cells) {
        return ContextOptions.defaults().withContextSize(cells).withBatchSize(256).withMaxSequences(seqs).withThreads(1);
    }

    /** Guesses what {@code truth} says comes next, with the first {@code wrongFrom} of each guess right, the rest off. */
    private static Drafter oracle(int[] truth, int vocabSize, int wrongFrom) {
        return (generated, max) -> {
            int g = generated.length;
            int m = Math.max(0, Math.min(max, truth.length - g));
            int[] out = Arrays.copyOfRange(truth, g, g + m);
            for (int i = wrongFrom; i < m; i++) {
                out[i] = (out[i] + 1) % vocabSize; // surely not the model's token
            }
            return out;
        };
    }

    private static void assertSameOutput(Candidate plain, Candidate spec, String what) {
        assertArrayEquals(plain.tokens(), spec.tokens(), what + ": tokens");
        assertEquals(plain.text(), spec.text(), what + ": text");
        assertEquals(plain.finishReason(), spec.finishReason(), what + ": finish reason");
        float[] a = plain.logProbs();
        float[] b = spec.logProbs();
        for (int i = 0; i < a.length; i++) {
            // a batch of guesses and single-token steps differ in float rounding only
            assertEquals(a[i], b[i], 5e-3f, what + ": log-probability of token " + i);
        }
    }

    @Test
    void greedyWritesTheSameTokensWithRightWrongAndHalfRightGuesses() {
        for (Path file : List.of(TestModels.tiny(), TestModels.stories())) {
            try (LlamaModel m = LlamaModel.load(file); LlamaContext ctx = m.newContext(opts(1, 256))) {
                for (String text : List.of("Once upon a time", "The little dog ran to the", "a b c d")) {
                    GenerationRequest req = GenerationRequest.of(m.vocab().tokenize(text)).withMaxTokens(48);
                    Candidate plain = Generator.generate(ctx, req).get(0);
                    assertEquals(SpeculationStats.NONE, plain.speculation());
                    int[] truth = plain.tokens();
                    int v = ctx.vocabSize();
                    String what = file.getFileName() + " '" + text + "'";

                    Candidate right = Generator.generate(ctx, req.withSpeculation(
                            new Speculation(oracle(truth, v, Integer.MAX_VALUE), 4))).get(0);
                    assertSameOutput(plain, right, what + ", right guesses");
                    SpeculationStats r = right.speculation();
                    assertEquals(r.drafted(), r.accepted(), what + ": every right guess is kept " + r);
                    assertTrue(r.drafted() > truth.length / 2, what + ": " + r);
                    // plain decoding takes one decode per token after the first
                    int plainDecodes = truth.length - (plain.finishReason() == FinishReason.END_OF_GENERATION ? 0 : 1);
                    assertEquals(plainDecodes, r.decodes() + r.decodesSaved(), what + ": " + r);
                    assertTrue(r.decodes() <= (plainDecodes + 4) / 5 + 1, what + ": 4 guesses a decode: " + r);

                    Candidate wrong = Generator.generate(ctx, req.withSpeculation(
                            new Speculation(oracle(truth, v, 0), 4))).get(0);
                    assertSameOutput(plain, wrong, what + ", wrong guesses");
                    SpeculationStats w = wrong.speculation();
                    assertEquals(0, w.accepted(), what + ": " + w);
                    assertEquals(0, w.decodesSaved(), what + ": " + w);
                    assertEquals(plainDecodes, w.decodes(), what + ": " + w);
                    assertTrue(w.drafted() > 0, what + ": " + w);

                    Candidate half = Generator.generate(ctx, req.withSpeculation(
                            new Speculation(oracle(truth, v, 3), 6))).get(0);
                    assertSameOutput(plain, half, what + ", half-right guesses");
                    SpeculationStats h = half.speculation();
                    assertTrue(h.accepted() > 0 && h.accepted() < h.drafted(), what + ": " + h);
                    assertEquals(plainDecodes, h.decodes() + h.decodesSaved(), what + ": " + h);
                }
            }
        }
    }

    @Test
    void stopStringsLengthCancellationAndStreamingAsWithoutGuesses() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(opts(1, 256))) {
            GenerationRequest req = GenerationRequest.of(m.vocab().tokenize("Once upon a time")).withMaxTokens(60);
            Candidate full = Generator.generate(ctx, req).get(0);
            int[] truth = full.tokens();
            Speculation right = new Speculation(oracle(truth, ctx.vocabSize(), Integer.MAX_VALUE), 8);

            // a stop string in the middle of a guess: the text ends before it and no guessed token after it counts
            String stop = full.text().substring(30, 34);
            GenerationRequest stopped = req.withStop(List.of(stop));
            Candidate plain = Generator.generate(ctx, stopped).get(0);
            assertEquals(FinishReason.STOP, plain.finishReason());
            assertSameOutput(plain, Generator.generate(ctx, stopped.withSpeculation(right)).get(0), "stop");

            // maxTokens inside a guess: cut at the same token, and no guess reaches past the last one
            for (int max : new int[] {1, 2, 9, 13}) {
                GenerationRequest cut = req.withMaxTokens(max);
                Candidate p = Generator.generate(ctx, cut).get(0);
                Candidate s = Generator.generate(ctx, cut.withSpeculation(right)).get(0);
                assertSameOutput(p, s, "maxTokens " + max);
                assertEquals(max, s.tokenCount());
                assertEquals(s.speculation().drafted(), s.speculation().accepted(), "nothing guessed past maxTokens");
            }

            // streamed pieces and cancellation from the listener come out as without guesses
            for (Speculation spec : new Speculation[] {null, right}) {
                Cancellation cancel = new Cancellation();
                List<Integer> streamedTokens = new ArrayList<>();
                StringBuilder streamed = new StringBuilder();
                Candidate c = Generator.generate(ctx, req.withCancellation(cancel).withSpeculation(spec),
                        (cand, token, piece) -> {
                            streamed.append(piece);
                            if (token >= 0) {
                                streamedTokens.add(token);
                            }
                            if (streamedTokens.size() == 7) {
                                cancel.cancel();
                            }
                        }).get(0);
                assertEquals(FinishReason.CANCELLED, c.finishReason(), "guesses " + spec);
                assertArrayEquals(Arrays.copyOf(truth, 7), c.tokens(), "guesses " + spec);
                assertEquals(c.text(), streamed.toString());
                assertEquals(7, streamedTokens.size());
            }
        }
    }

    /** A guess that runs past the model's end of generation is cut there: the answer ends as it does alone. */
    @Test
    void aGuessPastTheEndOfGenerationIsCut() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/answerer-strong.gguf"));
                LlamaContext ctx = m.newContext(opts(1, 64))) {
            GenerationRequest req = GenerationRequest.of(m.vocab().tokenize("Q: 85+95= A:")).withMaxTokens(8);
            Candidate plain = Generator.generate(ctx, req).get(0);
            assertEquals(" 180", plain.text());
            assertEquals(FinishReason.END_OF_GENERATION, plain.finishReason());
            // SentencePiece puts the leading space in itself, as in " 180"
            int[] answer = m.vocab().tokenize("180 C2: 180", false, false);
            assertEquals(m.vocab().tokenize("180", false, false)[0], plain.tokens()[0], "the answer starts with it");
            Candidate spec = Generator.generate(ctx, req.withSpeculation(
                    new Speculation(SuffixDrafter.of(List.of(answer)), 8))).get(0);
            assertSameOutput(plain, spec, "arith");
            SpeculationStats s = spec.speculation();
            // the guess went in with the prompt: that one decode read the whole answer and its end
            assertEquals(0, s.decodes(), s.toString());
            assertEquals(7, s.drafted(), "a guess stops before maxTokens: " + s);
            assertEquals(plain.tokenCount(), s.accepted(), s.toString());
            assertEquals(plain.tokenCount(), s.decodesSaved(), s.toString());

            // the same guess after the first token, in a step of its own
            Candidate later = Generator.generate(ctx, req.withSpeculation(new Speculation(
                    (generated, max) -> generated.length == 0 ? new int[0]
                            : SuffixDrafter.of(List.of(answer)).draft(generated, max), 8))).get(0);
            assertSameOutput(plain, later, "arith, guessed after the first token");
            assertEquals(1, later.speculation().decodes(), later.speculation().toString());
            assertEquals(plain.tokenCount() - 1, later.speculation().accepted(), later.speculation().toString());
        }
    }

    @Test
    void batchedCandidatesEachFollowTheirOwnGuesses() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(opts(3, 256))) {
            GenerationRequest req = GenerationRequest.of(m.vocab().tokenize("Once upon a time")).withMaxTokens(30)
                    .withCandidates(3);
            List<Candidate> plain = Generator.generate(ctx, req);
            int[] truth = plain.get(0).tokens();
            List<Candidate> spec = Generator.generate(ctx, req.withSpeculation(
                    new Speculation(oracle(truth, ctx.vocabSize(), 2), 5)));
            for (int c = 0; c < 3; c++) {
                assertSameOutput(plain.get(c), spec.get(c), "candidate " + c);
                assertTrue(spec.get(c).speculation().decodesSaved() > 0, spec.get(c).speculation().toString());
            }
        }
    }

    /**
     * After guessed tokens are taken back, the cache is that of the tokens kept: the next token's logits are those
     * of a fresh decode of the same tokens.
     */
    @Test
    void theCacheAfterARejectedGuessIsTheCacheOfTheTokensKept() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(opts(1, 256));
                LlamaContext fresh = m.newContext(opts(1, 256))) {
            assertFalse(m.hasRecurrentState(), "an attention-only llama can drop its last positions");
            int[] prompt = m.vocab().tokenize("Once upon a time");
            int p = prompt.length;
            try (SequenceDecoder d = new SequenceDecoder(ctx)) {
                d.prefill(0, prompt);
                d.append(0, new int[] {40, 41, 42, 43, 44}, 0);
                float[] afterFirst = d.logits(0, p).toArray(JAVA_FLOAT);
                d.truncate(0, p + 2); // keep 40, 41
                assertEquals(p + 2, d.position(0));
                assertEquals(p + 2, ctx.usedCells());
                assertEquals(p + 1, ctx.sequenceMaxPosition(0));
                assertArrayEquals(afterFirst, d.logits(0, p).toArray(JAVA_FLOAT), "kept positions keep their logits");
                assertThrows(IllegalStateException.class, () -> d.logits(0, p + 2), "a dropped position has none");
                d.append(0, new int[] {50, 51}, 0);
                int[] kept = Arrays.copyOf(prompt, p + 4);
                kept[p] = 40;
                kept[p + 1] = 41;
                kept[p + 2] = 50;
                kept[p + 3] = 51;
                assertArrayEquals(kept, d.tokens(0));
                float[] want = TestModels.logitsAfter(fresh, kept);
                float[] got = d.logits(0).toArray(JAVA_FLOAT);
                assertTrue(TestModels.maxAbsDiff(want, got) < 1e-3, "max diff " + TestModels.maxAbsDiff(want, got));
                float[] want2 = TestModels.logitsAfter(fresh, Arrays.copyOf(kept, p + 3));
                assertTrue(TestModels.maxAbsDiff(want2, d.logits(0, p + 2).toArray(JAVA_FLOAT)) < 1e-3);
                assertThrows(IllegalArgumentException.class, () -> d.truncate(0, p + 5));
                assertThrows(IllegalArgumentException.class, () -> d.truncate(0, 0));
            }
        }
    }

    /**
     * Sampling with a guess that is often wrong keeps the distribution: the first two tokens of 1,500 seeds (of three:
     * the guess for the second is only decoded when a third follows), with
     * and without guesses, compared by a two-sample chi-square over the pairs (cells with few expected draws merged).
     * Each guess is the model's second likeliest token there, so it is kept and rejected often; the first token is
     * guessed in the prompt's decode, the second there and, where the first guess was rejected, in a step.
     */
    @Test
    void sampledTokensKeepTheirDistributionUnderGuesses() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(opts(1, 64))) {
            int[] prompt = m.vocab().tokenize("Once upon a time");
            SamplerOptions sampler = new SamplerOptions(1.5f, 4, 1f, 0f, 1f, 64);
            int v = ctx.vocabSize();
            // the second likeliest token after each possible first token
            Map<Integer, Integer> guessAfter = new HashMap<>();
            float[] first = TestModels.logitsAfter(ctx, prompt);
            for (int t : topIds(first, 4)) {
                int[] two = Arrays.copyOf(prompt, prompt.length + 1);
                two[prompt.length] = t;
                guessAfter.put(t, topIds(TestModels.logitsAfter(ctx, two), 2)[1]);
            }
            int firstGuess = topIds(first, 2)[1];
            // the first token guessed with the prompt, and the second after it; the second guessed again, alone,
            // when the first guess was rejected
            Drafter drafter = (generated, max) -> generated.length == 0
                    ? Arrays.copyOf(new int[] {firstGuess, guessAfter.get(firstGuess)}, Math.min(2, max))
                    : generated.length == 1 && guessAfter.containsKey(generated[0])
                    ? new int[] {guessAfter.get(generated[0])} : new int[0];
            GenerationRequest req = GenerationRequest.of(prompt).withMaxTokens(3).withSampler(sampler);
            int runs = 1500;
            Map<Long, int[]> counts = new TreeMap<>();
            SpeculationStats total = SpeculationStats.NONE;
            for (int k = 0; k < 2; k++) {
                for (int seed = 0; seed < runs; seed++) {
                    GenerationRequest r = req.withSeed(seed);
                    if (k == 1) {
                        r = r.withSpeculation(new Speculation(drafter, 2));
                    }
                    Candidate c = Generator.generate(ctx, r).get(0);
                    int[] t = c.tokens();
                    long key = t.length < 2 ? -1 : (long) t[0] * v + t[1];
                    counts.computeIfAbsent(key, x -> new int[2])[k]++;
                    if (k == 1) {
                        total = total.plus(c.speculation());
                    }
                }
            }
            assertTrue(total.accepted() > 100 && total.drafted() - total.accepted() > 100,
                    "the guess was both kept and rejected often: " + total);
            // two-sample chi-square over cells with >= 10 draws in both samples together; the rest merged
            List<int[]> cells = new ArrayList<>();
            int[] rest = new int[2];
            for (int[] c : counts.values()) {
                if (c[0] + c[1] >= 10) {
                    cells.add(c);
                } else {
                    rest[0] += c[0];
                    rest[1] += c[1];
                }
            }
            if (rest[0] + rest[1] > 0) {
                cells.add(rest);
            }
            double chi2 = 0;
            for (int[] c : cells) {
                double e = (c[0] + c[1]) / 2.0;
                chi2 += (c[0] - e) * (c[0] - e) / e + (c[1] - e) * (c[1] - e) / e;
            }
            int df = cells.size() - 1;
            // generous: about 6 standard deviations above the mean of chi2(df)
            double bound = df + 6 * Math.sqrt(2.0 * df) + 5;
            assertTrue(df >= 4, "enough distinct pairs to compare: " + df);
            assertTrue(chi2 < bound, "chi2 " + chi2 + " over " + df + " degrees of freedom (bound " + bound + ")");
        }
    }

    private static int[] topIds(float[] logits, int k) {
        Integer[] ids = new Integer[logits.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        Arrays.sort(ids, (a, b) -> Float.compare(logits[b], logits[a]));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = ids[i];
        }
        return out;
    }
}
