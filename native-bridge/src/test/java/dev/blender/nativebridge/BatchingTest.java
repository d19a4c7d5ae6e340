package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Batched and prefix-shared decoding must give what K independent runs give. */
class BatchingTest {
    private static final float TOLERANCE = 1e-4f;
    private static final String[] PROMPTS = {
        "Once upon a time", "The cat sat on the mat and", "Lily", "One day, a big dog named Max went to the park"};

    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("generated", (Supplier<Path>) TestModels::tiny),
                Arguments.of("stories260K", (Supplier<Path>) TestModels::stories));
    }

    private static ContextOptions opts(int seqs) {
        return ContextOptions.defaults().withContextSize(512).withBatchSize(128).withMaxSequences(seqs).withThreads(1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void batchOfKSequencesEqualsKSeparateRuns(String name, Supplier<Path> model) {
        try (LlamaModel m = LlamaModel.load(model.get())) {
            int k = PROMPTS.length;
            float[][] separate = new float[k][];
            for (int s = 0; s < k; s++) {
                try (LlamaContext ctx = m.newContext(opts(1))) {
                    separate[s] = LlamaModelTest.lastLogits(ctx, m.vocab().tokenize(PROMPTS[s]));
                }
            }
            try (LlamaContext ctx = m.newContext(opts(k)); Batch batch = Batch.create(128)) {
                int[] rows = new int[k];
                for (int s = 0; s < k; s++) {
                    rows[s] = batch.addSequence(m.vocab().tokenize(PROMPTS[s]), 0, s, true);
                }
                ctx.decode(batch);
                for (int s = 0; s < k; s++) {
                    assertClose(separate[s], ctx.logitsArray(rows[s]), name + " sequence " + s);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void sharedPrefixEqualsDecodingItKTimes(String name, Supplier<Path> model) {
        try (LlamaModel m = LlamaModel.load(model.get())) {
            int k = 4;
            int[] prompt = m.vocab().tokenize("Once upon a time, there was a");
            int[] next = {m.vocab().tokenize(" little", false, false)[0], m.vocab().tokenize(" big", false, false)[0],
                m.vocab().tokenize(" dog", false, false)[0], m.vocab().tokenize(" cat", false, false)[0]};
            // reference: prompt + continuation decoded from scratch, K times
            float[][] expected = new float[k][];
            for (int s = 0; s < k; s++) {
                int[] full = java.util.Arrays.copyOf(prompt, prompt.length + 1);
                full[prompt.length] = next[s];
                try (LlamaContext ctx = m.newContext(opts(1))) {
                    expected[s] = LlamaModelTest.lastLogits(ctx, full);
                }
            }
            try (LlamaContext ctx = m.newContext(opts(k)); Batch batch = Batch.create(64, k)) {
                int last = batch.addSequence(prompt, 0, 0, true);
                ctx.decode(batch);
                float[] promptLogits = ctx.logitsArray(last);
                for (int s = 1; s < k; s++) {
                    ctx.copySequence(0, s);
                }
                assertEquals(prompt.length - 1, ctx.sequenceMaxPosition(k - 1));
                assertEquals(prompt.length, ctx.usedCells(), "copied cells are shared, not duplicated");
                batch.clear();
                int[] rows = new int[k];
                for (int s = 0; s < k; s++) {
                    rows[s] = batch.add(next[s], prompt.length, s, true);
                }
                ctx.decode(batch);
                for (int s = 0; s < k; s++) {
                    assertClose(expected[s], ctx.logitsArray(rows[s]), name + " continuation " + s);
                }
                // and the prompt's own next-token logits equal those of a plain single run
                try (LlamaContext single = m.newContext(opts(1))) {
                    assertClose(LlamaModelTest.lastLogits(single, prompt), promptLogits, name + " prompt");
                }
                // a token shared by several sequences in one batch: the multi-seq-id path
                ctx.clearKvCache();
                batch.clear();
                int[] all = {0, 1, 2, 3};
                for (int i = 0; i < prompt.length; i++) {
                    batch.add(prompt[i], i, all, false);
                }
                ctx.decode(batch);
                batch.clear();
                for (int s = 0; s < k; s++) {
                    rows[s] = batch.add(next[s], prompt.length, s, true);
                }
                ctx.decode(batch);
                for (int s = 0; s < k; s++) {
                    assertClose(expected[s], ctx.logitsArray(rows[s]), name + " multi-seq-id " + s);
                }
            }
        }
    }

    @Test
    void kvCacheOperations() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(opts(3));
                Batch batch = Batch.create(64, 3)) {
            int[] prompt = m.vocab().tokenize("a b c d e f");
            batch.addSequence(prompt, 0, 0, true);
            ctx.decode(batch);
            ctx.copySequence(0, 1);
            ctx.copySequence(0, 2, 0, 3);
            assertEquals(prompt.length - 1, ctx.sequenceMaxPosition(1));
            assertEquals(2, ctx.sequenceMaxPosition(2));
            assertTrue(ctx.removeSequence(1, 2, -1));
            assertEquals(1, ctx.sequenceMaxPosition(1));
            ctx.keepSequence(0);
            assertEquals(-1, ctx.sequenceMaxPosition(1), "an empty sequence has no position, on every ABI");
            assertEquals(prompt.length - 1, ctx.sequenceMaxPosition(0));
            assertEquals(prompt.length, ctx.usedCells());
            assertTrue(ctx.removeSequence(0));
            assertEquals(0, ctx.usedCells());
            assertThrows(IllegalArgumentException.class, () -> ctx.copySequence(0, 3), "seq 3 >= maxSequences");
        }
    }

    @Test
    void invalidBatchesAreRefusedBeforeNativeCode() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny());
                LlamaContext ctx = m.newContext(opts(2).withBatchSize(8));
                Batch batch = Batch.create(256)) {
            int limit = ctx.batchSize(); // llama.cpp raises small n_batch values to its minimum
            assertTrue(limit >= 8 && limit < 256, "" + limit);
            assertThrows(IllegalArgumentException.class, () -> ctx.decode(batch), "empty batch");
            batch.add(m.vocab().size(), 0, 0, true);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ctx.decode(batch));
            assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
            batch.clear();
            batch.add(5, 0, 2, true);
            e = assertThrows(IllegalArgumentException.class, () -> ctx.decode(batch));
            assertTrue(e.getMessage().contains("sequence id 2"), e.getMessage());
            batch.clear();
            for (int i = 0; i <= limit; i++) {
                batch.add(5, i, 0, false);
            }
            e = assertThrows(IllegalArgumentException.class, () -> ctx.decode(batch));
            assertTrue(e.getMessage().contains("batchSize " + limit), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> batch.add(5, -1, 0, false));
            assertThrows(IllegalStateException.class, () -> {
                for (int i = 0; i < 300; i++) {
                    batch.add(5, i, 0, false);
                }
            });
            // the context is still usable after all refusals
            batch.clear();
            batch.add(5, 0, 0, true);
            ctx.decode(batch);
            assertEquals(ctx.vocabSize(), ctx.logitsArray(0).length);
        }
    }

    @Test
    void fullKvCacheIsADecodeExceptionAndTheContextSurvives() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny());
                LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64).withBatchSize(64)
                        .withThreads(1));
                Batch batch = Batch.create(64)) {
            int cells = ctx.contextSize();
            int pos = 0;
            DecodeException full = null;
            for (int step = 0; step < cells + 2 && full == null; step++) {
                batch.clear();
                batch.add(7, pos++, 0, true);
                try {
                    ctx.decode(batch);
                } catch (DecodeException e) {
                    full = e;
                }
            }
            assertTrue(full != null, "decoding past " + cells + " cells must fail");
            assertTrue(full.isKvCacheFull(), full.getMessage());
            assertTrue(full.getMessage().contains("contextSize"), full.getMessage());
            assertTrue(ctx.removeSequence(0));
            batch.clear();
            batch.add(7, 0, 0, true);
            ctx.decode(batch);
        }
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        float worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            float d = Math.abs(expected[i] - actual[i]);
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        float w = worst;
        int a = at;
        assertTrue(worst <= TOLERANCE, () -> what + ": max |diff| " + w + " at token " + a);
    }
}
