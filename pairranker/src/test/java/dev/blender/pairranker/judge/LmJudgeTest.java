package dev.blender.pairranker.judge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.Batch;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.Ranking;
import dev.blender.pairranker.Rankings;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LmJudgeTest {
    static ContextOptions judgeContext(int sequences) {
        return ContextOptions.defaults().withContextSize(2048).withMaxSequences(sequences).withThreads(1);
    }

    @Test
    void theArithJudgeReadsItsVerdictTokensAndPrefersTheRightAnswerInBothOrders() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/judge.gguf"));
                LlamaContext ctx = m.newContext(judgeContext(16))) {
            LmJudge judge = new LmJudge(ctx, JudgeTemplate.arith());
            int[] v = judge.verdictTokens();
            assertEquals("X", m.vocab().text(v[0]));
            assertEquals("Y", m.vocab().text(v[1]));
            // README: "Q: 85+95= X: 180 Y: 171 Result:" -> " 180 Better: X", and the two other examples
            String[][] examples = {{"85+95=", "180", "171"}, {"39+99=", "138", "238"}, {"79+14=", "93", "83"}};
            for (String[] e : examples) {
                double[] s = judge.compare(e[0], List.of(e[1], e[2]),
                        List.of(new OrderedPair(0, 1), new OrderedPair(1, 0)));
                assertTrue(s[0] > 0, e[0] + ": right answer shown first must win, score " + s[0]);
                assertTrue(s[1] < 0, e[0] + ": right answer shown second must still win, score " + s[1]);
            }
        }
    }

    @Test
    void batchedPairsScoreExactlyAsOnePairAtATime() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/judge.gguf"));
                LlamaContext wide = m.newContext(judgeContext(12)); LlamaContext narrow = m.newContext(judgeContext(1))) {
            List<String> candidates = List.of("85", "84", "75", "95");
            List<OrderedPair> pairs = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    if (i != j) {
                        pairs.add(new OrderedPair(i, j));
                    }
                }
            }
            double[] batched = new LmJudge(wide, JudgeTemplate.arith()).compare("37+48=", candidates, pairs);
            double[] single = new LmJudge(narrow, JudgeTemplate.arith()).compare("37+48=", candidates, pairs);
            for (int p = 0; p < pairs.size(); p++) {
                assertEquals(single[p], batched[p], 2e-3, "pair " + pairs.get(p));
            }
        }
    }

    @Test
    void laterCallsReuseThePrefixesTheLastOneLeftAndScoreAsAFreshJudge() {
        // a bubble pass: each comparison shows the incumbent again, after the same question
        List<String> candidates = List.of("85", "84", "75", "95", "185");
        int[][] comparisons = {{1, 0}, {2, 0}, {3, 0}, {4, 3}};
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/judge.gguf"));
                LlamaContext kept = m.newContext(judgeContext(4)); LlamaContext fresh = m.newContext(judgeContext(4))) {
            LmJudge reusing = new LmJudge(kept, JudgeTemplate.arith());
            long freshTokens = 0;
            for (int i = 0; i < comparisons.length; i++) {
                int c = comparisons[i][0];
                int best = comparisons[i][1];
                List<OrderedPair> pairs = List.of(new OrderedPair(c, best), new OrderedPair(best, c));
                if (i == 2) {
                    // someone else uses the context between two calls: nothing stale may be reused
                    new LmJudge(kept, JudgeTemplate.arith()).compare("12+13=", List.of("25", "26"),
                            List.of(new OrderedPair(0, 1)));
                }
                long before = reusing.tokensDecoded();
                double[] again = reusing.compare("37+48=", candidates, pairs);
                LmJudge once = new LmJudge(fresh, JudgeTemplate.arith());
                double[] alone = once.compare("37+48=", candidates, pairs);
                for (int p = 0; p < 2; p++) {
                    assertEquals(alone[p], again[p], 2e-3, "comparison " + i + ", pair " + pairs.get(p));
                }
                long spent = reusing.tokensDecoded() - before;
                freshTokens += once.tokensDecoded();
                if (i == 1 || i == 3) {
                    assertTrue(spent < once.tokensDecoded(), "comparison " + i + " reused the incumbent's prefix: "
                            + spent + " tokens against " + once.tokensDecoded());
                } else {
                    assertEquals(once.tokensDecoded(), spent, "comparison " + i + " had nothing to reuse");
                }
                assertTrue(once.tokensGenerated() > 0 && once.tokensGenerated() < once.tokensDecoded(),
                        "the rationale is written and counted: " + once.tokensGenerated());
            }
            assertTrue(reusing.tokensDecoded() < freshTokens);
        }
    }

    @Test
    void rankingArithCandidatesMostlyPutsTheCorrectAnswerFirst() {
        String[][] problems = {{"85+95=", "180"}, {"39+99=", "138"}, {"77-67=", "10"}, {"79+14=", "93"},
            {"83+60=", "143"}, {"17+62=", "79"}, {"15+67=", "82"}, {"98+33=", "131"}, {"58+27=", "85"},
            {"96+56=", "152"}, {"16-16=", "0"}};
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/judge.gguf"));
                LlamaContext ctx = m.newContext(judgeContext(32))) {
            CachingPairRanker judge = new CachingPairRanker(new LmJudge(ctx, JudgeTemplate.arith()), 10_000);
            int[] correct = new int[Aggregation.values().length];
            for (String[] p : problems) {
                int gold = Integer.parseInt(p[1]);
                // the right answer among near misses, as the answerers make them, and an outlier; gold at index 1
                List<String> candidates = List.of(String.valueOf(gold + 1), p[1], String.valueOf(gold - 2),
                        String.valueOf(gold + 100));
                for (Aggregation a : Aggregation.values()) {
                    Ranking r = Rankings.rank(judge, p[0], candidates, a, 1, 3);
                    correct[a.ordinal()] += r.best() == 1 ? 1 : 0;
                }
            }
            System.out.println("arith judge top-1 correct of 11 (MaxLogits, MaxWins, bubble): "
                    + java.util.Arrays.toString(correct));
            for (Aggregation a : Aggregation.values()) {
                assertTrue(correct[a.ordinal()] >= 8, a + " found the right answer in " + correct[a.ordinal()] + " of 11");
            }
            assertEquals(11 * 12, judge.delegatePairs(), "MaxLogits scored 12 ordered pairs a problem; the rest were cached");
        }
    }

    @Test
    void unknownOrAmbiguousVerdictsAreRefused() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/judge.gguf"));
                LlamaContext ctx = m.newContext(judgeContext(2))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LmJudge(ctx,
                    new JudgeTemplate("Q: {instruction} X: {first} Y: {second} Result:", "Better:", " XY", " Y", 8)));
            assertTrue(e.getMessage().contains("not one token"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new LmJudge(ctx,
                    new JudgeTemplate("{instruction} {first} {second}", null, " X", " XX", 0)));
            assertTrue(e.getMessage().contains("prefix"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new JudgeTemplate("{instruction} {first}", null, "A", "B", 0));
        assertThrows(IllegalArgumentException.class, () -> new JudgeTemplate("{instruction} {first} {second}", null, "A", "A", 0));
    }

    @Test
    void aCancelledRankingStopsWithinAStepAndTheContextStaysUsable() {
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/judge.gguf"));
                LlamaContext ctx = m.newContext(judgeContext(8))) {
            int[] decodes = {0};
            LmJudge cancelling = new LmJudge(ctx, JudgeTemplate.arith(), () -> ++decodes[0] > 3);
            List<OrderedPair> pairs = List.of(new OrderedPair(0, 1), new OrderedPair(1, 0));
            assertThrows(java.util.concurrent.CancellationException.class,
                    () -> cancelling.compare("85+95=", List.of("180", "171"), pairs));
            assertEquals(4, decodes[0], "stopped at the first check after the cancel");
            double[] s = new LmJudge(ctx, JudgeTemplate.arith()).compare("85+95=", List.of("180", "171"), pairs);
            assertTrue(s[0] > 0 && s[1] < 0, "the same context still judges right");
        }
    }

    /**
     * A generated llama whose greedy next token depends only on the current token: attention and
     * feed-forward outputs are zero, so each position's state is its token's embedding, a one-hot
     * direction, and the unembedding maps directions to next tokens. Tokens in {@code next} get their
     * own direction; every other token is followed by {@code otherwise}.
     */
    static Path bigramLlama(Path file, Map<Integer, Integer> next, int otherwise) throws IOException {
        SyntheticLlama spec = SyntheticLlama.builder().layers(1).build();
        GgufWriter source = spec.writer();
        GgufWriter w = new GgufWriter();
        source.metadata().forEach(w::put);
        int emb = spec.embeddingLength();
        List<Integer> own = List.copyOf(next.keySet());
        for (TensorInfo t : source.tensors()) {
            String name = t.name();
            GgufWriter.TensorSource fill;
            if (name.equals("token_embd.weight")) {
                fill = (row, out) -> {
                    Arrays.fill(out, 0f);
                    out[own.contains((int) row) ? own.indexOf((int) row) : emb - 1] = 1f;
                };
            } else if (name.equals("output.weight")) {
                fill = (row, out) -> {
                    Arrays.fill(out, 0f);
                    for (int k = 0; k < own.size(); k++) {
                        if (next.get(own.get(k)) == row) {
                            out[k] = 10f;
                        }
                    }
                    if (row == otherwise) {
                        out[emb - 1] = 10f;
                    }
                };
            } else if (name.endsWith("norm.weight")) {
                fill = (row, out) -> Arrays.fill(out, 1f);
            } else {
                fill = (row, out) -> Arrays.fill(out, 0f); // the writer reuses its row buffer
            }
            w.tensor(name, GgmlType.F32, t.dims(), fill);
        }
        w.write(file);
        return file;
    }

    @Test
    void aRationaleReachesAStopWhoseCharacterSpansSeveralTokens(@TempDir Path dir) throws IOException {
        // "é" is two byte tokens in the generated vocabulary; the model writes exactly them after any token
        int first = 3 + 0xC3;
        int second = 3 + 0xA9;
        Path file = bigramLlama(dir.resolve("bigram.gguf"), Map.of(first, second, second, first), first);
        try (LlamaModel m = LlamaModel.load(file); LlamaContext ctx = m.newContext(judgeContext(2))) {
            assertEquals("é", m.vocab().detokenize(new int[] {first, second}, false, false), "the vocabulary's bytes");
            List<OrderedPair> pairs = List.of(new OrderedPair(0, 1), new OrderedPair(1, 0));
            long[] cost = new long[2];
            double[][] scores = new double[2][];
            int[] budgets = {2, 12};
            for (int b = 0; b < 2; b++) {
                LmJudge judge = new LmJudge(ctx, new JudgeTemplate("Q: {instruction} X: {first} Y: {second} R:",
                        "é", " X", " Y", budgets[b]));
                scores[b] = judge.compare("2+2=", List.of("4", "5"), pairs);
                cost[b] = judge.tokensDecoded();
            }
            // split into pieces the rationale never reads as "é", runs to its budget and gets the stop forced
            assertEquals(cost[0], cost[1], "the rationale stops at its stop text, whatever the budget");
            assertEquals(scores[0][0], scores[1][0], 1e-6);
            assertEquals(scores[0][1], scores[1][1], 1e-6);
        }
    }

    @Test
    void aStopForcedAfterTheBudgetScoresAsThoughDecodedInOneGo() {
        String stop = "!?!";
        JudgeTemplate template = new JudgeTemplate("Q: {instruction} X: {first} Y: {second} R:", stop, "X", "Y", 3);
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(judgeContext(2));
                LlamaContext plain = m.newContext(judgeContext(1))) {
            LmJudge judge = new LmJudge(ctx, template);
            double[] s = judge.compare("2+2=", List.of("4", "5"), List.of(new OrderedPair(0, 1)));
            // the same tokens decoded one by one: the prompt, the greedy rationale, then the stop text as it
            // follows text (random weights never write "!?!" themselves)
            var vocab = m.vocab();
            int[] base = vocab.tokenize("a", false, false);
            int[] with = vocab.tokenize("a" + stop, false, false);
            int[] stopTokens = Arrays.copyOfRange(with, base.length, with.length);
            assertTrue(stopTokens.length > 1, "a stop of several tokens: " + Arrays.toString(stopTokens));
            int[] v = judge.verdictTokens();
            double expected;
            try (var d = new dev.blender.nativebridge.generation.SequenceDecoder(plain)) {
                d.prefill(0, vocab.tokenize(template.render("2+2=", "4", "5")));
                float[] logits = new float[m.vocab().size()];
                for (int step = 0; step < 3; step++) {
                    d.copyLogits(0, logits);
                    int next = dev.blender.nativebridge.generation.Sampler.argmax(logits, logits.length);
                    assertTrue(!vocab.isEndOfGeneration(next), "the rationale runs to its budget");
                    d.step(new int[] {0}, new int[] {next});
                }
                for (int t : stopTokens) {
                    d.step(new int[] {0}, new int[] {t});
                }
                d.copyLogits(0, logits);
                expected = logits[v[0]] - logits[v[1]];
            }
            assertTrue(Math.abs(expected) > 1e-3, "a verdict the tokens decide: " + expected);
            assertEquals(expected, s[0], 1e-3);
            assertEquals(3 + stopTokens.length, judge.tokensGenerated(), "the budget, then the whole stop");
        }
    }

    /** A comparison's prompt as an instruction-tuned judge must read it, rendered and tokenised by hand. */
    private static double scoreByHand(LlamaModel m, String rendered, String first, String second) {
        var vocab = m.vocab();
        int[] prompt = vocab.tokenizeChat(rendered);
        int a = vocab.tokenize(first, false, false)[0];
        int b = vocab.tokenize(second, false, false)[0];
        try (LlamaContext ctx = m.newContext(judgeContext(1)); Batch batch = Batch.create(prompt.length)) {
            batch.addSequence(prompt, 0, 0, true);
            ctx.decode(batch);
            float[] logits = ctx.logitsArray(prompt.length - 1);
            return logits[a] - logits[b];
        }
    }

    @Test
    void anInstructJudgeReadsTheComparisonAsAUserTurnAndItsVerdictAtTheAnswersStart() {
        // chatml with a byte-level BPE vocabulary whose <|im_start|> and <|im_end|> are special tokens
        SyntheticLlama spec = SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                .chatTemplate(TestModels.CHATML).build();
        JudgeTemplate instruct = JudgeTemplate.instruct();
        try (LlamaModel m = LlamaModel.load(TestModels.generated("chatml-bpe", spec));
                LlamaContext ctx = m.newContext(judgeContext(2))) {
            LmJudge judge = new LmJudge(ctx, instruct);
            assertEquals(1, m.vocab().tokenize("A", false, false).length, "A and B are single tokens here");
            double[] got = judge.compare("2+2=", List.of("4", "5"), List.of(new OrderedPair(0, 1), new OrderedPair(1, 0)));
            String ab = "<|im_start|>user\n" + instruct.render("2+2=", "4", "5") + "<|im_end|>\n<|im_start|>assistant\n";
            String ba = "<|im_start|>user\n" + instruct.render("2+2=", "5", "4") + "<|im_end|>\n<|im_start|>assistant\n";
            assertEquals(scoreByHand(m, ab, "A", "B"), got[0], 1e-3);
            assertEquals(scoreByHand(m, ba, "A", "B"), got[1], 1e-3);
        }
    }

    @Test
    void aThinkingPartTheJudgesTemplateOpensIsClosedBeforeTheVerdict() {
        // as DeepSeek-R1's distills do: the generation prompt opens <think> and nothing closes it
        String r1 = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                + "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";
        SyntheticLlama spec = SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                .chatTemplate(r1).build();
        JudgeTemplate instruct = JudgeTemplate.instruct();
        try (LlamaModel m = LlamaModel.load(TestModels.generated("r1-bpe", spec));
                LlamaContext ctx = m.newContext(judgeContext(1))) {
            double[] got = new LmJudge(ctx, instruct).compare("2+2=", List.of("4", "5"), List.of(new OrderedPair(0, 1)));
            String ab = "<|im_start|>user\n" + instruct.render("2+2=", "4", "5") + "<|im_end|>\n<|im_start|>assistant\n"
                    + "<think>\n\n</think>\n\n";
            assertEquals(scoreByHand(m, ab, "A", "B"), got[0], 1e-3);
        }
    }

    @Test
    void aJudgeWithoutAChatTemplateReadsTheInstructPromptAsItIs() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(judgeContext(1))) {
            JudgeTemplate instruct = JudgeTemplate.instruct();
            LmJudge judge = new LmJudge(ctx, instruct);
            judge.compare("2+2=", List.of("4", "5"), List.of(new OrderedPair(0, 1)));
            assertEquals(m.vocab().tokenize(instruct.render("2+2=", "4", "5")).length, judge.tokensDecoded());
        }
    }
}
