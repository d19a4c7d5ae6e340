package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class GeneratorTest {

    static ContextOptions ctxFor(int candidates, int cells) {
        return ContextOptions.defaults().withContextSize(cells).withBatchSize(256).withMaxSequences(candidates)
                .withThreads(1);
    }

    @Test
    void greedyCandidateMatchesAPlainGreedyLoopAndHasLogProbs() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(ctxFor(1, 256))) {
            int[] prompt = m.vocab().tokenize("Once upon a time");
            Candidate c = Generator.generate(ctx, GenerationRequest.of(prompt).withMaxTokens(40)).get(0);
            assertEquals(FinishReason.LENGTH, c.finishReason());
            assertEquals(40, c.tokenCount());
            assertEquals(m.vocab().detokenize(c.tokens(), false, false), c.text());
            // reference: decode prompt + output in one go and check each token was the argmax, with its log-prob
            int[] full = new int[prompt.length + c.tokenCount()];
            System.arraycopy(prompt, 0, full, 0, prompt.length);
            System.arraycopy(c.tokens(), 0, full, prompt.length, c.tokenCount());
            try (LlamaContext ref = m.newContext(ctxFor(1, 256)); dev.blender.nativebridge.Batch b =
                    dev.blender.nativebridge.Batch.create(full.length)) {
                for (int i = 0; i < full.length; i++) {
                    b.add(full[i], i, 0, i >= prompt.length - 1);
                }
                ref.decode(b);
                for (int k = 0; k < c.tokenCount(); k++) {
                    float[] row = ref.logitsArray(prompt.length - 1 + k);
                    assertEquals(Sampler.argmax(row, row.length), c.tokens()[k], "token " + k);
                    // one-token steps and one long batch differ in float rounding (the KV cache is F16)
                    assertEquals(Sampler.logProbability(row, row.length, c.tokens()[k]), c.logProbs()[k], 5e-3f);
                    assertTrue(c.logProbs()[k] <= 0);
                }
            }
            assertTrue(c.promptMillis() > 0 && c.generationMillis() > 0 && c.tokensPerSecond() > 0);
        }
    }

    @Test
    void batchedCandidatesEqualSequentialRunsWithTheSameSeeds() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories())) {
            int[] prompt = m.vocab().tokenize("Lily and Ben went to the park. They");
            GenerationRequest req = GenerationRequest.of(prompt).withCandidates(4).withMaxTokens(24).withSeed(42)
                    .withSampler(SamplerOptions.defaults().withTemperature(1.0f));
            List<Candidate> batched;
            try (LlamaContext ctx = m.newContext(ctxFor(4, 256))) {
                batched = Generator.generate(ctx, req);
            }
            assertEquals(4, batched.size());
            long distinct = batched.stream().map(Candidate::text).distinct().count();
            assertTrue(distinct >= 2, "sampling at temperature 1 should give different candidates: " + batched);
            for (int i = 0; i < 4; i++) {
                try (LlamaContext ctx = m.newContext(ctxFor(1, 256))) {
                    Candidate single = Generator.generate(ctx, req.withCandidates(1).withSeed(42 + i)).get(0);
                    assertArrayEquals(single.tokens(), batched.get(i).tokens(), "candidate " + i);
                    assertEquals(single.text(), batched.get(i).text());
                }
            }
        }
    }

    @Test
    void stopStringsEndACandidateAndStreamingDeliversTheSameText() {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(ctxFor(3, 512))) {
            int[] prompt = m.vocab().tokenize("Once upon a time");
            Map<Integer, StringBuilder> streamed = new ConcurrentHashMap<>();
            List<Candidate> finished = new ArrayList<>();
            TokenListener listener = new TokenListener() {
                @Override
                public void onToken(int candidate, int token, String text) {
                    streamed.computeIfAbsent(candidate, k -> new StringBuilder()).append(text);
                }

                @Override
                public void onFinish(Candidate c) {
                    finished.add(c);
                }
            };
            List<Candidate> out = Generator.generate(ctx, GenerationRequest.of(prompt).withCandidates(3)
                    .withMaxTokens(100).withStop(List.of(".")).withSeed(3)
                    .withSampler(SamplerOptions.defaults()), listener);
            assertEquals(3, finished.size());
            for (Candidate c : out) {
                assertEquals(FinishReason.STOP, c.finishReason(), c.toString());
                assertFalse(c.text().contains("."), c.text());
                assertEquals(c.text(), streamed.get(c.index()).toString());
                assertTrue(c.generationMillis() > 0);
            }
        }
    }

    @Test
    void cancellationFromAnotherThreadStopsPromptlyAndTheContextStaysUsable() throws Exception {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(ctxFor(2, 1024))) {
            int[] prompt = m.vocab().tokenize("Once upon a time");
            GenerationRequest base = GenerationRequest.of(prompt).withCandidates(2).withMaxTokens(400)
                    .withSampler(SamplerOptions.defaults()).withSeed(9);
            Cancellation cancel = new Cancellation();
            CountDownLatch started = new CountDownLatch(5);
            CountDownLatch cancelled = new CountDownLatch(1);
            AtomicInteger tokensAfterCancel = new AtomicInteger();
            ExecutorService canceller = Executors.newSingleThreadExecutor();
            Future<?> f = canceller.submit(() -> {
                started.await();
                cancel.cancel();
                cancelled.countDown();
                return null;
            });
            List<Candidate> out = Generator.generate(ctx, base.withCancellation(cancel), (c, t, s) -> {
                if (cancel.isCancelled()) {
                    tokensAfterCancel.incrementAndGet();
                }
                started.countDown();
                if (started.getCount() == 0) {
                    try {
                        // hold the generating thread until the other thread has cancelled: no timing luck needed
                        assertTrue(cancelled.await(10, TimeUnit.SECONDS));
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
            f.get(10, TimeUnit.SECONDS);
            canceller.shutdown();
            for (Candidate c : out) {
                assertEquals(FinishReason.CANCELLED, c.finishReason());
                assertTrue(c.tokenCount() < 400);
            }
            assertTrue(tokensAfterCancel.get() <= 2, "at most one step after the cancel: " + tokensAfterCancel);
            // the same context then gives exactly what a fresh one gives
            List<Candidate> reused = Generator.generate(ctx, base.withMaxTokens(30));
            try (LlamaContext fresh = m.newContext(ctxFor(2, 1024))) {
                List<Candidate> clean = Generator.generate(fresh, base.withMaxTokens(30));
                for (int i = 0; i < 2; i++) {
                    assertArrayEquals(clean.get(i).tokens(), reused.get(i).tokens());
                }
            }
        }
    }

    @Test
    void contextTooSmallIsACleanFinishOrARefusal() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(ctxFor(4, 64))) {
            int[] prompt = m.vocab().tokenize("a b c d e f g h");
            List<Candidate> out = Generator.generate(ctx, GenerationRequest.of(prompt).withCandidates(4)
                    .withMaxTokens(100).withSampler(SamplerOptions.defaults()));
            for (Candidate c : out) {
                assertTrue(c.finishReason() == FinishReason.CONTEXT_FULL
                        || c.finishReason() == FinishReason.END_OF_GENERATION, c.finishReason().toString());
            }
            int[] huge = new int[ctx.contextSize() + 6]; // llama.cpp may round the size up
            java.util.Arrays.fill(huge, 10);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Generator.generate(ctx, GenerationRequest.of(huge)));
            assertTrue(e.getMessage().contains("contextSize"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> Generator.generate(ctx, GenerationRequest.of(prompt).withCandidates(5)));
        }
    }

    @Test
    void fourThreadsEachWithItsOwnModelAndContextTwentyTimes() throws Exception {
        int[][] expected = new int[4][];
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(ctxFor(1, 256))) {
            for (int t = 0; t < 4; t++) {
                expected[t] = Generator.generate(ctx, request(m, t)).get(0).tokens();
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                fs.add(pool.submit(() -> {
                    try (LlamaModel m = LlamaModel.load(TestModels.stories());
                            LlamaContext ctx = m.newContext(ctxFor(1, 256))) {
                        for (int i = 0; i < 20; i++) {
                            assertArrayEquals(expected[thread], Generator.generate(ctx, request(m, thread)).get(0).tokens(),
                                    "thread " + thread + " run " + i);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static GenerationRequest request(LlamaModel m, int t) {
        String[] prompts = {"Once upon a time", "The dog", "Tom had a", "One day"};
        return GenerationRequest.of(m.vocab().tokenize(prompts[t])).withMaxTokens(16)
                .withSampler(SamplerOptions.defaults()).withSeed(t);
    }

    @Test
    void publisherStreamsTheSameTokensAndCompletes() throws Exception {
        try (LlamaModel m = LlamaModel.load(TestModels.stories()); LlamaContext ctx = m.newContext(ctxFor(2, 512))) {
            GenerationRequest req = GenerationRequest.of(m.vocab().tokenize("Once upon a time")).withCandidates(2)
                    .withMaxTokens(30).withSampler(SamplerOptions.defaults()).withSeed(4);
            List<Candidate> direct = Generator.generate(ctx, req);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Map<Integer, StringBuilder> texts = new ConcurrentHashMap<>();
                CountDownLatch done = new CountDownLatch(1);
                java.util.concurrent.atomic.AtomicReference<Throwable> error = new java.util.concurrent.atomic.AtomicReference<>();
                new GenerationPublisher(ctx, req, pool).subscribe(new java.util.concurrent.Flow.Subscriber<>() {
                    @Override
                    public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
                        s.request(Long.MAX_VALUE);
                    }

                    @Override
                    public void onNext(TokenEvent e) {
                        texts.computeIfAbsent(e.candidate(), k -> new StringBuilder()).append(e.text());
                    }

                    @Override
                    public void onError(Throwable t) {
                        error.set(t);
                        done.countDown();
                    }

                    @Override
                    public void onComplete() {
                        done.countDown();
                    }
                });
                assertTrue(done.await(30, TimeUnit.SECONDS));
                assertTrue(error.get() == null, () -> "" + error.get());
                for (Candidate c : direct) {
                    assertEquals(c.text(), texts.get(c.index()).toString());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void chatTemplateFormatsThePromptWhenTheModelHasOne() {
        java.nio.file.Path p = TestModels.withChatTemplate();
        try (LlamaModel m = LlamaModel.load(p)) {
            String formatted = m.vocab().detokenize(Generator.prompt(m, "hi", true), true, true);
            assertTrue(formatted.contains("<|im_start|>user\nhi<|im_end|>"), formatted);
            assertEquals("hi", m.vocab().detokenize(Generator.prompt(m, "hi", false)).strip());
        }
    }
}
