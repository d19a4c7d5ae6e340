package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuseOptions;
import dev.blender.genfuser.Fuser;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.DecodeOptions;
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
import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.remote.RemoteException;
import dev.blender.runtime.remote.RemoteJudge;
import dev.blender.runtime.remote.RemoteMix;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
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
    /** The member that wrote each of {@link #sampled}, position by position. */
    final List<Member> sampledBy = new ArrayList<>();
    List<String> order = List.of();
    Map<String, Double> scores = Map.of();
    String orderedBy = "sampling";
    /** The answer a stage wrote and its candidate, or null while the top of the order stands for it. */
    String answer;
    Candidate answerCandidate;
    /** Who wrote {@link #answerCandidate}: a member, or null for a per-token mix of several. */
    Member answerAuthor;
    Candidate fused;
    /** Every answer a stage wrote, in order ({@link Stage.Pick} chooses among them). */
    final List<AnswerPick.Written> written = new ArrayList<>();
    /** The member that wrote each of {@link #written}, position by position (null: a per-token mix). */
    final List<Member> writtenBy = new ArrayList<>();
    boolean escalated;
    boolean streamed;
    /** The generators a route stage chose, or null: every generator. */
    List<Member> routed;
    /** Members that failed to answer (remote ones), in the order they failed. */
    final List<BlendResult.MemberFailure> failures = new ArrayList<>();
    /** Approximations remote members made, one note per kind (see {@link BlendResult.Note}). */
    final Map<String, BlendResult.Note> notes = new LinkedHashMap<>();

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
                writtenBy.add(answerAuthor);
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
                reason, routed == null ? List.of() : routed.stream().map(Member::label).toList(), failures,
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
    List<Member> generators() {
        return routed != null ? routed : config.members();
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
                Map<Member, Double> score = new LinkedHashMap<>();
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
                Map<Member, Double> score = new LinkedHashMap<>();
                for (Member m : config.members()) {
                    score.put(m, confidence(m, r.tokensOrDefault()));
                }
                yield best(score, x.pickOrDefault());
            }
        };
    }

    /** The {@code pick} highest-scoring generators, best first (ties: generator order). */
    static <T> List<T> best(Map<T, Double> score, int pick) {
        List<T> ranked = new ArrayList<>(score.keySet());
        ranked.sort((a, b) -> Double.compare(score.get(b), score.get(a)));
        return List.copyOf(ranked.subList(0, Math.min(pick, ranked.size())));
    }

    /** The mean log-probability of a generator's first greedy tokens. */
    double confidence(Member m, int tokens) {
        Seat.Drawn d = draw(m, 1, SamplerOptions.greedy(), tokens, 0, TokenListener.NONE, this::isCancelled, false);
        Candidate c = d.sampled().get(0).candidate();
        count("routing", d.promptTokens(), d.generatedTokens());
        return c.logProbs().length == 0 ? Double.NEGATIVE_INFINITY : c.meanLogProb();
    }

    void sample(Stage.Sample x, boolean stream) {
        List<Member> models = x.models().isEmpty() ? generators()
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
        // remote members answer over the network while the local ones decode: they always run at once; local
        // members run at once where their threads fit the processors, one after the other elsewhere
        List<Member> local = models.stream().filter(m -> !(m instanceof Member.Remote)).toList();
        boolean parallel = sampleInParallel(local);
        int threads = parallel ? Math.max(1, ContextOptions.automaticThreads() / local.size()) : 0;
        AtomicBoolean abandoned = new AtomicBoolean();
        BooleanSupplier stop = () -> abandoned.get() || isCancelled();
        Map<Member, CompletableFuture<List<Sample>>> async = new LinkedHashMap<>();
        for (Member m : models) {
            if (m instanceof Member.Remote || parallel) {
                async.put(m, CompletableFuture.supplyAsync(() -> sample(m, n, chosen, threads, TokenListener.NONE, stop),
                        blender.members));
            }
        }
        Map<Member, List<Sample>> byModel = new HashMap<>();
        List<BlendResult.MemberFailure> failed = new ArrayList<>();
        try {
            for (Member m : models) {
                if (!async.containsKey(m)) {
                    byModel.put(m, sample(m, n, chosen, 0, answerTokens, stop));
                }
            }
            for (Map.Entry<Member, CompletableFuture<List<Sample>>> e : async.entrySet()) {
                try {
                    List<Sample> got = join(e.getValue());
                    byModel.put(e.getKey(), got);
                    if (streams) {
                        // the one answer, all at once, on the blend's thread as a local one streams
                        answerTokens.onToken(0, -1, got.get(0).candidate().text());
                    }
                } catch (RemoteException why) {
                    failed.add(new BlendResult.MemberFailure(e.getKey().label(), why.getMessage()));
                }
            }
        } finally {
            abandoned.set(true); // a local member's error ends this stage: remote requests still out stop
        }
        List<Sample> out = new ArrayList<>();
        List<Member> by = new ArrayList<>();
        for (Member m : models) {
            for (Sample s : byModel.getOrDefault(m, List.of())) { // in generator order, as sampled one by one
                out.add(s);
                by.add(m);
            }
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
        sampledBy.addAll(by);
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

    /**
     * One member's candidates, counted as sampling; {@code threads} > 0 replaces an automatic thread count,
     * {@code abandoned} gives up on a remote member's requests still out.
     *
     * @throws RemoteException a remote member did not answer (after its retries)
     */
    List<Sample> sample(Member m, int perModel, SamplerOptions sampler, int threads, TokenListener tokens,
                                     BooleanSupplier abandoned) {
        Seat.Drawn d = draw(m, perModel, sampler, maxTokens(), threads, tokens, abandoned, true);
        count("sampling", d.promptTokens(), d.generatedTokens()); // the prompt is decoded once for all candidates
        return d.sampled();
    }

    /** A member's candidates for the request's conversation; {@code share}: through the request's shared work. */
    Seat.Drawn draw(Member m, int n, SamplerOptions sampler, int maxTokens, int threads, TokenListener tokens,
                    BooleanSupplier abandoned, boolean share) {
        checkCancelled();
        Seat.Drawn d = blender.seat(m).sample(new Seat.Ask(generatorMessages(), config.generatorText(request.prompt()),
                n, sampler, maxTokens, stop(), request.seed(), request.cancellation(), abandoned,
                share ? request.topLogprobs() : 0, threads, share ? request.sharedWork() : null), tokens);
        for (Sample s : d.sampled()) {
            checkedCandidate(s.candidate());
        }
        reuse(d.reusedMillis());
        return d;
    }

    /** What identifies a local mix: the members, their combination and everything the request decodes with. */
    private record MixKey(List<Member> members, CombineOptions options, List<ChatMessage> messages, int maxTokens,
                          SamplerOptions sampler, List<String> stop, long seed, Float pack, Float solo) {}

    /** What identifies one fusion: the fuser, the instruction, the inputs in order and the decoding. */
    private record FuseKey(Member fuser, String prompt, List<String> inputs, int maxTokens, SamplerOptions sampler,
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

    Member generatorNamed(String name) {
        if (name.equalsIgnoreCase("first")) {
            return first();
        }
        return config.member(config.generatorNamed(name));
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
        int i = sampledIndex(text);
        return i < 0 ? null : sampled.get(i).candidate();
    }

    /** The member that wrote {@link #candidateOf} this text, or null. */
    Member authorOf(String text) {
        int i = sampledIndex(text);
        return i < 0 ? null : sampledBy.get(i);
    }

    private int sampledIndex(String text) {
        for (int i = 0; i < sampled.size(); i++) {
            if (sampled.get(i).candidate().text().strip().equals(text)) {
                return i;
            }
        }
        return -1;
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
                            + config.judgeMember().name() + " gave no log-probability of a verdict for "
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
        List<Member> members = generators();
        if (members.size() == 1) {
            // nothing to mix: the one routed generator answers alone, counted as sampling
            Member only = members.get(0);
            Candidate c = sample(only, 1, sampler(config.answerSampler()), 0,
                    stream ? answerListener() : TokenListener.NONE, this::isCancelled).get(0).candidate();
            streamed = stream;
            answer = c.text().strip();
            answerCandidate = c;
            answerAuthor = only;
            return;
        }
        List<ModelPool.Lease> leases = new ArrayList<>();
        try {
            List<ChatMessage> messages = generatorMessages();
            List<RemoteMix.Member> mixed = new ArrayList<>();
            int topK = 1;
            for (Member m : members) {
                Seat seat = blender.seat(m);
                mixed.add(seat.mixed(messages, leases));
                topK = Math.max(topK, seat.topLogprobs());
            }
            CombineOptions options = x.adapted(x.method() != null ? CombineOptions.equal(x.method(), members.size())
                    : config.combine() != null ? combineFor(members)
                    : CombineOptions.equal(CombineMethod.LOG_LINEAR, members.size()));
            TokenListener tokens = stream ? answerListener() : TokenListener.NONE;
            Candidate c = mixed.stream().allMatch(m -> m.context() != null) ? mixLocal(x, members, mixed, options, tokens)
                    : mixRemote(mixed, options, topK, tokens);
            streamed = stream;
            answer = c.text().strip();
            answerCandidate = c;
            answerAuthor = null;
        } finally {
            leases.forEach(ModelPool.Lease::close);
        }
    }

    /** A per-token mix of local members: every member's full distribution ({@link MixedGenerator}). */
    Candidate mixLocal(Stage.Mix x, List<Member> by, List<RemoteMix.Member> members, CombineOptions options,
                       TokenListener tokens) {
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
        Candidate c = checkedCandidate(shared(new MixKey(by, options, generatorMessages(), maxTokens(),
                sampler(config.answerSampler()), stop(), request.seed(), x.pack(), x.solo()), tokens, () -> {
                    long t0 = System.nanoTime();
                    MixedGenerator mix = new MixedGenerator(members.stream().map(RemoteMix.Member::context).toList(),
                            options, VocabAlignment.Policy.ALIGN_BY_TEXT);
                    Candidate made = checkedCandidate(mix.generate(asked, tokens));
                    return new SharedWork.Written(made, (System.nanoTime() - t0) / 1e6, -1);
                }).candidate());
        for (RemoteMix.Member m : members) {
            count("mixing", m.prompt().length, c.tokenCount());
        }
        return c;
    }

    /**
     * A per-token mix with remote members ({@link RemoteMix}): the union of the members' top lists, local
     * members read in full; the mass the remote lists leave out is noted in the result.
     */
    Candidate mixRemote(List<RemoteMix.Member> members, CombineOptions options, int topK, TokenListener tokens) {
        RemoteMix.Result r = new RemoteMix(members, options, topK).generate(config.generatorText(request.prompt()),
                new DecodeOptions(maxTokens(), sampler(config.answerSampler()), stop(), request.seed(), null),
                this::isCancelled, tokens);
        Candidate c = checkedCandidate(r.candidate());
        synchronized (failures) {
            r.failures().forEach(f -> failures.add(new BlendResult.MemberFailure(f.member(), f.error())));
        }
        count("mixing", r.promptTokens(), (long) c.tokenCount() * members.size());
        note("missing-mass", r.meanMissingMass(), v -> String.format(java.util.Locale.ROOT, "per-token mix with"
                + " remote members: mean probability mass outside their top lists %.4f (largest %.4f) over %d steps",
                r.meanMissingMass(), r.maxMissingMass(), r.steps()));
        return c;
    }

    /**
     * The configured combination, its weights narrowed to the routed members; negative evidence (whose
     * members play fixed roles) and weights that leave the routed members nothing mix them log-linearly.
     */
    CombineOptions combineFor(List<Member> members) {
        CombineOptions configured = config.combine();
        if (routed == null) {
            return configured;
        }
        float[] all = configured.weights();
        float[] w = new float[members.size()];
        float sum = 0;
        for (int i = 0; i < w.length; i++) {
            w[i] = all[config.members().indexOf(members.get(i))];
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
        Member by = config.fuserMember();
        if (by == null || (overBudget() && (answer != null || !order.isEmpty()))) {
            return;
        }
        List<String> top = fuseInputs(topK, inputs);
        List<List<String>> permutations = permutations(top, orders);
        boolean streams = stream && permutations.size() == 1; // a vote of several is known only at the end
        List<String> written = new ArrayList<>();
        Map<String, Candidate> first = new HashMap<>();
        blender.seat(by).withFuser(config.fuserTemplate(), fuser -> {
            for (List<String> in : permutations) {
                checkCancelled();
                TokenListener tokens = streams ? answerListener() : TokenListener.NONE;
                SharedWork.Written w = shared(new FuseKey(by, request.prompt(), in, fusedMaxTokens(),
                        config.answerSampler(), stop(), request.seed()), tokens, () -> {
                            long t0 = System.nanoTime();
                            Fuser.Fusion f = fuser.fuse(request.prompt(), in, new FuseOptions(fusedMaxTokens(),
                                    config.answerSampler(), stop(), request.seed(), request.cancellation()), tokens);
                            return new SharedWork.Written(checkedCandidate(f.candidate()),
                                    (System.nanoTime() - t0) / 1e6, f.promptTokens(), f.generatedTokens());
                        });
                Candidate c = checkedCandidate(w.candidate());
                count("fusion", w.promptTokens(), w.generatedTokens(), c.speculation());
                written.add(c.text());
                first.putIfAbsent(c.text().strip(), c);
            }
            return null;
        });
        streamed = streams;
        List<String> byVotes = Votes.byFrequency(written);
        String best = byVotes.isEmpty() ? written.get(0).strip() : byVotes.get(0); // all blank: the blank stands
        fused = first.get(best);
        answer = best;
        answerCandidate = fused;
        answerAuthor = by;
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
            answerAuthor = authorOf(top);
        }
    }

    /** The judge's own solution, from reading the answer and the next text of the order ({@link JudgeSolver}). */
    void solve() {
        if (config.judge() == null || overBudget()) {
            return;
        }
        if (config.judgeMember() instanceof Member.Remote r) {
            throw new IllegalArgumentException("solve needs a local judge; judge " + r.name() + " is remote");
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
            answerAuthor = config.judgeMember();
        }
    }

    void pick(Stage.Pick x) {
        if (written.isEmpty()) {
            return; // the top of the order stands for the answer: nothing else to choose from
        }
        AnswerPick.Written w = AnswerPick.choose(written, x.last());
        answer = w.text();
        answerCandidate = w.by();
        answerAuthor = writtenBy.get(written.indexOf(w));
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
                Member author = answer != null ? answerAuthor : order.isEmpty() ? null : authorOf(order.get(0));
                if (by != null && author != null && !author.givesTokens()) {
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
    Member first() {
        return request.generator() != null ? config.member(request.generator()) : config.members().get(0);
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
    boolean sampleInParallel(List<Member> generators) {
        if (!config.parallelMembers() || generators.size() < 2 || LlamaContext.decodesSerialised()) {
            return false;
        }
        List<Integer> threads = new ArrayList<>();
        for (Member m : generators) {
            int own = config.modelOptionsFor(BlenderConfig.key(m)).threads();
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
