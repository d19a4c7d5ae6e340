package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.BackendDevice;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.PoolingType;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.PairRanker;
import dev.blender.pairranker.Rankings;
import dev.blender.pairranker.reranker.RerankerScorer;
import dev.blender.pairranker.embedding.EmbeddingConsensusScorer;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.remote.OpenAiClient;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

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
 * {@link #close()} while requests run lets them return their contexts first.
 */
public final class Blender implements BlendService {
    private final BlenderConfig config;
    private final ModelPool pool;
    private final ExecutorService async = Executors.newVirtualThreadPerTaskExecutor();
    /** Platform threads for members sampling at once: a native decode would pin a virtual thread's carrier. */
    final ExecutorService members = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "blender-member");
        t.setDaemon(true);
        return t;
    });
    final CachingPairRanker.PairCache pairCache;
    /** The remote members' connections (null without remote members): closed with the blender. */
    private final HttpClient http;
    private final Map<Member.Remote, OpenAiClient> remotes = new HashMap<>();
    /** The sentence encoder of consensus ranking, made on first use. */
    /**
     * Guards {@link #embeddings} and {@link #embeddingsClosed}: its own lock, so that making the scorer never
     * waits on, or holds up, anything else that synchronises on this blender's parts.
     */
    private final Object embeddingsLock = new Object();
    private EmbeddingConsensusScorer embeddings;
    private boolean embeddingsClosed;

    private Blender(BlenderConfig config) {
        this.config = config;
        this.pool = new ModelPool(config.memoryBudgetBytes(), config.deviceMemoryBudgetBytes() > 0
                ? config.deviceMemoryBudgetBytes() : freeGpuMemory(config));
        this.pairCache = new CachingPairRanker.PairCache(config.pairCacheSize());
        this.http = config.hasRemoteMembers() ? OpenAiClient.newHttpClient() : null;
        List<Member> members = new ArrayList<>(config.members());
        members.add(config.judgeMember());
        members.add(config.fuserMember());
        for (Member m : members) {
            if (m instanceof Member.Remote r) {
                remotes.put(r, new OpenAiClient(r.endpoint(), config.apiKey(r), http));
            }
        }
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

    @Override
    public BlenderConfig config() {
        return config;
    }

    @Override
    public BlendResult blend(BlendRequest request, BlendListener listener) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        BlendResult result;
        try {
            Composition composition = request.composition() != null ? request.composition() : config.composition();
            config.checkSupports(composition);
            checkGenerator(request, composition);
            result = new BlendRun(this, request, listener).run(composition);
        } catch (RuntimeException | Error e) {
            listener.onError(e);
            throw e;
        }
        listener.onComplete(result);
        return result;
    }

    /** A request's own generator must be one of ours, for a composition that samples the "first" one. */
    private void checkGenerator(BlendRequest request, Composition composition) {
        if (request.generator() == null) {
            return;
        }
        if (!composition.samplesFirst()) {
            throw new IllegalArgumentException("generator applies to compositions that sample the first generator"
                    + " (single, self-blend, cascade), not " + composition.name());
        }
        if (!config.generators().contains(request.generator())) {
            throw new IllegalArgumentException("generator " + request.generator() + " is not one of this blender's "
                    + config.generators());
        }
    }

    @Override
    public CompletableFuture<BlendResult> blendAsync(BlendRequest request, BlendListener listener) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        BlendRequest withCancel = request.cancellable(new Cancellation());
        Cancellation cancel = withCancel.cancellationHandle();
        CompletableFuture<BlendResult> future = new CompletableFuture<>() {
            @Override
            public boolean cancel(boolean mayInterrupt) {
                cancel.cancel();
                return super.cancel(mayInterrupt);
            }
        };
        async.execute(() -> {
            try {
                future.complete(blend(withCancel, listener));
            } catch (Throwable t) {
                future.completeExceptionally(t);
            }
        });
        return future;
    }

    @Override
    public void warmUp(WarmUpListener progress) {
        // remote members load nothing here: their servers hold them
        List<Path> all = new ArrayList<>(config.generators().stream().filter(g -> config.remote(g).isEmpty()).toList());
        for (Path p : new Path[] {config.judge(), config.reranker(), config.fuser()}) {
            if (p != null && config.remote(p).isEmpty()) {
                all.add(p);
            }
        }
        for (int i = 0; i < all.size(); i++) {
            progress.loading(i, all.size(), all.get(i));
            Path model = all.get(i);
            ContextOptions options = model.equals(config.reranker()) ? rankerContext(model)
                    : model.equals(config.judge()) ? rankerContext(model)
                    : model.equals(config.fuser()) ? fuserContext()
                    : generatorContext(config.member(model), config.candidatesPerModel());
            try (ModelPool.Lease lease = lease(config.member(model), options)) {
                lease.model();
            }
        }
        progress.loading(all.size(), all.size(), null);
    }

    /** Closes every loaded model (after running requests return theirs). Idempotent. */
    @Override
    public void close() {
        async.shutdown();
        members.shutdown();
        pool.close();
        if (http != null) {
            http.close(); // requests still in flight end within their timeout
        }
        synchronized (embeddingsLock) {
            embeddingsClosed = true;
            if (embeddings != null) {
                embeddings.close();
            }
        }
    }

    /**
     * The model blends rank with, the judge or else the reranker, with a context for it from the pool:
     * for scoring texts outside a blend on the models and memory budget the blends use. Return it with
     * {@link ModelPool.Lease#close()}.
     *
     * @throws IllegalStateException neither a judge nor a reranker is configured
     */
    ModelPool.Lease leaseRanker() {
        Path model = config.judge() != null ? config.judge() : config.reranker();
        if (model == null) {
            throw new IllegalStateException("this blender has no judge or reranker to rank with");
        }
        if (config.member(model) instanceof Member.Remote r) {
            throw new IllegalStateException("this blender's judge is remote ('" + r.name() + "'): it has"
                    + " no local model to lease; rank through a blend");
        }
        return lease(config.member(model), rankerContext(model));
    }

    /** A local member's model with a context: an adapter member's base, its context applying the adapter. */
    ModelPool.Lease lease(Member member, ContextOptions options) {
        ModelOptions loading = config.modelOptionsFor(BlenderConfig.key(member));
        return switch (member) {
            case Member.Local l -> pool.lease(l.model(), loading, options);
            case Member.Adapter a -> pool.lease(a.base(), loading, options, a.adapter(), a.scale());
            case Member.Remote r -> throw new IllegalStateException("remote member '" + r.name() + "' has no model here");
        };
    }

    /** A member with what it runs on here: the model pool, or its server's client. */
    Seat seat(Member member) {
        return member instanceof Member.Remote r ? new Seat.Remote(r, remotes.get(r)) : new Seat.Local(member, this);
    }

    /**
     * Runs {@code use} with this blender's judge as a {@link PairRanker}: the local judge on a pooled context
     * (returned to the pool afterwards), or the remote one ({@link RemoteJudge}). The one place that makes a
     * judge, for blends and for the LangChain4j scoring model alike.
     *
     * @param cancelled polled between decodes or requests; true ends the judging with a CancellationException
     * @throws IllegalStateException the configuration has no judge
     */
    <T> T withJudge(BooleanSupplier cancelled, Function<PairRanker, T> use) {
        Member judge = config.judgeMember();
        if (judge == null) {
            throw new IllegalStateException("this blender has no judge");
        }
        return seat(judge).withJudge(config.judgeTemplate(), cancelled, use);
    }

    /**
     * The embedding scorer, made on first use.
     *
     * @throws IllegalStateException the blender is closed (a scorer made then would never be closed)
     */
    EmbeddingConsensusScorer embeddings() {
        synchronized (embeddingsLock) {
            if (embeddingsClosed) {
                throw new IllegalStateException("this blender is closed");
            }
            if (embeddings == null) {
                embeddings = new EmbeddingConsensusScorer();
            }
            return embeddings;
        }
    }

    /** The model pool. */
    ModelPool pool() {
        return pool;
    }

    @Override
    public ModelPool.Stats poolStats() {
        return pool.stats();
    }

    @Override
    public Scores score(String query, List<String> texts) {
        Objects.requireNonNull(query, "query");
        List<String> all = List.copyOf(texts);
        if (config.judge() != null) {
            return judged(query, all);
        }
        if (config.reranker() != null) {
            return reranked(query, all);
        }
        throw new IllegalStateException("this blender has no judge or reranker to score with");
    }

    private Scores judged(String query, List<String> texts) {
        List<String> distinct = texts.stream().distinct().toList();
        double[] logits = new double[distinct.size()];
        long tokens = 0;
        if (distinct.size() > 1) {
            record Judged(double[] scores, long tokens) {}
            Judged judged = withJudge(() -> false, judge -> new Judged(
                    Rankings.rank(judge, query, distinct, Aggregation.MAX_LOGITS).scores(), judge.tokensDecoded()));
            logits = judged.scores();
            tokens = judged.tokens();
        }
        List<Double> scores = new ArrayList<>(texts.size());
        for (String t : texts) {
            scores.add(1 / (1 + Math.exp(-logits[distinct.indexOf(t)] / 2)));
        }
        return new Scores(scores, tokens);
    }

    private Scores reranked(String query, List<String> texts) {
        try (ModelPool.Lease lease = leaseRanker()) {
            RerankerScorer reranker = new RerankerScorer(lease.context());
            double[] s = reranker.score(query, texts);
            long tokens = 0;
            List<Double> scores = new ArrayList<>(s.length);
            for (int i = 0; i < s.length; i++) {
                scores.add(s[i]);
                tokens += reranker.tokens(query, texts.get(i)).length;
            }
            return new Scores(scores, tokens);
        }
    }

    ContextOptions generatorContext(Member member, int sequences) {
        Path model = BlenderConfig.key(member);
        return ContextOptions.defaults().withContextSize(config.contextSizeFor(model) * sequences)
                .withMaxSequences(sequences).withThreads(config.modelOptionsFor(model).threads())
                .withPrefixReuse(config.prefixReuse());
    }

    /** A judge decodes up to 16 pairs at once; a reranker pools one relevance score per sequence. */
    ContextOptions rankerContext(Path model) {
        ContextOptions o = ContextOptions.defaults().withContextSize(config.contextSizeFor(model) * 16).withMaxSequences(16)
                .withThreads(config.modelOptionsFor(model).threads());
        return model.equals(config.reranker()) ? o.withEmbeddings(true, PoolingType.RANK) : o;
    }

    ContextOptions fuserContext() {
        return ContextOptions.defaults().withContextSize(config.contextSizeFor(config.fuser()))
                .withThreads(config.modelOptionsFor(config.fuser()).threads()).withPrefixReuse(config.prefixReuse());
    }
}
