package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuseOptions;
import dev.blender.genfuser.GenFuser;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.DecodeOptions;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.SpeculationStats;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.pairranker.CachingPairRanker;
import dev.blender.pairranker.Ranking;
import dev.blender.pairranker.Rankings;
import dev.blender.pairranker.PairRanker;
import dev.blender.pairranker.reranker.RerankerScorer;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.MixRequest;
import dev.blender.runtime.combine.MixedGenerator;
import dev.blender.runtime.combine.VocabAlignment;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.remote.OpenAiClient;
import dev.blender.runtime.remote.RemoteCompletion;
import dev.blender.runtime.remote.RemoteEndpoint;
import dev.blender.runtime.remote.RemoteException;
import dev.blender.runtime.remote.RemoteFuser;
import dev.blender.runtime.remote.RemoteJudge;
import dev.blender.runtime.remote.RemoteMix;
import dev.blender.runtime.remote.RemoteRequest;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.function.Supplier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * One request running through its composition's stages: the candidate pool, the order of their texts, the
 * answer, and what each stage cost. {@link Blender} makes one per request; it runs on the calling thread
 * (members may sample on the blender's member threads).
 */
final class BlendRun {
    private final Blender blender;
    private final BlenderConfig config;
    private final ModelPool pool;
    final BlendRequest request;
    final BlendListener listener;
    final long start = System.nanoTime();
    double firstToken = -1;
    final List<BlendResult.StageUsage> usage = new ArrayList<>();
    /** Wall time of work taken from a {@link SharedWork}: charged as if done here. */
    double reusedMillis;
    double samplingMillis;
    double rankingMillis;
    double fusionMillis;

    final List<Sample> sampled = new ArrayList<>();
    List<String> order = List.of();
    Map<String, Double> scores = Map.of();
    String orderedBy = "sampling";
    /** The answer a stage wrote and its candidate, or null while the top of the order stands for it. */
    String answer;
    Candidate answerCandidate;
    Candidate fused;
    /** Every answer a stage wrote, in order ({@link Stage.Pick} chooses among them). */
    final List<AnswerPick.Written> written = new ArrayList<>();
    boolean escalated;
    boolean streamed;
    /** The generators a route stage chose, or null: every generator. */
    List<Path> routed;
    /** Members that failed to answer (remote ones), in the order they failed. */
    final List<BlendResult.MemberFailure> failures = new ArrayList<>();
    /** Approximations remote members made, one note per kind (see {@link BlendResult.Note}). */
    final Map<String, BlendResult.Note> notes = new LinkedHashMap<>();
    /** Candidates remote members wrote: they carry no token probabilities for a gate to read. */
    final Set<Candidate> remoteCandidates = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    BlendRun(Blender blender, BlendRequest request, BlendListener listener) {
        this.blender = blender;
        this.config = blender.config();
        this.pool = blender.pool();
        this.request = request;
        this.listener = listener;
    }

    BlendResult run(Composition composition) {
        List<Stage> stages = composition.stages();
        for (int i = 0; i < stages.size(); i++) {
            Stage stage = stages.get(i);
            checkCancelled();
            boolean stream = i == stages.size() - 1; // only the last stage's answer is surely the final one
            double before = elapsed();
            String answerBefore = answer;
            Candidate candidateBefore = answerCandidate;
            listener.onStageStarted(stage);
            switch (stage) {
                case Stage.Route x -> route(x);
                case Stage.Sample x -> sample(x, stream);
                case Stage.Vote x -> vote();
                case Stage.Rank x -> rank(x);
                case Stage.Mix x -> mix(x, stream);
                case Stage.Fuse x -> fuse(x.topK(), x.inputs(), x.orders(), stream);
                case Stage.Verify x -> verify();
                case Stage.Refine x -> refine(x);
                case Stage.Solve x -> solve();
                case Stage.Pick x -> pick(x);
                case Stage.Gate x -> {
                    if (confident(x)) {
                        return result(composition);
                    }
                    escalated = true;
                }
            }
            double took = elapsed() - before;
            switch (stage) {
                case Stage.Route x -> samplingMillis += took;
                case Stage.Sample x -> samplingMillis += took;
                case Stage.Mix x -> samplingMillis += took;
                case Stage.Vote x -> rankingMillis += took;
                case Stage.Rank x -> rankingMillis += took;
                case Stage.Verify x -> rankingMillis += took;
                case Stage.Fuse x -> fusionMillis += took;
                case Stage.Refine x -> fusionMillis += took;
                case Stage.Solve x -> rankingMillis += took;
                case Stage.Pick x -> { }
                case Stage.Gate x -> { }
            }
            if (!(stage instanceof Stage.Pick) && answer != null && (answer != answerBefore
                    || answerCandidate != candidateBefore)) {
                written.add(new AnswerPick.Written(answer, answerCandidate)); // what a later pick chooses among
            }
        }
        return result(composition);
    }

    BlendResult result(Composition composition) {
        String text = answer();
        if (!streamed) {
            emit(text);
        }
        double total = elapsed();
        Candidate by = answerCandidate();
        FinishReason reason = by != null ? by.finishReason() : FinishReason.END_OF_GENERATION;
        return new BlendResult(composition.name(), text, sampled, ranked(), orderedBy, fused, escalated,
                new BlendResult.Timings(samplingMillis, rankingMillis, fusionMillis, firstToken, total), usage(),
                reason, routed == null ? List.of() : routed.stream().map(config::memberLabel).toList(), failures,
                List.copyOf(notes.values()));
    }

    /** The answer a stage wrote, else the top of the order ("" when every candidate was blank). */
    String answer() {
        return answer != null ? answer : order.isEmpty() ? "" : order.get(0);
    }

    List<BlendResult.Ranked> ranked() {
        Map<String, List<String>> models = new LinkedHashMap<>();
        for (Sample s : sampled) {
            models.computeIfAbsent(s.candidate().text().strip(), t -> new ArrayList<>()).add(s.model());
        }
        List<BlendResult.Ranked> out = new ArrayList<>();
        for (String t : order) {
            List<String> by = models.getOrDefault(t, List.of());
            out.add(new BlendResult.Ranked(t, by, by.size(), scores.get(t)));
        }
        return out;
    }

    // ---- stages ----

    /** The generators that stages naming none use: the routed ones, else every one. */
    List<Path> generators() {
        return routed != null ? routed : config.generators();
    }

    void route(Stage.Route x) {
        routed = switch (x.rule()) {
            case Stage.RouteRule.Cases r -> {
                for (Stage.RouteCase c : r.cases()) {
                    if (c.matches(request.prompt())) {
                        yield c.models().stream().map(this::generatorNamed).distinct().toList();
                    }
                }
                yield null;
            }
            case Stage.RouteRule.Similarity r -> {
                Map<Path, Double> score = new LinkedHashMap<>();
                r.examples().forEach((model, examples) -> {
                    // the mean, not the max: one example sharing digits with the prompt should not outvote the rest
                    double sum = 0;
                    for (String e : examples) {
                        checkCancelled();
                        sum += blender.embeddings().similarity(request.prompt(), e);
                    }
                    score.merge(generatorNamed(model), sum / examples.size(), Math::max);
                });
                yield best(score, x.pickOrDefault());
            }
            case Stage.RouteRule.Confidence r -> {
                Map<Path, Double> score = new LinkedHashMap<>();
                for (Path p : config.generators()) {
                    score.put(p, confidence(p, r.tokensOrDefault()));
                }
                yield best(score, x.pickOrDefault());
            }
        };
    }

    /** The {@code pick} highest-scoring generators, best first (ties: generator order). */
    static List<Path> best(Map<Path, Double> score, int pick) {
        List<Path> ranked = new ArrayList<>(score.keySet());
        ranked.sort((a, b) -> Double.compare(score.get(b), score.get(a)));
        return List.copyOf(ranked.subList(0, Math.min(pick, ranked.size())));
    }

    /** The mean log-probability of a generator's first greedy tokens. */
    double confidence(Path p, int tokens) {
        checkCancelled();
        try (ModelPool.Lease lease = blender.leaseGenerator(p, blender.generatorContext(p, 1))) {
            int[] prompt = generatorPrompt(lease.model());
            Candidate c = checkedCandidate(Generator.generate(lease.context(),
                    generation(prompt, 1, SamplerOptions.greedy(), tokens), TokenListener.NONE).get(0));
            count("routing", prompt.length, c.tokenCount());
            return c.logProbs().length == 0 ? Double.NEGATIVE_INFINITY : c.meanLogProb();
        }
    }

    void sample(Stage.Sample x, boolean stream) {
        List<Path> models = x.models().isEmpty() ? generators()
                : x.models().stream().map(this::generatorNamed).toList();
        // the answer sampler is greedy by default, and greedy copies of one answer add nothing but cost
        int perModel = x.perModel() != null ? x.perModel()
                : x.sampler() == Stage.Sampler.ANSWER ? 1 : candidatesPerModel();
        if (x.matchPool()) {
            perModel = Math.max(1, perModel * config.generators().size() / models.size());
        }
        SamplerOptions sampler = sampler(x.sampler() == Stage.Sampler.ANSWER ? config.answerSampler()
                : config.candidateSampler());
        if (x.temperature() != null) {
            sampler = sampler.withTemperature(x.temperature());
        }
        // the answer streams as it is decoded only when one candidate in all is the answer
        boolean streams = stream && models.size() == 1 && perModel == 1;
        int n = perModel;
        SamplerOptions chosen = sampler;
        TokenListener answerTokens = streams ? answerListener() : TokenListener.NONE;
        // remote members answer over the network while the local ones decode: they always run at once
        AtomicBoolean abandoned = new AtomicBoolean();
        BooleanSupplier stop = () -> abandoned.get() || isCancelled();
        Map<Path, CompletableFuture<List<Sample>>> remote = new LinkedHashMap<>();
        for (Path p : models) {
            if (blender.remoteClient(p) != null) {
                remote.put(p, CompletableFuture.supplyAsync(() -> sampleRemote(p, n, chosen, stop), blender.members));
            }
        }
        List<Path> local = models.stream().filter(p -> !remote.containsKey(p)).toList();
        Map<Path, List<Sample>> byModel = new HashMap<>();
        List<BlendResult.MemberFailure> failed = new ArrayList<>();
        try {
            if (sampleInParallel(local)) {
                int threads = Math.max(1, ContextOptions.automaticThreads() / local.size());
                Map<Path, CompletableFuture<List<Sample>>> futures = new LinkedHashMap<>();
                for (Path p : local) {
                    futures.put(p, CompletableFuture.supplyAsync(() -> sample(p, n, chosen, threads, TokenListener.NONE),
                            blender.members));
                }
                futures.forEach((p, f) -> byModel.put(p, join(f)));
            } else {
                for (Path p : local) {
                    byModel.put(p, sample(p, n, chosen, 0, answerTokens));
                }
            }
            for (Map.Entry<Path, CompletableFuture<List<Sample>>> e : remote.entrySet()) {
                try {
                    List<Sample> got = join(e.getValue());
                    byModel.put(e.getKey(), got);
                    if (streams) {
                        // not streamed over HTTP: the one answer, all at once, on the blend's thread as a local one
                        answerTokens.onToken(0, -1, got.get(0).candidate().text());
                    }
                } catch (RemoteException why) {
                    failed.add(new BlendResult.MemberFailure(config.memberLabel(e.getKey()), why.getMessage()));
                }
            }
        } finally {
            abandoned.set(true); // a local member's error ends this stage: remote requests still out stop
        }
        List<Sample> out = new ArrayList<>();
        for (Path p : models) {
            out.addAll(byModel.getOrDefault(p, List.of())); // in generator order, as sequential sampling gives them
        }
        synchronized (failures) {
            failures.addAll(failed);
        }
        if (!failed.isEmpty() && byModel.isEmpty() && sampled.isEmpty()) {
            throw new RemoteException("every generator failed: " + String.join("; ", failed.stream()
                    .map(f -> f.model() + ": " + f.error()).toList()), false);
        }
        streamed = streams && !byModel.isEmpty();
        sampled.addAll(out);
        List<String> fresh = new ArrayList<>(order);
        for (Sample s : out) {
            String t = s.candidate().text().strip();
            if (!t.isBlank() && !fresh.contains(t)) {
                fresh.add(t);
            }
        }
        setOrder(fresh, "sampling", Map.of());
        listener.onCandidates(Sample.toResults(sampled));
    }

    /** One member's candidates; {@code threads} > 0 replaces an automatic thread count. */
    List<Sample> sample(Path p, int perModel, SamplerOptions sampler, int threads, TokenListener tokens) {
        checkCancelled();
        ContextOptions options = blender.generatorContext(p, perModel);
        if (threads > 0 && options.threads() == 0) {
            options = options.withThreads(threads);
        }
        List<Sample> out = new ArrayList<>();
        try (ModelPool.Lease lease = blender.leaseGenerator(p, options)) {
            int[] prompt = generatorPrompt(lease.model());
            GenerationRequest generation = generation(prompt, perModel, sampler, maxTokens())
                    .withTopLogprobs(request.topLogprobs());
            SharedWork.Samples samples;
            if (request.sharedWork() != null && request.topLogprobs() == 0) {
                boolean[] decoded = {false};
                samples = request.sharedWork().samples(p, prompt, perModel, sampler, request.seed(), maxTokens(),
                        stop(), () -> {
                            decoded[0] = true;
                            return timedSample(lease.context(), generation, tokens);
                        });
                if (!decoded[0]) {
                    reuse(samples.millis());
                    if (tokens != TokenListener.NONE) {
                        tokens.onToken(0, -1, samples.candidates().get(0).text()); // a streamed answer, all at once
                    }
                }
            } else {
                samples = timedSample(lease.context(), generation, tokens);
            }
            long generated = 0;
            for (Candidate c : samples.candidates()) {
                checkedCandidate(c);
                // ranking, voting and fusion read a reasoning model's answer, not its thoughts
                var split = Generator.answer(lease.model(), prompt, c.text());
                out.add(new Sample(config.memberLabel(p),
                        split.answer().equals(c.text()) ? c : c.withText(split.answer()), split.thinking()));
                generated += c.tokenCount();
            }
            count("sampling", prompt.length, generated); // the prompt is decoded once for all candidates
        }
        return out;
    }

    /**
     * A remote member's candidates, one request each in parallel. Its candidates carry no token ids (-1,
     * as many as the server said it generated) and no token probabilities.
     *
     * @throws RemoteException the member did not answer (after its retries)
     */
    List<Sample> sampleRemote(Path p, int perModel, SamplerOptions sampler, BooleanSupplier stop) {
        checkCancelled();
        OpenAiClient client = blender.remoteClient(p);
        List<ChatMessage> messages = generatorMessages();
        String text = config.generatorText(request.prompt());
        RemoteRequest remote = new RemoteRequest(messages, text, sampler.temperature(), sampler.topP(), maxTokens(),
                stop(), request.seed());
        Supplier<SharedWork.Samples> ask = () -> {
            long t0 = System.nanoTime();
            List<RemoteCompletion> answers = client.complete(remote, perModel, stop);
            double millis = (System.nanoTime() - t0) / 1e6;
            List<Candidate> cs = new ArrayList<>();
            for (int i = 0; i < answers.size(); i++) {
                RemoteCompletion c = answers.get(i);
                int[] ids = new int[(int) Math.max(0, c.completionTokens())];
                Arrays.fill(ids, -1);
                cs.add(new Candidate(i, c.text(), ids, new float[0], c.finishReason(), 0, millis));
            }
            return new SharedWork.Samples(cs, millis, answers.stream().mapToLong(RemoteCompletion::promptTokens)
                    .max().orElse(0));
        };
        SharedWork.Samples samples;
        if (request.sharedWork() != null) {
            // what the server is sent identifies the sampling, as the prompt's tokens do for a local member
            int[] key = (client.endpoint().api() == RemoteEndpoint.Api.CHAT
                    ? messages.toString() : text).codePoints().toArray();
            boolean[] asked = {false};
            samples = request.sharedWork().samples(p, key, perModel, sampler, request.seed(), maxTokens(), stop(), () -> {
                asked[0] = true;
                return ask.get();
            });
            if (!asked[0]) {
                reuse(samples.millis());
            }
        } else {
            samples = ask.get();
        }
        List<Sample> out = new ArrayList<>();
        long generated = 0;
        for (Candidate c : samples.candidates()) {
            remoteCandidates.add(c);
            out.add(new Sample(config.memberLabel(p), c));
            generated += c.tokenCount();
        }
        count("sampling", Math.max(0, samples.promptTokens()), generated); // the prompt once, as for local members
        return out;
    }

    SharedWork.Samples timedSample(LlamaContext ctx, GenerationRequest generation, TokenListener tokens) {
        long t0 = System.nanoTime();
        List<Candidate> cs = Generator.generate(ctx, generation, tokens);
        return new SharedWork.Samples(cs, (System.nanoTime() - t0) / 1e6);
    }

    /** What identifies a local mix: the members, their combination and everything the request decodes with. */
    private record MixKey(List<Path> members, CombineOptions options, List<ChatMessage> messages, int maxTokens,
                          SamplerOptions sampler, List<String> stop, long seed, Float pack, Float solo) {}

    /** What identifies one local fusion: the fuser, the instruction, the inputs in order and the decoding. */
    private record FuseKey(Path fuser, String prompt, List<String> inputs, int maxTokens, SamplerOptions sampler,
                           List<String> stop, long seed) {}

    /**
     * A mix or fusion from the request's shared work when it has one (charged what it cost, its text told
     * to {@code tokens} at once), else written now.
     */
    SharedWork.Written shared(Object key, TokenListener tokens, Supplier<SharedWork.Written> write) {
        if (request.sharedWork() == null) {
            return write.get();
        }
        boolean[] wrote = {false};
        SharedWork.Written w = request.sharedWork().written(key, () -> {
            wrote[0] = true;
            return write.get();
        });
        if (!wrote[0]) {
            reuse(w.millis());
            if (tokens != TokenListener.NONE) {
                tokens.onToken(0, -1, w.candidate().text());
            }
        }
        return w;
    }

    /** Work a shared store did before: its wall time counts as this request's (see {@link SharedWork}). */
    void reuse(double originalMillis) {
        synchronized (this) {
            reusedMillis += originalMillis;
        }
    }

    Path generatorNamed(String name) {
        if (name.equalsIgnoreCase("first")) {
            return first();
        }
        return config.generatorNamed(name);
    }

    void setOrder(List<String> texts, String by, Map<String, Double> byScore) {
        order = List.copyOf(texts);
        orderedBy = by;
        scores = byScore;
        if (!by.equals("sampling")) {
            listener.onRanked(ranked(), by);
        }
    }

    /** What wrote the answer: the stage's output, else the first candidate with the top text. */
    Candidate answerCandidate() {
        return answer != null ? answerCandidate : order.isEmpty() ? null : candidateOf(order.get(0));
    }

    /** The first sampled candidate with this text (for its finish reason and token probabilities). */
    Candidate candidateOf(String text) {
        return sampled.stream().map(Sample::candidate).filter(c -> c.text().strip().equals(text))
                .findFirst().orElse(null);
    }

    void vote() {
        setOrder(Votes.byFrequency(sampled.stream().map(c -> c.candidate().text()).toList()), "votes", Map.of());
    }

    void rank(Stage.Rank x) {
        List<String> texts = x.among() != null && x.among() < order.size() ? order.subList(0, x.among()) : order;
        List<String> rest = order.subList(texts.size(), order.size());
        if (texts.size() < 2) {
            return; // nothing to choose between
        }
        if (overBudget()) {
            vote();
            return;
        }
        if (x.by() == Stage.Ranker.CONSENSUS) {
            consensus(texts, rest);
            return;
        }
        if (config.judge() == null && config.reranker() == null) {
            vote();
            return;
        }
        Aggregation aggregation = x.aggregation() != null ? x.aggregation() : config.aggregation();
        int k = Math.min(x.topK() != null ? x.topK() : topK(), texts.size());
        Ranking ranking = withRanker(ranker -> Rankings.rank(ranker, request.prompt(), texts, aggregation, k,
                request.seed()));
        Map<String, Double> byScore = new HashMap<>();
        double[] s = ranking.scores();
        for (int i = 0; i < texts.size(); i++) {
            byScore.put(texts.get(i), s[i]);
        }
        List<String> ranked = new ArrayList<>(ranking.order().stream().map(texts::get).toList());
        ranked.addAll(rest);
        setOrder(ranked, dev.blender.runtime.Names.id(aggregation), byScore);
    }

    /** Orders the texts by how much every candidate (repeats included) agrees with each; the rest follow. */
    void consensus(List<String> among, List<String> rest) {
        List<String> all = sampled.stream().map(s -> s.candidate().text().strip()).toList();
        double[] s = blender.embeddings().score(request.prompt(), all);
        Map<String, Double> byScore = new HashMap<>();
        for (int i = 0; i < all.size(); i++) {
            byScore.putIfAbsent(all.get(i), s[i]);
        }
        List<String> texts = new ArrayList<>(among);
        texts.sort((a, b) -> Double.compare(byScore.get(b), byScore.get(a)));
        texts.addAll(rest);
        setOrder(texts, "consensus", byScore);
    }

    /** Runs the judge (or reranker) through the pair cache, counting what it decoded. */
    <T> T withRanker(java.util.function.Function<PairRanker, T> use) {
        if (config.judge() != null) {
            return blender.withJudge(this::isCancelled, judge -> {
                T out = rankWith(judge, use);
                if (judge instanceof RemoteJudge remote && remote.textVerdicts() > 0) {
                    note("text-verdicts", remote.textVerdicts(), v -> "remote judge "
                            + config.memberName(config.judge()) + " gave no log-probability of a verdict for "
                            + Math.round(v) + " ordered pairs: judged by the verdict's text (scores +-"
                            + RemoteJudge.TEXT_VERDICT + " or 0)");
                }
                return out;
            });
        }
        try (ModelPool.Lease lease = blender.leaseRanker()) {
            return rankWith(new RerankerScorer(lease.context()).asPairRanker(), use);
        }
    }

    private <T> T rankWith(PairRanker ranker, java.util.function.Function<PairRanker, T> use) {
        SharedWork shared = request.sharedWork();
        CachingPairRanker caching = new CachingPairRanker(ranker, shared != null ? shared.pairs() : blender.pairCache);
        long before = ranker.tokensDecoded();
        long generatedBefore = ranker.tokensGenerated();
        T out = use.apply(caching);
        if (shared != null) {
            // every pair at what it cost when first judged, as if this request had judged it
            count("ranking", Math.round(caching.chargedTokens()), 0);
            reuse(caching.chargedMillis());
        } else if (config.judge() != null) {
            long generated = ranker.tokensGenerated() - generatedBefore; // the judge's rationales
            count("ranking", ranker.tokensDecoded() - before - generated, generated);
        }
        return out;
    }

    /** Adds {@code value} to the note of this kind (summed over stages), its message made from the total. */
    void note(String kind, double value, java.util.function.DoubleFunction<String> message) {
        synchronized (notes) {
            BlendResult.Note before = notes.get(kind);
            double total = before == null ? value : before.value() + value;
            notes.put(kind, new BlendResult.Note(kind, message.apply(total), total));
        }
    }

    void mix(Stage.Mix x, boolean stream) {
        if (answer != null && overBudget()) {
            return;
        }
        List<Path> members = generators();
        if (members.size() == 1) {
            // nothing to mix: the one routed generator answers alone, counted as sampling
            Path only = members.get(0);
            Candidate c;
            if (blender.remoteClient(only) != null) {
                c = sampleRemote(only, 1, sampler(config.answerSampler()), this::isCancelled).get(0).candidate();
                if (stream) {
                    emit(c.text()); // not streamed over HTTP: the answer at once
                }
            } else {
                c = sample(only, 1, sampler(config.answerSampler()), 0,
                        stream ? answerListener() : TokenListener.NONE).get(0).candidate();
            }
            streamed = stream;
            answer = c.text().strip();
            answerCandidate = c;
            return;
        }
        if (members.stream().anyMatch(p -> blender.remoteClient(p) != null)) {
            mixRemote(x, members, stream);
            return;
        }
        List<ModelPool.Lease> leases = new ArrayList<>();
        try {
            List<LlamaContext> contexts = new ArrayList<>();
            for (Path p : members) {
                ModelPool.Lease l = blender.leaseGenerator(p, blender.generatorContext(p, 1));
                leases.add(l);
                contexts.add(l.context());
            }
            CombineOptions options = x.adapted(x.method() != null ? CombineOptions.equal(x.method(), contexts.size())
                    : config.combine() != null ? combineFor(members)
                    : CombineOptions.equal(CombineMethod.LOG_LINEAR, contexts.size()));
            MixRequest mixRequest = MixRequest.ofMessages(generatorMessages())
                    .withMaxTokens(maxTokens()).withSampler(sampler(config.answerSampler())).withStop(stop())
                    .withSeed(request.seed()).withCancellation(request.cancellation());
            if (x.pack() != null) {
                mixRequest = mixRequest.withPerplexityWeights(x.pack());
            }
            if (x.solo() != null) {
                mixRequest = mixRequest.withGate(x.solo());
            }
            MixRequest asked = mixRequest;
            TokenListener tokens = stream ? answerListener() : TokenListener.NONE;
            Candidate c = checkedCandidate(shared(new MixKey(members, options, generatorMessages(), maxTokens(),
                    sampler(config.answerSampler()), stop(), request.seed(), x.pack(), x.solo()), tokens, () -> {
                        long t0 = System.nanoTime();
                        MixedGenerator mix = new MixedGenerator(contexts, options, VocabAlignment.Policy.ALIGN_BY_TEXT);
                        Candidate made = checkedCandidate(mix.generate(asked, tokens));
                        return new SharedWork.Written(made, (System.nanoTime() - t0) / 1e6, -1);
                    }).candidate());
            streamed = stream;
            for (LlamaContext ctx : contexts) {
                count("mixing", generatorPrompt(ctx.model()).length, c.tokenCount());
            }
            answer = c.text().strip();
            answerCandidate = c;
        } finally {
            leases.forEach(ModelPool.Lease::close);
        }
    }

    /**
     * A per-token mix with remote members ({@link RemoteMix}): the union of the members' top lists, local
     * members read in full; the mass the remote lists leave out is noted in the result.
     */
    void mixRemote(Stage.Mix x, List<Path> members, boolean stream) {
        List<ModelPool.Lease> leases = new ArrayList<>();
        try {
            List<RemoteMix.Member> mixed = new ArrayList<>();
            int topK = 1;
            for (Path p : members) {
                OpenAiClient client = blender.remoteClient(p);
                if (client != null) {
                    mixed.add(RemoteMix.Member.remote(config.memberLabel(p), client));
                    topK = Math.max(topK, client.endpoint().topLogprobs());
                } else {
                    ModelPool.Lease l = blender.leaseGenerator(p, blender.generatorContext(p, 1));
                    leases.add(l);
                    mixed.add(RemoteMix.Member.local(config.memberLabel(p), l.context(), generatorPrompt(l.model())));
                }
            }
            CombineOptions options = x.adapted(x.method() != null ? CombineOptions.equal(x.method(), members.size())
                    : config.combine() != null ? combineFor(members)
                    : CombineOptions.equal(CombineMethod.LOG_LINEAR, members.size()));
            RemoteMix.Result r = new RemoteMix(mixed, options, topK).generate(config.generatorText(request.prompt()),
                    new DecodeOptions(maxTokens(), sampler(config.answerSampler()), stop(), request.seed(), null),
                    this::isCancelled, stream ? answerListener() : TokenListener.NONE);
            Candidate c = checkedCandidate(r.candidate());
            streamed = stream;
            synchronized (failures) {
                r.failures().forEach(f -> failures.add(new BlendResult.MemberFailure(f.member(), f.error())));
            }
            count("mixing", r.promptTokens(), (long) c.tokenCount() * members.size());
            note("missing-mass", r.meanMissingMass(), v -> String.format(java.util.Locale.ROOT, "per-token mix with"
                    + " remote members: mean probability mass outside their top lists %.4f (largest %.4f) over %d steps",
                    r.meanMissingMass(), r.maxMissingMass(), r.steps()));
            answer = c.text().strip();
            answerCandidate = c;
        } finally {
            leases.forEach(ModelPool.Lease::close);
        }
    }

    /**
     * The configured combination, its weights narrowed to the routed members; negative evidence (whose
     * members play fixed roles) and weights that leave the routed members nothing mix them log-linearly.
     */
    CombineOptions combineFor(List<Path> members) {
        CombineOptions configured = config.combine();
        if (routed == null) {
            return configured;
        }
        float[] all = configured.weights();
        float[] w = new float[members.size()];
        float sum = 0;
        for (int i = 0; i < w.length; i++) {
            w[i] = all[config.generators().indexOf(members.get(i))];
            sum += w[i];
        }
        return configured.method() == CombineMethod.NEGATIVE_EVIDENCE || !(sum > 0)
                ? CombineOptions.equal(CombineMethod.LOG_LINEAR, members.size()) : configured.withWeights(w);
    }

    /** The fuser's inputs: the top k of the order, or the answer first and then the top of the order. */
    List<String> fuseInputs(Integer topK, Stage.FuseInputs inputs) {
        int k = topK != null ? topK : topK();
        List<String> chosen = new ArrayList<>();
        if (inputs == Stage.FuseInputs.ANSWER_FIRST) {
            chosen.add(answer());
        }
        for (String t : order) {
            if (chosen.size() < k && !chosen.contains(t)) {
                chosen.add(t);
            }
        }
        return chosen.isEmpty() ? List.of("") : chosen; // every candidate was blank
    }

    void fuse(Integer topK, Stage.FuseInputs inputs, int orders, boolean stream) {
        if (config.fuser() == null || (overBudget() && (answer != null || !order.isEmpty()))) {
            return;
        }
        List<String> top = fuseInputs(topK, inputs);
        List<List<String>> permutations = permutations(top, orders);
        boolean streams = stream && permutations.size() == 1; // a vote of several is known only at the end
        OpenAiClient remote = blender.remoteClient(config.fuser());
        if (remote != null) {
            RemoteFuser fuser = new RemoteFuser(remote, config.fuserTemplate());
            List<String> written = new ArrayList<>();
            Map<String, Candidate> first = new HashMap<>();
            for (List<String> in : permutations) {
                checkCancelled();
                long t0 = System.nanoTime();
                RemoteCompletion rc = fuser.fuse(request.prompt(), in, fusedMaxTokens(), config.answerSampler(), stop(),
                        request.seed(), this::isCancelled);
                int[] ids = new int[(int) Math.max(0, rc.completionTokens())];
                Arrays.fill(ids, -1);
                Candidate c = new Candidate(0, rc.text(), ids, new float[0], rc.finishReason(), 0,
                        (System.nanoTime() - t0) / 1e6);
                remoteCandidates.add(c);
                if (streams) {
                    emit(rc.text()); // not streamed over HTTP: the whole answer at once
                }
                count("fusion", Math.max(0, rc.promptTokens()), c.tokenCount());
                written.add(c.text());
                first.putIfAbsent(c.text().strip(), c);
            }
            streamed = streams;
            List<String> byVotes = Votes.byFrequency(written);
            String best = byVotes.isEmpty() ? written.get(0).strip() : byVotes.get(0);
            fused = first.get(best);
            answer = best;
            answerCandidate = fused;
            return;
        }
        try (ModelPool.Lease lease = pool.lease(config.fuser(), config.modelOptionsFor(config.fuser()),
                blender.fuserContext())) {
            GenFuser fuser = new GenFuser(lease.context(), config.fuserTemplate());
            List<String> written = new ArrayList<>();
            Map<String, Candidate> first = new HashMap<>();
            for (List<String> in : permutations) {
                checkCancelled();
                TokenListener tokens = streams ? answerListener() : TokenListener.NONE;
                SharedWork.Written w = shared(new FuseKey(config.fuser(), request.prompt(), in, fusedMaxTokens(),
                        config.answerSampler(), stop(), request.seed()), tokens, () -> {
                            long t0 = System.nanoTime();
                            Candidate made = checkedCandidate(fuser.fuse(request.prompt(), in, new FuseOptions(
                                    fusedMaxTokens(), config.answerSampler(), stop(), request.seed(),
                                    request.cancellation()), tokens));
                            return new SharedWork.Written(made, (System.nanoTime() - t0) / 1e6,
                                    fuser.promptTokens(request.prompt(), in));
                        });
                Candidate c = checkedCandidate(w.candidate());
                count("fusion", w.promptTokens(), c.tokenCount(), c.speculation());
                written.add(c.text());
                first.putIfAbsent(c.text().strip(), c);
            }
            streamed = streams;
            List<String> byVotes = Votes.byFrequency(written);
            String best = byVotes.isEmpty() ? written.get(0).strip() : byVotes.get(0); // all blank: the blank stands
            fused = first.get(best);
            answer = best;
            answerCandidate = fused;
        }
    }

    /** {@code count} orders of the inputs: as given first, then the next permutations in lexicographic order of positions. */
    static List<List<String>> permutations(List<String> items, int count) {
        List<List<String>> out = new ArrayList<>();
        int[] idx = new int[items.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        do {
            List<String> p = new ArrayList<>();
            for (int i : idx) {
                p.add(items.get(i));
            }
            out.add(p);
        } while (out.size() < count && nextPermutation(idx));
        return out;
    }

    private static boolean nextPermutation(int[] a) {
        int i = a.length - 2;
        while (i >= 0 && a[i] >= a[i + 1]) {
            i--;
        }
        if (i < 0) {
            return false;
        }
        int j = a.length - 1;
        while (a[j] <= a[i]) {
            j--;
        }
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
        for (int l = i + 1, r = a.length - 1; l < r; l++, r--) {
            t = a[l];
            a[l] = a[r];
            a[r] = t;
        }
        return true;
    }

    void verify() {
        String top = order.isEmpty() ? null : order.get(0);
        String current = answer();
        if (top == null || top.equals(current) || current.isBlank() || overBudget()
                || config.judge() == null && config.reranker() == null) {
            return;
        }
        List<String> two = List.of(current, top);
        Ranking r = withRanker(ranker -> Rankings.rank(ranker, request.prompt(), two, Aggregation.MAX_LOGITS, 1,
                request.seed()));
        if (r.best() == 1) {
            answer = top;
            answerCandidate = candidateOf(top);
        }
    }

    /** The judge's own solution, from reading the answer and the next text of the order ({@link JudgeSolver}). */
    void solve() {
        if (config.judge() == null || overBudget()) {
            return;
        }
        if (blender.remoteClient(config.judge()) != null) {
            throw new IllegalArgumentException("solve needs a local judge; judge " + config.memberName(config.judge())
                    + " is remote");
        }
        String first = answer();
        String second = order.stream().filter(t -> !t.equals(first)).findFirst().orElse(first);
        try (ModelPool.Lease lease = blender.leaseRanker()) {
            JudgeSolver solver = new JudgeSolver(lease.context(), config.judgeTemplate());
            int[] prompt = solver.prompt(request.prompt(), first, second);
            Candidate c = checkedCandidate(solver.solve(prompt, request.seed(), request.cancellation()));
            count("solving", prompt.length, c.tokenCount());
            answer = c.text();
            answerCandidate = c;
        }
    }

    void pick(Stage.Pick x) {
        if (written.isEmpty()) {
            return; // the top of the order stands for the answer: nothing else to choose from
        }
        AnswerPick.Written w = AnswerPick.choose(written, x.last());
        answer = w.text();
        answerCandidate = w.by();
    }

    void refine(Stage.Refine x) {
        for (int round = 0; round < x.rounds(); round++) {
            String before = answer();
            fuse(x.topK(), Stage.FuseInputs.ANSWER_FIRST, 1, false);
            if (answer().equals(before)) {
                return; // a fixed point: another round would write it again
            }
        }
    }

    boolean confident(Stage.Gate x) {
        double threshold = x.threshold() != null ? x.threshold() : config.cascadeConfidence();
        return switch (x.rule()) {
            case TOKEN_PROBABILITY -> {
                double least = 0;
                Candidate by = answerCandidate();
                if (by != null && remoteCandidates.contains(by)) {
                    yield false; // a remote member's answer: its probabilities are unknown, so the blend goes on
                }
                if (by != null) {
                    for (float f : by.logProbs()) {
                        least = Math.min(least, f);
                    }
                }
                yield Math.exp(least) >= threshold;
            }
            case AGREEMENT -> {
                String a = answer();
                long agree = sampled.stream().filter(s -> s.candidate().text().strip().equals(a)).count();
                yield !sampled.isEmpty() && (double) agree / sampled.size() >= threshold;
            }
        };
    }

    // ---- request settings over the blender's ----

    void count(String stage, long prompt, long generated) {
        count(stage, prompt, generated, SpeculationStats.NONE);
    }

    void count(String stage, long prompt, long generated, SpeculationStats speculation) {
        synchronized (usage) {
            for (int i = 0; i < usage.size(); i++) {
                BlendResult.StageUsage u = usage.get(i);
                if (u.stage().equals(stage)) {
                    usage.set(i, new BlendResult.StageUsage(stage, u.promptTokens() + prompt,
                            u.generatedTokens() + generated, u.speculation().plus(speculation)));
                    return;
                }
            }
            usage.add(new BlendResult.StageUsage(stage, prompt, generated, speculation));
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
    List<ChatMessage> generatorMessages() {
        List<ChatMessage> messages = new ArrayList<>(request.messages());
        messages.set(messages.size() - 1, ChatMessage.user(config.generatorText(request.prompt())));
        return messages;
    }

    /** The conversation as a generator reads it (see {@link BlendRequest#messages()}). */
    int[] generatorPrompt(LlamaModel model) {
        return Generator.prompt(model, generatorMessages(), true);
    }

    /** A piece of the answer to the listener; the first non-empty one times the first token. */
    void emit(String text) {
        if (firstToken < 0 && !text.isEmpty()) {
            firstToken = elapsed();
        }
        listener.onAnswer(text);
    }

    TokenListener answerListener() {
        return (c, token, text) -> emit(text);
    }

    /** Milliseconds since the request started, work reused from a {@link SharedWork} included. */
    double elapsed() {
        synchronized (this) {
            return (System.nanoTime() - start) / 1e6 + reusedMillis;
        }
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
        if (c.finishReason() == FinishReason.CANCELLED) {
            throw new CancellationException("blend cancelled");
        }
        return c;
    }

    /**
     * Where decodes of different contexts are exact in parallel (v0.5.0), members sample at once, if their
     * threads fit the processors: members with a thread count of their own keep it, the others split the
     * automatic count. llama.cpp's compute threads spin at every barrier, so two members of 2 threads on 2
     * cores took 81 s where one after the other took 5 (the synthetic bench's sampling stage).
     */
    boolean sampleInParallel(List<Path> generators) {
        if (!config.parallelMembers() || generators.size() < 2 || LlamaContext.decodesSerialised()) {
            return false;
        }
        List<Integer> threads = new ArrayList<>();
        for (Path p : generators) {
            int own = config.modelOptionsFor(p).threads();
            threads.add(own > 0 ? own : Math.max(1, ContextOptions.automaticThreads() / generators.size()));
        }
        return fitsProcessors(threads, Runtime.getRuntime().availableProcessors());
    }

    /** Whether decodes with these thread counts can all run at once without sharing a processor. */
    static boolean fitsProcessors(List<Integer> threads, int processors) {
        return threads.stream().mapToInt(Integer::intValue).sum() <= processors;
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
}
