package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuseOptions;
import dev.blender.genfuser.GenFuser;
import dev.blender.nativebridge.BackendDevice;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.pairranker.Ranking;
import dev.blender.pairranker.Rankings;
import dev.blender.pairranker.PairRanker;
import dev.blender.pairranker.judge.LmJudge;
import dev.blender.pairranker.reranker.RerankerScorer;
import dev.blender.nativebridge.PoolingType;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.MixRequest;
import dev.blender.runtime.combine.MixedGenerator;
import dev.blender.runtime.combine.VocabAlignment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The blend pipeline: several GGUF models answering as one. Configure once with {@link #builder()},
 * then answer many requests; models load on first use and stay loaded (within the memory budget) for
 * later requests.
 *
 * <pre>{@code
 * try (Blender blender = Blender.builder()
 *         .generator(Path.of("a.gguf")).generator(Path.of("b.gguf"))
 *         .judge(Path.of("judge.gguf"), JudgeTemplate.abAnswer())
 *         .fuser(Path.of("fuser.gguf"), FuserTemplate.llmBlender())
 *         .build()) {
 *     BlendResult r = blender.blend(BlendRequest.of("Why is the sky blue?"));
 * }
 * }</pre>
 *
 * <p>Thread-safe: requests may run concurrently; each takes its own contexts from the model pool.
 */
public final class Blender implements AutoCloseable {
    private final BlenderConfig config;
    private final ModelPool pool;
    private final ExecutorService async = Executors.newVirtualThreadPerTaskExecutor();
    /** Platform threads for members sampling at once: a native decode would pin a virtual thread's carrier. */
    private final ExecutorService members = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "blender-member");
        t.setDaemon(true);
        return t;
    });
    private final CachingPairRanker.PairCache pairCache;

    private Blender(BlenderConfig config) {
        this.config = config;
        this.pool = new ModelPool(config.memoryBudgetBytes(), config.deviceMemoryBudgetBytes() > 0
                ? config.deviceMemoryBudgetBytes() : freeGpuMemory(config));
        this.pairCache = new CachingPairRanker.PairCache(config.pairCacheSize());
    }

    /** The GPUs' free memory now, when a model may use one (0 when none does: nothing goes there). */
    private static long freeGpuMemory(BlenderConfig config) {
        boolean offloads = config.modelOptions().gpuLayers() != 0
                || config.perModelOptions().values().stream().anyMatch(o -> o.gpuLayers() != 0);
        return !offloads ? 0 : LlamaBackend.devices().stream().filter(d -> d.kind().isGpu())
                .mapToLong(BackendDevice::freeBytes).sum();
    }

    public static BlenderConfig.Builder builder() {
        return new BlenderConfig.Builder();
    }

    /** Builds a blender from a configuration (e.g. read from a file with {@link BlenderConfig#load}). */
    public static Blender create(BlenderConfig config) {
        return new Blender(Objects.requireNonNull(config, "config"));
    }

    public BlenderConfig config() {
        return config;
    }

    /** Answers a request. */
    public BlendResult blend(BlendRequest request) {
        return blend(request, TokenListener.NONE);
    }

    /**
     * Answers a request, streaming the final answer's tokens (the fused answer's, or the single model's
     * or the combination's) to {@code answerTokens} as they are produced.
     *
     * @throws CancellationException the request's cancellation was set
     */
    public BlendResult blend(BlendRequest request, TokenListener answerTokens) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(answerTokens, "answerTokens");
        Run run = new Run(request, answerTokens);
        Strategy strategy = request.strategy() != null ? request.strategy() : config.strategy();
        config.checkSupports(strategy);
        checkGenerator(request, strategy);
        return switch (strategy) {
            case SINGLE -> run.single();
            case SELF_BLEND -> run.sampleRankFuse(Strategy.SELF_BLEND, List.of(run.first()),
                    run.candidatesPerModel() * config.generators().size());
            case FULL_BLEND -> run.sampleRankFuse(Strategy.FULL_BLEND, config.generators(), run.candidatesPerModel());
            case TOKEN_COMBINE -> run.combine();
            case CASCADE -> run.cascade();
        };
    }

    /** A request's own generator must be one of ours, for a strategy that answers with one model first. */
    private void checkGenerator(BlendRequest request, Strategy strategy) {
        if (request.generator() == null) {
            return;
        }
        if (strategy != Strategy.SINGLE && strategy != Strategy.SELF_BLEND && strategy != Strategy.CASCADE) {
            throw new IllegalArgumentException("generator applies to SINGLE, SELF_BLEND and CASCADE, not " + strategy);
        }
        if (!config.generators().contains(request.generator())) {
            throw new IllegalArgumentException("generator " + request.generator() + " is not one of this blender's "
                    + config.generators());
        }
    }

    /** Answers on a virtual thread; cancelling the future cancels the request at its next step. */
    public CompletableFuture<BlendResult> blendAsync(BlendRequest request) {
        Cancellation cancel = request.cancellation() != null ? request.cancellation() : new Cancellation();
        BlendRequest withCancel = request.withCancellation(cancel);
        CompletableFuture<BlendResult> future = new CompletableFuture<>() {
            @Override
            public boolean cancel(boolean mayInterrupt) {
                cancel.cancel();
                return super.cancel(mayInterrupt);
            }
        };
        async.execute(() -> {
            try {
                future.complete(blend(withCancel));
            } catch (Throwable t) {
                future.completeExceptionally(t);
            }
        });
        return future;
    }

    /**
     * Loads every configured model now instead of on the first request, reporting each before it loads
     * ({@code progress.accept(done, total, file)}); for progress bars in interactive tools.
     */
    public void warmUp(WarmUpListener progress) {
        List<Path> all = new ArrayList<>(config.generators());
        if (config.judge() != null) {
            all.add(config.judge());
        }
        if (config.reranker() != null) {
            all.add(config.reranker());
        }
        if (config.fuser() != null) {
            all.add(config.fuser());
        }
        for (int i = 0; i < all.size(); i++) {
            progress.loading(i, all.size(), all.get(i));
            Path model = all.get(i);
            ContextOptions options = model.equals(config.reranker()) ? rankerContext(model)
                    : model.equals(config.judge()) ? rankerContext(model)
                    : model.equals(config.fuser()) ? fuserContext() : generatorContext(model, config.candidatesPerModel());
            try (ModelPool.Lease lease = pool.lease(model, config.modelOptionsFor(model), options)) {
                lease.model();
            }
        }
        progress.loading(all.size(), all.size(), null);
    }

    /** Progress of {@link #warmUp}: {@code file} is null once all are loaded. */
    @FunctionalInterface
    public interface WarmUpListener {
        void loading(int done, int total, Path file);
    }

    /** Closes every loaded model (after running requests return theirs). Idempotent. */
    @Override
    public void close() {
        async.shutdown();
        members.shutdown();
        pool.close();
    }

    /**
     * The model blends rank with, the judge or else the reranker, with a context for it from the pool:
     * for scoring texts outside a blend on the models and memory budget the blends use. Return it with
     * {@link ModelPool.Lease#close()}.
     *
     * @throws IllegalStateException neither a judge nor a reranker is configured
     */
    public ModelPool.Lease leaseRanker() {
        Path model = config.judge() != null ? config.judge() : config.reranker();
        if (model == null) {
            throw new IllegalStateException("this blender has no judge or reranker to rank with");
        }
        return pool.lease(model, config.modelOptionsFor(model), rankerContext(model));
    }

    /** The model pool (for statistics). */
    public ModelPool pool() {
        return pool;
    }

    /** The state of one request. */
    private final class Run {
        final BlendRequest request;
        final TokenListener answerTokens;
        final long start = System.nanoTime();
        double firstToken = -1;
        final List<BlendResult.StageUsage> usage = new ArrayList<>();

        void count(String stage, long prompt, long generated) {
            synchronized (usage) {
                for (int i = 0; i < usage.size(); i++) {
                    BlendResult.StageUsage u = usage.get(i);
                    if (u.stage().equals(stage)) {
                        usage.set(i, new BlendResult.StageUsage(stage, u.promptTokens() + prompt,
                                u.generatedTokens() + generated));
                        return;
                    }
                }
                usage.add(new BlendResult.StageUsage(stage, prompt, generated));
            }
        }

        BlendResult.Usage usage() {
            synchronized (usage) {
                return new BlendResult.Usage(usage);
            }
        }

        /** The generator that answers alone or first. */
        Path first() {
            return request.generator() != null ? request.generator() : config.generators().get(0);
        }

        int maxTokens() {
            return request.maxTokens() != null ? request.maxTokens() : config.maxTokens();
        }

        int candidatesPerModel() {
            return request.candidatesPerModel() != null ? request.candidatesPerModel() : config.candidatesPerModel();
        }

        int topK() {
            return request.topK() != null ? request.topK() : config.topK();
        }

        int fusedMaxTokens() {
            return request.maxTokens() != null ? request.maxTokens() : config.fusedMaxTokens();
        }

        List<String> stop() {
            return request.stop() != null ? request.stop() : config.stop();
        }

        /** The request's temperature and top-p, where it sets them, over a configured sampler. */
        SamplerOptions sampler(SamplerOptions configured) {
            SamplerOptions s = configured;
            if (request.temperature() != null) {
                s = s.withTemperature(request.temperature());
            }
            if (request.topP() != null) {
                s = s.withTopP(request.topP());
            }
            return s;
        }

        /** The conversation with the last user message put into the blender's generatorPrompt. */
        List<dev.blender.nativebridge.ChatMessage> generatorMessages() {
            List<dev.blender.nativebridge.ChatMessage> messages = new ArrayList<>(request.messages());
            messages.set(messages.size() - 1, dev.blender.nativebridge.ChatMessage.user(
                    config.generatorText(request.prompt())));
            return messages;
        }

        /** The conversation as a generator reads it (see {@link BlendRequest#messages()}). */
        int[] generatorPrompt(dev.blender.nativebridge.LlamaModel model) {
            return Generator.prompt(model, generatorMessages(), true);
        }

        Run(BlendRequest request, TokenListener answerTokens) {
            this.request = request;
            this.answerTokens = answerTokens;
        }

        TokenListener answerListener() {
            return (c, token, text) -> {
                if (firstToken < 0 && !text.isEmpty()) {
                    firstToken = elapsed();
                }
                answerTokens.onToken(c, token, text);
            };
        }

        double elapsed() {
            return (System.nanoTime() - start) / 1e6;
        }

        boolean isCancelled() {
            return request.cancellation() != null && request.cancellation().isCancelled();
        }

        void checkCancelled() {
            if (isCancelled()) {
                throw new CancellationException("blend cancelled");
            }
        }

        boolean overBudget() {
            return request.timeBudget() != null && elapsed() > request.timeBudget().toMillis();
        }

        GenerationRequest generation(int[] prompt, int n, SamplerOptions sampler, int maxTokens) {
            return GenerationRequest.of(prompt).withCandidates(n).withMaxTokens(maxTokens).withSampler(sampler)
                    .withSeed(request.seed()).withStop(stop()).withCancellation(request.cancellation());
        }

        Candidate checkedCandidate(Candidate c) {
            checkCancelled();
            if (c.finishReason() == dev.blender.nativebridge.generation.FinishReason.CANCELLED) {
                throw new CancellationException("blend cancelled");
            }
            return c;
        }

        BlendResult single() {
            Path model = first();
            try (ModelPool.Lease lease = pool.lease(model, config.modelOptionsFor(model), generatorContext(model, 1))) {
                int[] prompt = generatorPrompt(lease.model());
                Candidate c = checkedCandidate(Generator.generate(lease.context(), generation(prompt, 1,
                        sampler(config.answerSampler()), maxTokens()), answerListener()).get(0));
                count("answer", prompt.length, c.tokenCount());
                double total = elapsed();
                return new BlendResult(Strategy.SINGLE, c.text().strip(), List.of(), null, List.of(), null, false,
                        new BlendResult.Timings(total, 0, 0, firstToken, total), usage(), c.finishReason());
            }
        }

        BlendResult cascade() {
            Path model = first();
            Candidate c;
            try (ModelPool.Lease lease = pool.lease(model, config.modelOptionsFor(model), generatorContext(model, 1))) {
                int[] prompt = generatorPrompt(lease.model());
                c = checkedCandidate(Generator.generate(lease.context(), generation(prompt, 1, SamplerOptions.greedy(),
                        maxTokens())).get(0));
                count("answer", prompt.length, c.tokenCount());
            }
            double least = 0;
            for (float f : c.logProbs()) {
                least = Math.min(least, f);
            }
            if (Math.exp(least) >= config.cascadeConfidence() || !config.supports(Strategy.FULL_BLEND)) {
                answerListener().onToken(0, -1, c.text());
                double total = elapsed();
                return new BlendResult(Strategy.CASCADE, c.text().strip(), List.of(), null, List.of(), null, false,
                        new BlendResult.Timings(total, 0, 0, firstToken, total), usage(), c.finishReason());
            }
            BlendResult full = sampleRankFuse(Strategy.FULL_BLEND, config.generators(), candidatesPerModel());
            return new BlendResult(Strategy.CASCADE, full.answer(), full.candidates(), full.ranking(),
                    full.rankedTexts(), full.fused(), true, full.timings(), usage(), full.finishReason());
        }

        BlendResult combine() {
            List<ModelPool.Lease> leases = new ArrayList<>();
            try {
                List<LlamaContext> contexts = new ArrayList<>();
                for (Path p : config.generators()) {
                    ModelPool.Lease l = pool.lease(p, config.modelOptionsFor(p), generatorContext(p, 1));
                    leases.add(l);
                    contexts.add(l.context());
                }
                CombineOptions options = config.combine() != null ? config.combine()
                        : CombineOptions.equal(CombineMethod.LOG_LINEAR, contexts.size());
                MixedGenerator mix = new MixedGenerator(contexts, options, VocabAlignment.Policy.ALIGN_BY_TEXT);
                Candidate c = checkedCandidate(mix.generate(MixRequest.ofMessages(generatorMessages())
                        .withMaxTokens(maxTokens()).withSampler(sampler(config.answerSampler())).withStop(stop())
                        .withSeed(request.seed())
                        .withCancellation(request.cancellation()), answerListener()));
                for (LlamaContext ctx : contexts) {
                    count("mixing", generatorPrompt(ctx.model()).length, c.tokenCount());
                }
                double total = elapsed();
                return new BlendResult(Strategy.TOKEN_COMBINE, c.text().strip(), List.of(), null, List.of(), null, false,
                        new BlendResult.Timings(total, 0, 0, firstToken, total), usage(), c.finishReason());
            } finally {
                leases.forEach(ModelPool.Lease::close);
            }
        }

        /** Where decodes of different contexts are exact in parallel (v0.5.0), members sample at once. */
        boolean sampleInParallel(List<Path> generators) {
            return config.parallelMembers() && generators.size() > 1 && !LlamaContext.decodesSerialised();
        }

        /** One member's candidates; {@code threads} > 0 replaces an automatic thread count. */
        List<BlendResult.Sampled> sample(Path p, int perModel, int threads) {
            checkCancelled();
            ContextOptions options = generatorContext(p, perModel);
            if (threads > 0 && options.threads() == 0) {
                options = options.withThreads(threads);
            }
            List<BlendResult.Sampled> out = new ArrayList<>();
            try (ModelPool.Lease lease = pool.lease(p, config.modelOptionsFor(p), options)) {
                int[] prompt = generatorPrompt(lease.model());
                long generated = 0;
                for (Candidate c : Generator.generate(lease.context(), generation(prompt, perModel,
                        sampler(config.candidateSampler()), maxTokens()))) {
                    checkedCandidate(c);
                    out.add(new BlendResult.Sampled(p.getFileName().toString(), c));
                    generated += c.tokenCount();
                }
                count("sampling", prompt.length, generated); // the prompt is decoded once for all candidates
            }
            return out;
        }

        private static <T> T join(CompletableFuture<T> f) {
            try {
                return f.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw e;
            }
        }

        BlendResult sampleRankFuse(Strategy strategy, List<Path> generators, int perModel) {
            // 1. sample
            List<BlendResult.Sampled> sampled = new ArrayList<>();
            if (sampleInParallel(generators)) {
                int threads = Math.max(1, ContextOptions.automaticThreads() / generators.size());
                List<CompletableFuture<List<BlendResult.Sampled>>> futures = new ArrayList<>();
                for (Path p : generators) {
                    futures.add(CompletableFuture.supplyAsync(() -> sample(p, perModel, threads), members));
                }
                for (CompletableFuture<List<BlendResult.Sampled>> f : futures) {
                    sampled.addAll(join(f)); // in generator order, as sequential sampling gives them
                }
            } else {
                for (Path p : generators) {
                    sampled.addAll(sample(p, perModel, 0));
                }
            }
            double sampling = elapsed();
            List<String> texts = sampled.stream().map(s -> s.candidate().text().strip()).filter(t -> !t.isBlank())
                    .distinct().toList();
            // 2. rank (or a majority vote when there is no judge or no time)
            checkCancelled();
            Ranking ranking = null;
            List<String> order;
            if (texts.size() > 1 && (config.judge() != null || config.reranker() != null) && !overBudget()) {
                try (ModelPool.Lease lease = leaseRanker()) {
                    LmJudge judge = config.judge() != null
                            ? new LmJudge(lease.context(), config.judgeTemplate(), this::isCancelled) : null;
                    PairRanker ranker = judge != null ? judge : new RerankerScorer(lease.context()).asPairRanker();
                    ranking = Rankings.rank(new CachingPairRanker(ranker, pairCache), request.prompt(), texts,
                            config.aggregation(), Math.min(topK(), texts.size()), request.seed());
                    if (judge != null) {
                        count("ranking", judge.tokensDecoded(), 0);
                    }
                }
                order = ranking.order().stream().map(texts::get).toList();
            } else {
                order = Votes.byFrequency(sampled.stream().map(c -> c.candidate().text()).toList());
            }
            if (order.isEmpty()) {
                order = List.of(""); // every candidate was empty
            }
            double ranked = elapsed();
            // 3. fuse the top k (or answer with the top one)
            checkCancelled();
            Candidate fused = null;
            String answer = order.get(0);
            if (config.fuser() != null && !overBudget()) {
                try (ModelPool.Lease lease = pool.lease(config.fuser(), config.modelOptionsFor(config.fuser()),
                        fuserContext())) {
                    GenFuser fuser = new GenFuser(lease.context(), config.fuserTemplate());
                    List<String> top = order.subList(0, Math.min(topK(), order.size()));
                    fused = checkedCandidate(fuser.fuse(request.prompt(), top, new FuseOptions(fusedMaxTokens(),
                            config.answerSampler(), stop(), request.seed(), request.cancellation()), answerListener()));
                    count("fusion", fuser.promptTokens(request.prompt(), top), fused.tokenCount());
                    answer = fused.text().strip();
                }
            } else {
                answerListener().onToken(0, -1, answer);
            }
            double total = elapsed();
            String chosen = answer;
            FinishReason reason = fused != null ? fused.finishReason() : sampled.stream()
                    .filter(c -> c.candidate().text().strip().equals(chosen)).map(c -> c.candidate().finishReason())
                    .findFirst().orElse(FinishReason.END_OF_GENERATION);
            return new BlendResult(strategy, answer, sampled, ranking, ranking == null ? List.of() : texts, fused, false,
                    new BlendResult.Timings(sampling, ranked - sampling, total - ranked, firstToken, total), usage(),
                    reason);
        }

    }

    ContextOptions generatorContext(Path model, int sequences) {
        return ContextOptions.defaults().withContextSize(config.contextSizeFor(model) * sequences)
                .withMaxSequences(sequences).withThreads(config.modelOptionsFor(model).threads());
    }

    /** A judge decodes up to 16 pairs at once; a reranker pools one relevance score per sequence. */
    ContextOptions rankerContext(Path model) {
        ContextOptions o = ContextOptions.defaults().withContextSize(config.contextSizeFor(model) * 16).withMaxSequences(16)
                .withThreads(config.modelOptionsFor(model).threads());
        return model.equals(config.reranker()) ? o.withEmbeddings(true, PoolingType.RANK) : o;
    }

    ContextOptions fuserContext() {
        return ContextOptions.defaults().withContextSize(config.contextSizeFor(config.fuser()))
                .withThreads(config.modelOptionsFor(config.fuser()).threads());
    }
}
