package dev.blender.nativebridge.generation;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.DecodeException;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SequenceDecoder.LogitsFor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SequenceDecoderTest {
    /** Batched and separate decodes differ only by float summation order. */
    private static final float TOLERANCE = 1e-4f;

    private static LlamaModel model;

    @BeforeAll
    static void load() {
        model = LlamaModel.load(TestModels.tiny());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static ContextOptions opts(int seqs, int batch) {
        return ContextOptions.defaults().withContextSize(256).withBatchSize(batch).withMaxSequences(seqs)
                .withThreads(1);
    }

    private static int[] tokens(String text) {
        return model.vocab().tokenize(text);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Logits after the last token of a prompt decoded alone in a fresh context. */
    private static float[] alone(int[] prompt) {
        try (LlamaContext ctx = model.newContext(opts(1, 128)); SequenceDecoder d = new SequenceDecoder(ctx)) {
            d.prefill(0, prompt);
            return d.logits(0).toArray(JAVA_FLOAT);
        }
    }

    @Test
    void forkedSequencesGiveTheLogitsOfEachPromptDecodedSeparately() {
        int[] prefix = tokens("Once upon a time");
        int[][] suffixes = {model.vocab().tokenize(" there was", false, false),
            model.vocab().tokenize(" a cat sat", false, false), model.vocab().tokenize(" Lily", false, false)};
        try (LlamaContext ctx = model.newContext(opts(3, 128)); SequenceDecoder d = new SequenceDecoder(ctx)) {
            d.prefill(0, prefix);
            d.fork(0, 1);
            d.fork(0, 2);
            assertEquals(prefix.length, ctx.usedCells(), "forks share the prefix's cells");
            assertClose(d.logits(0).toArray(JAVA_FLOAT), d.logits(2).toArray(JAVA_FLOAT), "a fork reads its source's logits");
            d.append(new int[] {0, 1, 2}, suffixes, LogitsFor.LAST);
            for (int s = 0; s < 3; s++) {
                assertEquals(prefix.length + suffixes[s].length, d.position(s));
                assertClose(alone(concat(prefix, suffixes[s])), d.logits(s).toArray(JAVA_FLOAT), "sequence " + s);
            }
        }
    }

    @Test
    void aStepOfSeveralSequencesEqualsSteppingEachAlone() {
        int[] prompt = tokens("The cat sat on the mat and");
        int[][] steps = {{300, 301, 302}, {410, 411, 412}};
        try (LlamaContext ctx = model.newContext(opts(3, 128)); SequenceDecoder d = new SequenceDecoder(ctx)) {
            d.prefill(0, prompt);
            d.fork(0, 1);
            d.fork(0, 2);
            for (int[] step : steps) {
                d.step(new int[] {0, 1, 2}, step);
            }
            for (int s = 0; s < 3; s++) {
                float[] together = d.logits(s).toArray(JAVA_FLOAT);
                try (LlamaContext one = model.newContext(opts(1, 128)); SequenceDecoder e = new SequenceDecoder(one)) {
                    e.prefill(0, prompt);
                    for (int[] step : steps) {
                        e.step(new int[] {0}, new int[] {step[s]});
                    }
                    assertEquals(d.position(s), e.position(0));
                    assertClose(e.logits(0).toArray(JAVA_FLOAT), together, "sequence " + s);
                }
            }
        }
    }

    @Test
    void appendsLargerThanTheBatchAreSplitAndKeepEveryLogitsRow() {
        try (LlamaContext ctx = model.newContext(opts(3, 4).withContextSize(512));
                SequenceDecoder d = new SequenceDecoder(ctx)) {
            // llama.cpp may raise a tiny batch size; the text spans several batches of whatever it chose
            int[] text = new int[2 * ctx.batchSize() + 5];
            for (int i = 0; i < text.length; i++) {
                text[i] = 300 + (i * 7) % 200;
            }
            float[][] wide = new float[text.length][];
            try (LlamaContext one = model.newContext(opts(1, 512).withContextSize(512));
                    SequenceDecoder w = new SequenceDecoder(one)) {
                w.append(0, text, 0);
                for (int i = 0; i < text.length; i++) {
                    wide[i] = w.logits(0, i).toArray(JAVA_FLOAT);
                }
            }
            d.append(0, text, 0);
            assertEquals(text.length, d.tokensDecoded());
            for (int i = 0; i < text.length; i++) {
                assertClose(wide[i], d.logits(0, i).toArray(JAVA_FLOAT), "position " + i);
            }
            // several sequences whose tokens together span batches: logits of the earlier batches are kept
            int b = ctx.batchSize();
            int[] seqs = {0, 1, 2};
            int[][] more = new int[3][b];
            for (int s = 0; s < 3; s++) {
                if (s > 0) {
                    d.fork(0, s);
                }
                Arrays.fill(more[s], 300 + s);
            }
            d.append(seqs, more, LogitsFor.LAST);
            for (int s = 0; s < 3; s++) {
                assertEquals(text.length + b, d.position(s));
                try (LlamaContext one = model.newContext(opts(1, 512).withContextSize(512));
                        SequenceDecoder w = new SequenceDecoder(one)) {
                    w.prefill(0, concat(text, more[s]));
                    assertClose(w.logits(0).toArray(JAVA_FLOAT), d.logits(s).toArray(JAVA_FLOAT), "sequence " + s);
                }
            }
        }
    }

    @Test
    void endFreesCellsAndCapacityErrorsComeBeforeAnyDecode() {
        try (LlamaContext ctx = model.newContext(opts(2, 128).withContextSize(32));
                SequenceDecoder d = new SequenceDecoder(ctx)) {
            int[] prompt = new int[ctx.contextSize() - 1];
            Arrays.fill(prompt, 300);
            d.prefill(0, prompt);
            d.fork(0, 1);
            assertEquals(1, d.freeCells());
            DecodeException e = assertThrows(DecodeException.class, () -> d.step(new int[] {0, 1}, new int[] {5, 6}));
            assertTrue(e.isKvCacheFull());
            assertTrue(e.getMessage().contains("1 of the context's " + ctx.contextSize() + " cells are free"),
                    e.getMessage());
            assertEquals(prompt.length, d.position(0), "nothing was decoded");
            assertEquals(0, d.tokensDecoded() - prompt.length);
            d.end(1);
            assertFalse(d.isLive(1));
            d.step(new int[] {0}, new int[] {5});
            assertEquals(0, d.freeCells());
            d.end(0);
            assertEquals(ctx.contextSize(), d.freeCells());
        }
    }

    @Test
    void staleOrMissingLogitsAreClearErrors() {
        try (LlamaContext ctx = model.newContext(opts(2, 128)); SequenceDecoder d = new SequenceDecoder(ctx)) {
            int[] prompt = tokens("Lily");
            d.prefill(0, prompt);
            MemorySegment view = d.logits(0);
            d.prefill(1, prompt);
            IllegalStateException stale = assertThrows(IllegalStateException.class, () -> d.logits(0));
            assertTrue(stale.getMessage().contains("stale"), stale.getMessage());
            assertThrows(IllegalStateException.class, () -> view.getAtIndex(JAVA_FLOAT, 0),
                    "a view held past the next decode must not read reused memory");
            IllegalStateException notAsked = assertThrows(IllegalStateException.class, () -> d.logits(1, 0));
            assertTrue(notAsked.getMessage().contains("no logits for position 0"), notAsked.getMessage());
            d.append(1, new int[] {300}, 1);
            assertTrue(assertThrows(IllegalStateException.class, () -> d.logits(1)).getMessage()
                    .contains("asked for none"));
            d.end(0);
            assertThrows(IllegalStateException.class, () -> d.logits(0), "an ended sequence has no logits");
            assertThrows(IllegalArgumentException.class, () -> d.step(new int[] {2}, new int[] {300}),
                    "sequence ids beyond maxSequences");
            assertThrows(IllegalArgumentException.class, () -> d.step(new int[] {1, 1}, new int[] {300, 301}));
            assertThrows(IllegalArgumentException.class, () -> d.prefill(1, prompt), "prefill needs an empty sequence");
            assertThrows(IllegalArgumentException.class, () -> d.fork(0, 1), "fork into a live sequence");
            d.reset();
            assertFalse(d.isLive(0));
            assertEquals(0, ctx.usedCells());
        }
    }

    @Test
    void cancellationStopsBeforeTheNextDecode() {
        boolean[] cancelled = {false};
        try (LlamaContext ctx = model.newContext(opts(1, 4)); SequenceDecoder d = new SequenceDecoder(ctx, () -> cancelled[0])) {
            d.prefill(0, tokens("Once upon a time"));
            cancelled[0] = true;
            long before = d.tokensDecoded();
            assertThrows(CancellationException.class, () -> d.step(new int[] {0}, new int[] {300}));
            assertEquals(before, d.tokensDecoded());
            d.reset();
            cancelled[0] = false;
            d.prefill(0, tokens("Lily"));
            assertEquals(tokens("Lily").length, d.position(0));
        }
    }

    @Test
    void sharedPrefillDecodesEachDistinctPrefixOnceAndGivesEachPromptsOwnLogits() {
        int[] p = tokens("Once upon a time there was");
        int[] a = model.vocab().tokenize(" a little dog", false, false);
        int[] b = model.vocab().tokenize(" a big cat who", false, false);
        int[][] prompts = {concat(p, a), concat(p, b), concat(p, a), p, Arrays.copyOf(p, 1),
            concat(tokens("Lily"), a)};
        int[] seqs = {5, 0, 2, 1, 3, 4};
        // what sharing should cost: every distinct prefix (all tokens but the last) once, then every last token
        java.util.Set<java.util.List<Integer>> prefixes = new java.util.HashSet<>();
        for (int[] q : prompts) {
            for (int k = 1; k < q.length; k++) {
                prefixes.add(Arrays.stream(Arrays.copyOf(q, k)).boxed().toList());
            }
        }
        try (LlamaContext ctx = model.newContext(opts(6, 128)); SequenceDecoder d = new SequenceDecoder(ctx)) {
            d.prefillShared(seqs, prompts);
            assertEquals(prefixes.size() + prompts.length, d.tokensDecoded());
            for (int i = 0; i < prompts.length; i++) {
                assertEquals(prompts[i].length, d.position(seqs[i]));
                assertTrue(Arrays.equals(prompts[i], d.tokens(seqs[i])), "prompt " + i);
                assertClose(alone(prompts[i]), d.logits(seqs[i]).toArray(JAVA_FLOAT), "prompt " + i);
            }
            // the sequences go on independently
            d.step(seqs, new int[] {300, 301, 302, 303, 304, 305});
            assertClose(alone(concat(prompts[1], new int[] {301})), d.logits(0).toArray(JAVA_FLOAT), "a step after");
            assertThrows(IllegalArgumentException.class, () -> d.prefillShared(new int[] {0}, new int[][] {p}),
                    "prefill needs empty sequences");
        }
    }

    @Test
    void aResumedDecoderSharesWhatTheLastOneLeftUnlessTheContextWasUsedSince() {
        int[] question = tokens("Once upon a time there was a little");
        int[] first = concat(question, model.vocab().tokenize(" dog", false, false));
        int[] second = concat(question, model.vocab().tokenize(" cat and", false, false));
        try (LlamaContext ctx = model.newContext(opts(3, 128))) {
            SequenceDecoder.Snapshot left;
            try (SequenceDecoder d = new SequenceDecoder(ctx)) {
                d.prefillShared(new int[] {0}, new int[][] {first});
                d.step(new int[] {0}, new int[] {300}); // a continuation the next call does not share
                left = d.snapshot();
            }
            assertTrue(left.isCurrent());
            try (SequenceDecoder d = new SequenceDecoder(ctx, () -> false, left)) {
                assertEquals(first.length + 1, d.position(0), "the sequence is still there");
                d.prefillShared(new int[] {1}, new int[][] {second});
                int shared = 0;
                while (first[shared] == second[shared]) {
                    shared++;
                }
                assertTrue(shared >= question.length);
                assertEquals(second.length - shared, d.tokensDecoded(), "only what follows the shared part");
                assertClose(alone(second), d.logits(1).toArray(JAVA_FLOAT), "resumed");
                left = d.snapshot();
            }
            ctx.removeSequence(1, 2, -1); // someone else edits the cache
            assertFalse(left.isCurrent());
            try (SequenceDecoder d = new SequenceDecoder(ctx, () -> false, left)) {
                assertFalse(d.isLive(0), "a snapshot the context has moved on from is not resumed");
                assertEquals(0, ctx.usedCells());
                d.prefillShared(new int[] {1}, new int[][] {second});
                assertEquals(second.length, d.tokensDecoded());
                assertClose(alone(second), d.logits(1).toArray(JAVA_FLOAT), "fresh");
                d.fork(1, 2, question.length);
                assertTrue(Arrays.equals(question, d.tokens(2)));
                assertEquals(second.length, ctx.usedCells(), "a partial fork shares cells too");
                assertThrows(IllegalStateException.class, () -> d.logits(2), "a partial fork has no logits");
                d.append(2, model.vocab().tokenize(" cat and", false, false), 0);
                assertClose(alone(second), d.logits(2).toArray(JAVA_FLOAT), "continued from the partial fork");
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        float worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        float w = worst;
        assertTrue(worst <= TOLERANCE, () -> what + ": max |diff| " + w);
    }
}
