package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.GgufFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlenderTest {
    static Path arith(String name) {
        return ArithBlenders.arith(name);
    }

    static BlenderConfig.Builder arithBlender() {
        return ArithBlenders.full();
    }

    /** Writes down what a blend reports. */
    static class Recorder implements BlendListener {
        final List<String> log = new ArrayList<>();
        final StringBuilder answer = new StringBuilder();
        volatile BlendResult result;
        volatile Throwable error;
        volatile Thread thread;

        @Override
        public void onAnswer(String text) {
            log.add("answer");
            answer.append(text);
            thread = Thread.currentThread();
        }

        @Override
        public void onStageStarted(Stage stage) {
            log.add("stage " + stage.id());
        }

        @Override
        public void onCandidates(List<BlendResult.Sampled> candidates) {
            log.add("candidates " + candidates.size());
        }

        @Override
        public void onRanked(List<BlendResult.Ranked> ranked, String orderedBy) {
            log.add("ranked " + orderedBy);
        }

        @Override
        public void onComplete(BlendResult r) {
            log.add("complete");
            result = r;
        }

        @Override
        public void onError(Throwable t) {
            log.add("error");
            error = t;
        }
    }

    @Test
    void fullBlendReturnsEveryStageAndStreamsTheFusedAnswer() {
        try (Blender blender = arithBlender().build()) {
            Recorder events = new Recorder();
            BlendResult r = blender.blend(BlendRequest.builder().prompt("37+48=").seed(3).build(), events);
            assertEquals(List.of("stage sample", "candidates 8", "stage rank", "ranked max-logits", "stage fuse"),
                    events.log.subList(0, 5), "stages announced in order, each result as it is ready");
            assertEquals("complete", events.log.getLast());
            assertSame(r, events.result);
            String streamed = events.answer.toString();
            assertTrue(events.log.stream().filter(e -> e.equals("answer")).count() >= 2,
                    "the fused answer streams token by token: " + events.log);
            assertEquals("full-blend", r.strategy());
            assertEquals(8, r.candidates().size(), "4 candidates from each of 2 generators");
            assertTrue(r.candidates().stream().anyMatch(s -> s.model().equals("answerer-b.gguf")));
            assertNotNull(r.fused());
            assertEquals(r.fused().text(), streamed);
            assertEquals(r.fused().text().strip(), r.answer());
            assertEquals("85", r.answer(), "the judge and fuser see the bare question they were trained on");
            assertTrue(r.ranked().size() > 1, "seed 3 samples several answers: " + r.ranked());
            assertEquals("max-logits", r.orderedBy(), "several answers are ranked by the judge");
            assertTrue(r.ranked().stream().allMatch(x -> x.score() != null && !x.models().isEmpty()), r.ranked().toString());
            assertEquals(8, r.ranked().stream().mapToInt(BlendResult.Ranked::votes).sum(), "every candidate counted once");
            BlendResult.Timings t = r.timings();
            assertTrue(t.samplingMillis() > 0 && t.totalMillis() >= t.samplingMillis() + t.rankingMillis());
            assertTrue(t.firstTokenMillis() > 0 && t.firstTokenMillis() <= t.totalMillis());
            assertEquals(4, blender.pool().loadedModels(), "generators, judge and fuser stay loaded");
        }
    }

    @Test
    void everyStrategyRuns() {
        try (Blender blender = arithBlender().build()) {
            assertEquals("79", blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.TOKEN_COMBINE).build()).answer(),
                    "README: the log-linear mix of a and b answers 79");
            assertEquals("80", blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.SINGLE).build()).answer(),
                    "README: answerer-a alone answers 80");
            BlendResult self = blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.SELF_BLEND).build());
            assertEquals(8, self.candidates().size());
            assertTrue(self.candidates().stream().allMatch(s -> s.model().equals("answerer-a.gguf")));
        }
    }

    @Test
    void cascadeEscalatesExactlyWhenTheFirstModelIsUnsure() {
        // confidence 0: any answer is sure enough, answerer-a's greedy "80" stands (README)
        try (Blender never = arithBlender().cascadeConfidence(0).build()) {
            BlendResult r = never.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.CASCADE).build());
            assertEquals("cascade", r.strategy());
            assertFalse(r.escalated());
            assertEquals("80", r.answer());
            assertEquals(List.of("sampling"), r.usage().stages().stream().map(BlendResult.StageUsage::stage).toList(),
                    "nothing but the first model ran");
        }
        // confidence 1: no answer is that sure, so the full blend answers, exactly as FULL_BLEND would
        try (Blender always = arithBlender().cascadeConfidence(1).build()) {
            BlendResult r = always.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.CASCADE).seed(4).build());
            BlendResult full = always.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.FULL_BLEND).seed(4).build());
            assertTrue(r.escalated());
            assertEquals(9, r.candidates().size(), "the first model's answer joins the 8 candidates it escalated to");
            assertEquals(full.candidates().stream().map(c -> c.candidate().text()).toList(),
                    r.candidates().subList(1, 9).stream().map(c -> c.candidate().text()).toList());
            assertEquals("80", r.candidates().get(0).candidate().text().strip());
        }
    }

    @Test
    void aTimeBudgetSkipsLateStagesInsteadOfFailing() {
        try (Blender blender = arithBlender().build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("58+27=").timeBudget(java.time.Duration.ofNanos(1)).build());
            assertEquals(8, r.candidates().size());
            assertTrue(r.orderedBy().equals("votes") && r.fused() == null, "no time left for ranking or fusion");
            assertFalse(r.answer().isEmpty(), "the most voted candidate answers");
        }
    }

    @Test
    void cancellationWorksAtEveryStageAndLeavesTheBlenderUsable() throws Exception {
        try (Blender blender = arithBlender().build()) {
            Cancellation before = new Cancellation();
            before.cancel();
            assertThrows(CancellationException.class,
                    () -> blender.blend(BlendRequest.builder().prompt("37+48=").cancellation(before).build()));
            // cancelled while the fused answer streams
            Cancellation during = new Cancellation();
            Recorder cancelling = new Recorder() {
                @Override
                public void onAnswer(String text) {
                    during.cancel();
                }
            };
            assertThrows(CancellationException.class, () -> blender.blend(BlendRequest.builder().prompt("37+48=")
                    .cancellation(during).build(), cancelling));
            assertTrue(cancelling.error instanceof CancellationException, "the listener hears why it ended");
            Cancellation ofTheRequest = new Cancellation();
            CompletableFuture<BlendResult> f = blender.blendAsync(BlendRequest.builder().prompt("37+48=").cancellation(ofTheRequest).build());
            f.cancel(true);
            assertTrue(ofTheRequest.isCancelled(), "cancelling the future cancels the request it runs");
            BlendResult again = blender.blend(BlendRequest.builder().prompt("37+48=").seed(5).build());
            Recorder streamed = new Recorder();
            BlendResult async = blender.blendAsync(BlendRequest.builder().prompt("37+48=").seed(5).build(), streamed)
                    .get(30, TimeUnit.SECONDS);
            assertEquals(again.answer(), async.answer(), "async gives the synchronous answer");
            assertEquals(async.fused().text(), streamed.answer.toString(), "and streams it");
            assertSame(async, streamed.result);
            assertNotEquals(Thread.currentThread(), streamed.thread, "from the blending thread");
        }
    }

    @Test
    void sixteenThreadsOfConcurrentRequestsNeitherDeadlockNorLeak() throws Exception {
        String[] questions = {"17+62=", "85+95=", "39+99=", "77-67="};
        try (Blender blender = arithBlender().build()) {
            List<String> expected = new ArrayList<>();
            for (String q : questions) {
                expected.add(blender.blend(BlendRequest.builder().prompt(q).seed(9).build()).answer());
            }
            ExecutorService pool = Executors.newFixedThreadPool(16);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < 16; t++) {
                    int thread = t;
                    fs.add(pool.submit(() -> {
                        for (int i = 0; i < 3; i++) {
                            int q = (thread + i) % questions.length;
                            Strategy s = Strategy.values()[(thread + i) % Strategy.values().length];
                            BlendResult r = blender.blend(BlendRequest.builder().prompt(questions[q]).seed(9).strategy(s).build());
                            if (s == Strategy.FULL_BLEND) {
                                assertEquals(expected.get(q), r.answer(), "same request, same answer, under load");
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(120, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(4, blender.pool().loadedModels(), "each model loaded once and shared");
        }
    }

    @Test
    void aModelInUseIsNeverClosedUnderARunningRequest() {
        Path a = TestModels.tiny(1, 0);
        Path b = TestModels.tiny(2, 0);
        long one = a.toFile().length();
        ContextOptions ctx = ContextOptions.defaults().withContextSize(128).withThreads(1);
        try (ModelPool pool = new ModelPool(one + one / 2)) { // room for one model only
            ModelPool.Lease first = pool.lease(a, ModelOptions.defaults(), ctx);
            ModelPool.Lease second = pool.lease(b, ModelOptions.defaults(), ctx); // evicts a
            assertFalse(pool.isLoaded(a));
            assertTrue(first.model().isOpen(), "evicted but leased: still open");
            assertEquals(first.model().vocab().size(), first.context().vocabSize());
            first.close();
            assertFalse(first.model().isOpen(), "closed once its lease came back");
            second.close();
            assertTrue(second.model().isOpen(), "b stays cached");
        }
    }

    @Test
    void badConfigurationGivesClearErrors(@TempDir Path dir) throws Exception {
        GgufFormatException missing = assertThrows(GgufFormatException.class,
                () -> Blender.builder().generator(dir.resolve("nope.gguf")).build());
        assertEquals(GgufFormatException.Problem.NOT_FOUND, missing.problem());
        IllegalArgumentException combine = assertThrows(IllegalArgumentException.class,
                () -> Blender.builder().generator(TestModels.tiny()).strategy(Strategy.TOKEN_COMBINE).build());
        assertTrue(combine.getMessage().contains("at least two generator"), combine.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Blender.builder().build());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Blender.builder().generator(TestModels.tiny()).contextSize(0).build()).getMessage()
                .contains("contextSize"));
        Path role = Files.writeString(dir.resolve("role.json"),
                "{\"models\": [{\"path\": \"" + TestModels.tiny() + "\", \"role\": \"critic\"}]}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlenderConfig.load(role));
        assertTrue(e.getMessage().contains("unknown role 'critic'") && e.getMessage().contains("role.json"), e.getMessage());
        Path key = Files.writeString(dir.resolve("key.json"),
                "{\"models\": [{\"path\": \"" + TestModels.tiny() + "\"}], \"candidatesPerModle\": 3}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BlenderConfig.load(key)).getMessage()
                .contains("candidatesPerModle"));
    }

    @Test
    void aConfigurationFileBuildsTheSameBlender(@TempDir Path dir) throws Exception {
        Path models = TestModels.sharedFile("models/arith");
        Path file = Files.writeString(dir.resolve("blend.json"), """
                {"models": [{"path": "%1$s/answerer-a.gguf", "role": "generator"},
                            {"path": "%1$s/answerer-b.gguf", "role": "generator"},
                            {"path": "%1$s/judge.gguf", "role": "judge", "template": "arith"},
                            {"path": "%1$s/fuser.gguf", "role": "fuser", "template": "arith"}],
                 "strategy": "full_blend", "candidatesPerModel": 4, "maxTokens": 8, "fusedMaxTokens": 8,
                 "contextSize": 64, "threads": 1, "generatorPrompt": "Q: {prompt} A:"}
                """.formatted(models));
        BlenderConfig config = BlenderConfig.load(file);
        assertEquals(2, config.generators().size());
        assertEquals(Strategy.FULL_BLEND.composition(), config.composition());
        try (Blender fromFile = Blender.create(config); Blender inCode = arithBlender().build()) {
            assertEquals(inCode.blend(BlendRequest.builder().prompt("96+56=").seed(2).build()).answer(),
                    fromFile.blend(BlendRequest.builder().prompt("96+56=").seed(2).build()).answer());
        }
    }

    @Test
    void differentVocabulariesCombineByText() {
        try (Blender blender = Blender.builder().generator(TestModels.stories()).generator(TestModels.aidreams())
                .contextSize(128).maxTokens(24).modelOptions(ModelOptions.defaults().withThreads(1)).build()) {
            BlendResult r = blender.blend(BlendRequest.of("Once upon a time"));
            assertEquals("token-combine", r.strategy());
            // the pipeline answers what the mixing library gives for the same members, method and budget
            try (dev.blender.nativebridge.LlamaModel s = dev.blender.nativebridge.LlamaModel.load(TestModels.stories());
                 dev.blender.nativebridge.LlamaModel d = dev.blender.nativebridge.LlamaModel.load(TestModels.aidreams());
                 var cs = s.newContext(ContextOptions.defaults().withContextSize(128).withThreads(1));
                 var cd = d.newContext(ContextOptions.defaults().withContextSize(128).withThreads(1))) {
                var direct = new dev.blender.runtime.combine.MixedGenerator(List.of(cs, cd),
                        dev.blender.runtime.combine.CombineOptions.equal(dev.blender.runtime.combine.CombineMethod.LOG_LINEAR, 2),
                        dev.blender.runtime.combine.VocabAlignment.Policy.ALIGN_BY_TEXT)
                        .generate(dev.blender.runtime.combine.MixRequest.of("Once upon a time").withMaxTokens(24).withSeed(1));
                assertEquals(direct.text().strip(), r.answer());
                assertTrue(r.answer().chars().filter(Character::isLetter).count() > 10, r.answer());
            }
        }
    }

    @Test
    void aMixStageLearnsItsWeightsAsItsJsonSays() {
        Composition learned = CompositionJson.parse("""
                {"name": "learned", "stages": [{"stage": "mix", "method": "linear", "adapt": "learned", "rate": 0.1}]}""");
        Composition fixed = CompositionJson.parse("""
                {"name": "fixed", "stages": [{"stage": "mix", "method": "linear"}]}""");
        try (Blender blender = Blender.builder().generator(TestModels.stories()).generator(TestModels.aidreams())
                .contextSize(128).maxTokens(24).modelOptions(ModelOptions.defaults().withThreads(1)).build();
             dev.blender.nativebridge.LlamaModel s = dev.blender.nativebridge.LlamaModel.load(TestModels.stories());
             dev.blender.nativebridge.LlamaModel d = dev.blender.nativebridge.LlamaModel.load(TestModels.aidreams());
             var cs = s.newContext(ContextOptions.defaults().withContextSize(128).withThreads(1));
             var cd = d.newContext(ContextOptions.defaults().withContextSize(128).withThreads(1))) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("Once upon a time").composition(learned).build());
            var direct = new dev.blender.runtime.combine.MixedGenerator(List.of(cs, cd),
                    dev.blender.runtime.combine.CombineOptions.linear(1, 1).learned(0.1f),
                    dev.blender.runtime.combine.VocabAlignment.Policy.ALIGN_BY_TEXT)
                    .generate(dev.blender.runtime.combine.MixRequest.of("Once upon a time").withMaxTokens(24).withSeed(1));
            assertEquals(direct.text().strip(), r.answer());
            // equal weights write something else: the stage's adapt is what made the difference
            assertNotEquals(r.answer(), blender.blend(BlendRequest.builder().prompt("Once upon a time").composition(fixed).build()).answer());
        }
    }

    @Test
    void perModelSettingsRerankerRoleAndTooSmallBudgets(@TempDir Path dir) throws Exception {
        Path models = TestModels.sharedFile("models/arith");
        Path file = Files.writeString(dir.resolve("per-model.json"), """
                {"models": [{"path": "%1$s/answerer-a.gguf", "role": "generator", "threads": 1, "contextSize": 48},
                            {"path": "%1$s/answerer-b.gguf", "role": "generator"}],
                 "contextSize": 64, "threads": 2, "gpuLayers": -1, "maxTokens": 8, "generatorPrompt": "Q: {prompt} A:"}
                """.formatted(models));
        BlenderConfig config = BlenderConfig.load(file);
        Path a = models.resolve("answerer-a.gguf");
        Path b = models.resolve("answerer-b.gguf");
        assertEquals(1, config.modelOptionsFor(a).threads());
        assertEquals(-1, config.modelOptionsFor(a).gpuLayers(), "what an entry leaves out comes from the top level");
        assertEquals(2, config.modelOptionsFor(b).threads());
        assertEquals(-1, config.modelOptionsFor(b).gpuLayers());
        assertEquals(48, config.contextSizeFor(a));
        assertEquals(64, config.contextSizeFor(b));
        try (Blender blender = Blender.create(config)) {
            assertEquals("79", blender.blend(BlendRequest.of("17+62=")).answer(), "TOKEN_COMBINE by default");
        }
        // a reranker must have a classification head: a llama model is refused at build time, in Java
        IllegalArgumentException head = assertThrows(IllegalArgumentException.class,
                () -> Blender.builder().generator(a).reranker(TestModels.tiny()).build());
        assertTrue(head.getMessage().contains("rank pooling"), head.getMessage());
        // a memory budget no model fits in is refused at build time
        IllegalArgumentException budget = assertThrows(IllegalArgumentException.class,
                () -> arithBlender().memoryBudgetBytes(1000).build());
        assertTrue(budget.getMessage().contains("memoryBudgetBytes 1000") && budget.getMessage().contains("answerer-a"),
                budget.getMessage());
        Path badKey = Files.writeString(dir.resolve("bad-key.json"),
                "{\"models\": [{\"path\": \"" + a + "\", \"threds\": 2}]}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BlenderConfig.load(badKey)).getMessage()
                .contains("threds"));
    }

    /**
     * Members sampling at once (where the library decodes contexts in parallel exactly, v0.5.0) give
     * the very candidates, in the same order, as members sampling one after another.
     */
    @Test
    void membersSampledInParallelGiveTheSameCandidatesAsOneAfterAnother() {
        List<BlendResult> results = new ArrayList<>();
        for (boolean parallel : new boolean[] {false, true}) {
            try (Blender blender = arithBlender().parallelMembers(parallel).candidatesPerModel(3)
                    .modelOptions(ModelOptions.defaults()).build()) {
                results.add(blender.blend(BlendRequest.builder().prompt("58+27=").seed(11).build()));
            }
        }
        List<String> sequential = results.get(0).candidates().stream()
                .map(c -> c.model() + ":" + c.candidate().text() + java.util.Arrays.toString(c.candidate().logProbs())).toList();
        List<String> parallel = results.get(1).candidates().stream()
                .map(c -> c.model() + ":" + c.candidate().text() + java.util.Arrays.toString(c.candidate().logProbs())).toList();
        assertEquals(6, sequential.size());
        assertEquals(sequential, parallel);
        assertEquals(results.get(0).answer(), results.get(1).answer());
    }

    /**
     * Members sample at once only where their compute threads fit the processors: llama.cpp's threads spin
     * at every barrier, and oversubscribed they made the synthetic bench's sampling 16 times slower.
     */
    @Test
    void membersSampleAtOnceOnlyWhereTheirThreadsFitTheProcessors() {
        int processors = Runtime.getRuntime().availableProcessors();
        boolean exact = !dev.blender.nativebridge.LlamaContext.decodesSerialised();
        try (Blender one = arithBlender().modelOptions(ModelOptions.defaults().withThreads(1)).build();
                Blender all = arithBlender().modelOptions(ModelOptions.defaults().withThreads(processors)).build();
                Blender automatic = arithBlender().modelOptions(ModelOptions.defaults()).build()) {
            List<dev.blender.runtime.member.Member> generators = one.config().members();
            assertEquals(2, generators.size());
            assertEquals(exact && processors >= 2, new BlendRun(one, BlendRequest.of("1+1="), BlendListener.NONE)
                    .sampleInParallel(generators), "one thread each");
            assertFalse(new BlendRun(all, BlendRequest.of("1+1="), BlendListener.NONE).sampleInParallel(generators),
                    "every processor each");
            // automatic threads (the physical cores) are split between the members, so they fit
            assertEquals(exact && processors >= 2, new BlendRun(automatic, BlendRequest.of("1+1="), BlendListener.NONE)
                    .sampleInParallel(generators));
        }
    }

    @Test
    void usageCountsEveryStagesTokens() {
        try (Blender blender = arithBlender().build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("37+48=").seed(3).build());
            var stages = r.usage().stages();
            assertEquals(List.of("sampling", "ranking", "fusion"), stages.stream().map(BlendResult.StageUsage::stage).toList());
            long sampled = r.candidates().stream().mapToLong(c -> c.candidate().tokenCount()).sum();
            assertEquals(sampled, stages.get(0).generatedTokens());
            // "Q: 37+48= A:" once per generator (shared by its candidates), BOS included
            assertTrue(stages.get(0).promptTokens() >= 2 * "Q: 37+48= A:".length(), stages.toString());
            assertTrue(stages.get(1).promptTokens() > 0, "the judge decoded its pairs: " + stages);
            assertEquals(r.fused().tokenCount(), stages.get(2).generatedTokens());
            assertEquals(stages.stream().mapToLong(BlendResult.StageUsage::totalTokens).sum(), r.usage().totalTokens());
            BlendResult single = blender.blend(BlendRequest.builder().prompt("37+48=").strategy(Strategy.SINGLE).build());
            assertEquals("sampling", single.usage().stages().get(0).stage());
            assertEquals(single.usage().generatedTokens(), single.answer().length() + 1, "a space, then each digit");
        }
    }

    @Test
    void theFusionStageReportsWhatDraftingFromTheCandidatesSaved() {
        try (Blender blender = arithBlender().build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("37+48=").seed(3).build());
            BlendResult.StageUsage fusion = r.usage().stages().stream().filter(u -> u.stage().equals("fusion"))
                    .findFirst().orElseThrow();
            // the arith fuser copies one of its candidates: its answer is read from drafts, not generated
            assertTrue(fusion.speculation().drafted() > 0 && fusion.speculation().accepted() > 0, fusion.toString());
            assertTrue(fusion.speculation().accepted() <= fusion.generatedTokens(), fusion.toString());
            assertEquals(r.fused().speculation().accepted(), fusion.speculation().accepted(), "one fusion, one count");
            BlendResult.StageUsage sampling = r.usage().stages().get(0);
            assertEquals(0, sampling.speculation().drafted(), "sampling drafts nothing");
        }
    }

    @Test
    void aRequestsOwnSettingsOverrideTheBlenders() {
        try (Blender blender = arithBlender().build()) {
            // the arith answerers have no chat template: earlier turns are not theirs to read
            BlendRequest chat = BlendRequest.builder().messages(List.of(Message.system("be brief"),
                    Message.user("1+1="), Message.assistant("2"), Message.user("17+62="))).strategy(Strategy.SINGLE).build();
            assertEquals("80", blender.blend(chat).answer(), "README: answerer-a");
            BlendResult two = blender.blend(BlendRequest.builder().prompt("85+95=").strategy(Strategy.SINGLE).maxTokens(2).build());
            assertEquals("1", two.answer(), "two tokens of \" 181\"");
            assertEquals(2, two.usage().generatedTokens());
            assertEquals("1", blender.blend(BlendRequest.builder().prompt("85+95=").strategy(Strategy.SINGLE)
                    .stop(List.of("8")).build()).answer(), "181 stopped before the 8");
            BlendResult greedy = blender.blend(BlendRequest.builder().prompt("85+95=").strategy(Strategy.FULL_BLEND)
                    .temperature(0f).seed(5).build());
            var byModel = greedy.candidates().stream().collect(java.util.stream.Collectors.groupingBy(
                    BlendResult.Sampled::model, java.util.stream.Collectors.mapping(c -> c.candidate().text(),
                            java.util.stream.Collectors.toSet())));
            assertEquals(2, byModel.size());
            byModel.forEach((m, texts) -> assertEquals(1, texts.size(), "temperature 0: " + m + " wrote " + texts));
        }
        assertThrows(IllegalArgumentException.class, () -> BlendRequest.builder().messages(List.of()).build());
        assertThrows(IllegalArgumentException.class,
                () -> BlendRequest.builder().messages(List.of(Message.user("a"), Message.assistant("b"))).build());
        assertThrows(IllegalArgumentException.class, () -> BlendRequest.builder().prompt("x").maxTokens(0).build());
        assertThrows(IllegalArgumentException.class, () -> BlendRequest.builder().prompt("x").topP(0f).build());
        assertThrows(IllegalArgumentException.class, () -> BlendRequest.builder().prompt("x").temperature(-1f).build());
    }

    @Test
    void aRequestCanNameTheGeneratorThatAnswersAlone() {
        String bAlone;
        try (Blender b = Blender.builder().generator(arith("answerer-b")).contextSize(64).maxTokens(8)
                .generatorPrompt("Q: {prompt} A:").modelOptions(ModelOptions.defaults().withThreads(1)).build()) {
            bAlone = b.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.SINGLE).build()).answer();
        }
        try (Blender blender = arithBlender().build()) {
            java.util.function.Function<String, BlendRequest> single = g -> BlendRequest.builder().prompt("17+62=")
                    .strategy(Strategy.SINGLE).generator(arith(g)).build();
            assertEquals(bAlone, blender.blend(single.apply("answerer-b")).answer());
            assertEquals("80", blender.blend(single.apply("answerer-a")).answer(), "README: answerer-a");
            BlendResult self = blender.blend(BlendRequest.builder().prompt("17+62=").strategy(Strategy.SELF_BLEND)
                    .generator(arith("answerer-b")).build());
            assertTrue(self.candidates().stream().allMatch(s -> s.model().equals("answerer-b.gguf")), self.toString());
            IllegalArgumentException notOurs = assertThrows(IllegalArgumentException.class,
                    () -> blender.blend(single.apply("judge")));
            assertTrue(notOurs.getMessage().contains("judge.gguf"), notOurs.getMessage());
            assertThrows(IllegalArgumentException.class, () -> blender.blend(BlendRequest.builder().prompt("17+62=")
                    .strategy(Strategy.FULL_BLEND).generator(arith("answerer-b")).build()));
            assertEquals(0, blender.pool().leasesOut(), "every lease returned");
            assertTrue(blender.pool().idleContexts() >= 1, "contexts are kept for the next request");
        }
    }

    @Test
    void strategyNamesAreReadInEverySpelling() {
        // one rule with every other name (Names): case, - and _ do not matter
        for (String name : List.of("full-blend", "FULL_BLEND", "full_blend", " Full-Blend ", "fullblend")) {
            assertEquals(Strategy.FULL_BLEND, Strategy.parse(name), name);
        }
        assertEquals("token-combine", Strategy.TOKEN_COMBINE.id());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Strategy.parse("full-blender"));
        assertTrue(e.getMessage().contains("full-blender") && e.getMessage().contains("self-blend"), e.getMessage());
    }
}
