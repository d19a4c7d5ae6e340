package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * A {@link Blender}'s configuration, validated when built: every number is in range (its builder's setters
 * refuse a bad value at once), and {@link Preflight} checks what the files and the machine say (every model
 * file valid GGUF and within the memory budgets) and that the default strategy is possible with the roles given. Build it in code
 * with {@link Blender#builder()} or read it from a JSON file with {@link #load(Path)} so that the CLI and
 * embedding applications share one file.
 */
public final class BlenderConfig {
    private final List<Path> generators;
    private final Map<Path, Member.Adapter> adapters;
    private final Map<Path, Member.Remote> remotes;
    /** The adapter and remote members by their keys (a plain model file is a {@link Member.Local} of its key). */
    private final Map<Path, Member> members;
    /** The remote members' bearer tokens, read from their apiKeyEnv when the configuration was built. */
    private final Map<Path, String> apiKeys;
    private final Path judge;
    private final JudgeTemplate judgeTemplate;
    private final Path reranker;
    private final Path fuser;
    private final FuserTemplate fuserTemplate;
    private final SamplingSettings sampling;
    private final RankingSettings ranking;
    private final ResourceSettings resources;
    private final CombineOptions combine;
    private final Composition composition;
    private final String generatorPrompt;

    private BlenderConfig(Builder b) {
        List<Path> generators = b.generators;
        Map<Path, Member.Adapter> adapters = Map.copyOf(b.adapters);
        // only the members still configured: a judge or fuser set again in the builder leaves its old entry
        Map<Path, Member.Remote> configured = new HashMap<>();
        b.remotes.forEach((k, r) -> {
            if (b.generators.contains(k) || k.equals(b.judge) || k.equals(b.fuser)) {
                configured.put(k, r);
            }
        });
        Map<Path, Member.Remote> remotes = Map.copyOf(configured);
        Path judge = b.judge;
        Path reranker = b.reranker;
        Path fuser = b.fuser;
        // remote members cannot mix per token (no logits over HTTP), so two or more vote instead
        Composition composition = b.composition != null ? b.composition
                : b.judge != null || b.reranker != null || b.fuser != null ? Strategy.FULL_BLEND.composition()
                : b.generators.size() >= 2 && remotes.isEmpty() ? Strategy.TOKEN_COMBINE.composition()
                : b.generators.size() >= 2 ? Composition.named("majority") : Strategy.SINGLE.composition();
        generators = List.copyOf(generators);
        ModelOptions modelOptions = b.modelOptions;
        Map<Path, ModelOptions> perModelOptions = b.perModelOptions;
        if (b.probeLoad || b.probeTimeout != null) {
            java.util.function.UnaryOperator<ModelOptions> probe = o -> {
                ModelOptions p = b.probeLoad ? o.withProbeLoad(true) : o;
                return b.probeTimeout != null ? p.withProbeTimeout(b.probeTimeout) : p;
            };
            modelOptions = probe.apply(modelOptions);
            Map<Path, ModelOptions> probed = new java.util.HashMap<>();
            perModelOptions.forEach((k, v) -> probed.put(k, probe.apply(v)));
            perModelOptions = probed;
        }
        if (generators.isEmpty()) {
            throw new IllegalArgumentException("a blender needs at least one generator model");
        }
        Preflight preflight = new Preflight(generators, adapters, remotes, judge, reranker, fuser);
        JudgeTemplate judgeTemplate = preflight.judgeTemplate(b.judgeTemplate);
        FuserTemplate fuserTemplate = preflight.fuserTemplate(b.fuserTemplate);
        preflight.checkReranker();
        ResourceSettings resources = new ResourceSettings(modelOptions, b.contextSize, b.memoryBudgetBytes,
                b.deviceMemoryBudgetBytes, b.parallelMembers, b.prefixReuse, perModelOptions, b.perModelContextSize);
        preflight.checkMemory(resources::modelOptionsFor, b.memoryBudgetBytes, b.deviceMemoryBudgetBytes);
        if (b.combine != null && b.combine.members() != generators.size()) {
            throw new IllegalArgumentException("combine " + b.combine + " is for " + b.combine.members() + " models, but "
                    + generators.size() + " generators are configured");
        }
        if (judge != null) {
            Objects.requireNonNull(judgeTemplate, "judgeTemplate");
        }
        if (fuser != null) {
            Objects.requireNonNull(fuserTemplate, "fuserTemplate");
        }
        this.generators = generators;
        this.adapters = adapters;
        this.remotes = remotes;
        Map<Path, Member> members = new HashMap<>(adapters);
        members.putAll(remotes);
        this.members = Map.copyOf(members);
        this.apiKeys = preflight.apiKeys();
        this.judge = judge;
        this.judgeTemplate = judgeTemplate;
        this.reranker = reranker;
        this.fuser = fuser;
        this.fuserTemplate = fuserTemplate;
        this.sampling = new SamplingSettings(b.candidatesPerModel, b.candidateSampler, b.answerSampler, b.maxTokens,
                b.fusedMaxTokens, b.stop);
        this.ranking = new RankingSettings(b.aggregation, b.topK, b.cascadeConfidence, b.pairCacheSize);
        this.resources = resources;
        this.combine = b.combine;
        this.composition = composition;
        this.generatorPrompt = b.generatorPrompt;
        checkSupports(composition); // last: it reads the fields (the combination among them)
    }

    public List<Path> generators() {
        return generators;
    }

    /** The adapter member a generator is, or empty for a plain model file. */
    public Optional<Member.Adapter> adapter(Path member) {
        return Optional.ofNullable(adapters.get(member));
    }

    /** The remote member a generator, the judge or the fuser is, or empty for a local one. */
    public Optional<Member.Remote> remote(Path member) {
        return Optional.ofNullable(remotes.get(member));
    }

    /** Whether any generator is remote. */
    boolean hasRemoteGenerators() {
        return generators.stream().anyMatch(remotes::containsKey);
    }

    /** Whether any member (a generator, the judge or the fuser) is remote. */
    public boolean hasRemoteMembers() {
        return !remotes.isEmpty();
    }

    /** A remote member's bearer token (null: none configured). */
    String apiKey(Member.Remote member) {
        return apiKeys.get(remoteKey(member));
    }

    /** The base model of an adapter member (empty for a plain generator). */
    public Optional<Path> adapterBase(Path member) {
        return adapter(member).map(Member.Adapter::base);
    }

    /** The scale an adapter member's adapter is applied at (empty for a plain generator). */
    public OptionalDouble adapterScale(Path member) {
        Member.Adapter a = adapters.get(member);
        return a == null ? OptionalDouble.empty() : OptionalDouble.of(a.scale());
    }

    /** A member's identity ({@link Member#name()}) by its key in {@link #generators()} or a role. */
    public String memberName(Path member) {
        return member(member).name();
    }

    /** A member's display name ({@link Member#label()}) by its key in {@link #generators()} or a role. */
    public String memberLabel(Path member) {
        return member(member).label();
    }

    /**
     * The member a path of {@link #generators()}, {@link #judge()}, {@link #reranker()} or {@link #fuser()} stands
     * for: its adapter or remote member where it is one, else the model file.
     */
    public Member member(Path key) {
        Member m = members.get(key);
        return m != null ? m : new Member.Local(key);
    }

    /** The generators as members, in order. */
    public List<Member> members() {
        return generators.stream().map(this::member).toList();
    }

    /** The judge as a member, or null without one. */
    public Member judgeMember() {
        return judge == null ? null : member(judge);
    }

    /** The fuser as a member, or null without one. */
    public Member fuserMember() {
        return fuser == null ? null : member(fuser);
    }

    /**
     * The path that stands for a member in the path-keyed settings ({@link #modelOptionsFor}, {@link
     * #contextSizeFor}) and in {@link #generators()}: a model's file, an adapter member's adapter file, a remote
     * member's {@code @remote/<name>} (no file is looked up there).
     */
    public static Path key(Member member) {
        return switch (member) {
            case Member.Local l -> l.model();
            case Member.Adapter a -> a.adapter();
            case Member.Remote r -> remoteKey(r);
        };
    }

    static Path remoteKey(Member.Remote r) {
        return Path.of("@remote", r.name());
    }

    /** The generators' names, in order. */
    public List<String> generatorNames() {
        return generators.stream().map(this::memberName).toList();
    }

    /** How candidates and the answer are decoded. */
    public SamplingSettings sampling() {
        return sampling;
    }

    /** How candidates are ranked and a cascade stops. */
    public RankingSettings ranking() {
        return ranking;
    }

    /** What the models may take of the machine. */
    public ResourceSettings resources() {
        return resources;
    }

    public Path judge() {
        return judge;
    }

    public JudgeTemplate judgeTemplate() {
        return judgeTemplate;
    }

    public Path reranker() {
        return reranker;
    }

    public Path fuser() {
        return fuser;
    }

    public FuserTemplate fuserTemplate() {
        return fuserTemplate;
    }

    public ModelOptions modelOptions() {
        return resources.modelOptions();
    }

    public int contextSize() {
        return resources.contextSize();
    }

    public int candidatesPerModel() {
        return sampling.candidatesPerModel();
    }

    public Aggregation aggregation() {
        return ranking.aggregation();
    }

    public int topK() {
        return ranking.topK();
    }

    public SamplerOptions candidateSampler() {
        return sampling.candidateSampler();
    }

    public SamplerOptions answerSampler() {
        return sampling.answerSampler();
    }

    public int maxTokens() {
        return sampling.maxTokens();
    }

    public int fusedMaxTokens() {
        return sampling.fusedMaxTokens();
    }

    public CombineOptions combine() {
        return combine;
    }

    public Composition composition() {
        return composition;
    }

    public double cascadeConfidence() {
        return ranking.cascadeConfidence();
    }

    public long memoryBudgetBytes() {
        return resources.memoryBudgetBytes();
    }

    public long deviceMemoryBudgetBytes() {
        return resources.deviceMemoryBudgetBytes();
    }

    public boolean parallelMembers() {
        return resources.parallelMembers();
    }

    /** Whether generator and fuser contexts keep their last prompt for the next request ({@link Builder#prefixReuse}). */
    public boolean prefixReuse() {
        return resources.prefixReuse();
    }

    public long pairCacheSize() {
        return ranking.pairCacheSize();
    }

    public List<String> stop() {
        return sampling.stop();
    }

    public String generatorPrompt() {
        return generatorPrompt;
    }

    public Map<Path, ModelOptions> perModelOptions() {
        return resources.perModelOptions();
    }

    public Map<Path, Integer> perModelContextSize() {
        return resources.perModelContextSize();
    }

    /** A generator's name in compositions: {@link Member#shortName}, the one rule. */
    public static String shortName(Path generator) {
        return Member.shortName(generator);
    }

    /** The generator a composition names, or null. */
    Path named(String name) {
        for (Path g : generators) {
            if (member(g).answersTo(name)) {
                return g;
            }
        }
        return null;
    }

    /**
     * The generator a composition names (its file name, with or without {@code .gguf}, or an adapter
     * member's name).
     *
     * @throws IllegalArgumentException no generator has that name
     */
    public Path generatorNamed(String name) {
        Path p = named(name);
        if (p == null) {
            throw new IllegalArgumentException("no generator named '" + name + "'; generators: " + generatorNames());
        }
        return p;
    }

    /**
     * What the generators are given for a user's prompt (before their chat template): the judge and
     * the fuser see the user's prompt itself as the instruction.
     */
    public String generatorText(String userPrompt) {
        return generatorPrompt.replace("{prompt}", userPrompt);
    }

    /** The options a model loads with: its own where configured, else the common ones. */
    public ModelOptions modelOptionsFor(Path model) {
        return resources.modelOptionsFor(model);
    }

    /** KV cells per sequence for a model: its own where configured, else the common size. */
    public int contextSizeFor(Path model) {
        return resources.contextSizeFor(model);
    }

    /** Whether this configuration can run a strategy. */
    public boolean supports(Strategy strategy) {
        return supports(strategy.composition());
    }

    /** Whether this configuration has the generators a composition names or needs. */
    public boolean supports(Composition composition) {
        return Preflight.unsupported(this, composition) == null;
    }

    void checkSupports(Composition composition) {
        String why = Preflight.unsupported(this, composition);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
    }

    /**
     * Reads a JSON configuration file (the format: {@link BlenderConfigJson}).
     *
     * @throws IllegalArgumentException the file is unreadable, has an unknown key or role, or a bad value
     */
    public static BlenderConfig load(Path file) {
        return BlenderConfigJson.load(file);
    }

    /**
     * A Caffeine-style builder: each setter refuses a bad argument at once ({@link IllegalArgumentException} naming
     * the setting), and {@link #buildConfig()} checks the settings together (roles, names, compositions) and
     * against what the model files say. A setting may be set again, the last value counting: the command line
     * and recipes override a configuration file's values on one builder.
     */
    public static final class Builder {
        private final List<Path> generators = new ArrayList<>();
        private final Map<Path, Member.Adapter> adapters = new HashMap<>();
        private final Map<Path, Member.Remote> remotes = new HashMap<>();
        private Path judge;
        private JudgeTemplate judgeTemplate;
        private Path reranker;
        private Path fuser;
        private FuserTemplate fuserTemplate;
        private final Map<Path, ModelOptions> perModelOptions = new HashMap<>();
        private final Map<Path, Integer> perModelContextSize = new HashMap<>();
        private ModelOptions modelOptions = ModelOptions.defaults();
        private boolean probeLoad;
        private java.time.Duration probeTimeout;
        private int contextSize = 512;
        private int candidatesPerModel = 4;
        private Aggregation aggregation = Aggregation.MAX_LOGITS;
        private int topK = 3;
        private SamplerOptions candidateSampler = SamplerOptions.defaults();
        private SamplerOptions answerSampler = SamplerOptions.greedy();
        private int maxTokens = 256;
        private int fusedMaxTokens = 256;
        private CombineOptions combine;
        private Composition composition;
        private double cascadeConfidence = 0.5;
        private long memoryBudgetBytes = 8L << 30;
        private long deviceMemoryBudgetBytes;
        private boolean parallelMembers = true;
        private boolean prefixReuse;
        private long pairCacheSize = 100_000;
        private List<String> stop = List.of();
        private String generatorPrompt = "{prompt}";

        Builder() {}

        /** A model that writes candidates (repeat for each). */
        public Builder generator(Path model) {
            generators.add(given("generator", model));
            return this;
        }

        /**
         * A generator that is a LoRA adapter over {@code base}, applied at {@code scale}, named in
         * compositions by the adapter's file name without {@code .gguf}.
         */
        public Builder generatorAdapter(Path base, Path adapter, float scale) {
            return generator(base, adapter, scale, shortName(adapter));
        }

        /**
         * A generator that is a LoRA adapter over {@code base}, applied at {@code scale}, named {@code name}
         * in compositions. Members over one base share one loaded copy of it; each context carries its
         * member's adapter. Per-member options ({@link #modelOptions(Path, ModelOptions)},
         * {@link #contextSize(Path, int)}) are keyed by the adapter file.
         */
        public Builder generator(Path base, Path adapter, float scale, String name) {
            given("generator base", base);
            given("generator adapter", adapter);
            if (given("generator name", name).isBlank()) {
                throw new IllegalArgumentException("adapter " + adapter + " has a blank name");
            }
            Member.Adapter a = new Member.Adapter(base, adapter, scale, name);
            generators.add(adapter);
            adapters.put(adapter, a);
            return this;
        }

        /**
         * A generator answered by an OpenAI-compatible server, named by its model (else host:port) in
         * compositions and results.
         */
        public Builder generator(RemoteEndpoint endpoint) {
            return generator(endpoint, given("generator endpoint", endpoint).defaultName());
        }

        /**
         * A generator answered by an OpenAI-compatible server, named {@code name} in compositions, results
         * and {@code member:} rows. Its API key variable is read when the configuration is built.
         */
        public Builder generator(RemoteEndpoint endpoint, String name) {
            Member.Remote r = new Member.Remote(given("generator endpoint", endpoint), given("generator name", name));
            generators.add(remoteKey(r));
            remotes.put(remoteKey(r), r);
            return this;
        }

        /**
         * The pairwise judge, asked as suits its model: {@link JudgeTemplate#instruct()} where the file has a chat
         * template, else {@link JudgeTemplate#abAnswer()}.
         */
        public Builder judge(Path model) {
            this.judge = given("judge", model);
            this.judgeTemplate = null;
            return this;
        }

        /** The pairwise judge and how it is asked. */
        public Builder judge(Path model, JudgeTemplate template) {
            this.judge = given("judge", model);
            this.judgeTemplate = given("judge template", template);
            return this;
        }

        /**
         * A pairwise judge served by an OpenAI-compatible server ({@code /v1/completions}: its endpoint's api must
         * be completions), named {@code name} (its key is {@code @remote/<name>}).
         */
        public Builder judge(RemoteEndpoint endpoint, JudgeTemplate template, String name) {
            given("judge template", template);
            Member.Remote r = new Member.Remote(given("judge endpoint", endpoint), given("judge name", name));
            this.judge = remoteKey(r);
            this.judgeTemplate = template;
            remotes.put(remoteKey(r), r);
            return this;
        }

        /** A fuser served by an OpenAI-compatible server, named {@code name} (its key is {@code @remote/<name>}). */
        public Builder fuser(RemoteEndpoint endpoint, FuserTemplate template, String name) {
            given("fuser template", template);
            Member.Remote r = new Member.Remote(given("fuser endpoint", endpoint), given("fuser name", name));
            this.fuser = remoteKey(r);
            this.fuserTemplate = template;
            remotes.put(remoteKey(r), r);
            return this;
        }

        /** A reranker model (rank pooling) that scores candidates instead of a judge. */
        public Builder reranker(Path model) {
            this.reranker = given("reranker", model);
            return this;
        }

        /** Threads and GPU layers of one model, overriding {@link #modelOptions(ModelOptions)}. */
        public Builder modelOptions(Path model, ModelOptions o) {
            perModelOptions.put(given("modelOptions model", model), given("modelOptions of " + model.getFileName(), o));
            return this;
        }

        /** KV cells per sequence of one model, overriding {@link #contextSize(int)}. */
        public Builder contextSize(Path model, int n) {
            given("contextSize model", model);
            perModelContextSize.put(model, atLeastOne("contextSize of " + model.getFileName(), n));
            return this;
        }

        /**
         * The fuser, asked as suits its model: {@link FuserTemplate#aggregator()} where the file has a chat template,
         * else {@link FuserTemplate#llmBlender()}.
         */
        public Builder fuser(Path model) {
            this.fuser = given("fuser", model);
            this.fuserTemplate = null;
            return this;
        }

        /** The fuser and how it is asked. */
        public Builder fuser(Path model, FuserTemplate template) {
            this.fuser = given("fuser", model);
            this.fuserTemplate = given("fuser template", template);
            return this;
        }

        /**
         * Whether every model file of the blend is first loaded in a child JVM ({@link ModelOptions#withProbeLoad}),
         * whatever {@link #modelOptions(ModelOptions)} and the per-model options say: for untrusted files.
         */
        public Builder probeLoad(boolean on) {
            this.probeLoad = on;
            return this;
        }

        /**
         * How long each probe ({@link #probeLoad}) may run before its file is refused, for every model of the blend
         * (default {@link ModelOptions#DEFAULT_PROBE_TIMEOUT}); positive.
         */
        public Builder probeTimeout(java.time.Duration timeout) {
            this.probeTimeout = ModelOptions.defaults().withProbeTimeout(given("probeTimeout", timeout)).probeTimeout();
            return this;
        }

        /** Threads and GPU layers of every model. */
        public Builder modelOptions(ModelOptions o) {
            this.modelOptions = given("modelOptions", o);
            return this;
        }

        /** KV cells per sequence (a prompt plus its answer); default 512. */
        public Builder contextSize(int n) {
            this.contextSize = atLeastOne("contextSize", n);
            return this;
        }

        /** Candidates sampled from each generator; default 4. */
        public Builder candidatesPerModel(int n) {
            this.candidatesPerModel = atLeastOne("candidatesPerModel", n);
            return this;
        }

        public Builder aggregation(Aggregation a) {
            this.aggregation = given("aggregation", a);
            return this;
        }

        /** Candidates fused; default 3. */
        public Builder topK(int k) {
            this.topK = atLeastOne("topK", k);
            return this;
        }

        /** How candidates are sampled; default llama.cpp's chain at temperature 0.8. */
        public Builder candidateSampler(SamplerOptions s) {
            this.candidateSampler = given("candidateSampler", s);
            return this;
        }

        /** How the final answer is decoded (fuser, single model, combination); default greedy. */
        public Builder answerSampler(SamplerOptions s) {
            this.answerSampler = given("answerSampler", s);
            return this;
        }

        /** Token budget of a candidate; default 256. */
        public Builder maxTokens(int n) {
            this.maxTokens = atLeastOne("maxTokens", n);
            return this;
        }

        /** Token budget of the fused answer; default 256. */
        public Builder fusedMaxTokens(int n) {
            this.fusedMaxTokens = atLeastOne("fusedMaxTokens", n);
            return this;
        }

        /** The per-token combination for TOKEN_COMBINE; default log-linear, equal weights. */
        public Builder combine(CombineOptions c) {
            this.combine = given("combine", c);
            return this;
        }

        /** The default strategy; default FULL_BLEND with a judge, reranker or fuser, else TOKEN_COMBINE or SINGLE. */
        public Builder strategy(Strategy s) {
            return composition(given("strategy", s).composition());
        }

        /** The default composition (a strategy's stages or your own); default as for {@link #strategy}. */
        public Builder composition(Composition c) {
            this.composition = given("composition", c);
            return this;
        }

        /** The confidence threshold of a cascade, in [0, 1]; default 0.5. */
        public Builder cascadeConfidence(double p) {
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException("cascadeConfidence must be in [0, 1], was " + p);
            }
            this.cascadeConfidence = p;
            return this;
        }

        /** Weight bytes kept loaded in host memory (layers offloaded to a GPU do not count); default 8 GiB. */
        public Builder memoryBudgetBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("memoryBudgetBytes must be >= 1, was " + bytes);
            }
            this.memoryBudgetBytes = bytes;
            return this;
        }

        /**
         * Weight bytes kept loaded in GPU memory, for models with {@code gpuLayers}; default 0: the free
         * memory of the GPU devices when the blender starts.
         */
        public Builder deviceMemoryBudgetBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("deviceMemoryBudgetBytes must be >= 0 (0 = the GPUs' free memory), was "
                        + bytes);
            }
            this.deviceMemoryBudgetBytes = bytes;
            return this;
        }

        /**
         * Whether the generators sample at the same time, the automatic threads split between them, where
         * the llama.cpp library decodes different contexts in parallel exactly (v0.5.0; see
         * {@link dev.blender.nativebridge.LlamaAbi#serialisesDecodes()}) and their threads together fit the
         * processors (oversubscribed, they sample in turn). Default true; the candidates are the same either way.
         */
        public Builder parallelMembers(boolean on) {
            this.parallelMembers = on;
            return this;
        }

        /**
         * Whether the generators' and the fuser's pooled contexts keep the last prompt they decoded (and a
         * candidate's tokens) in their KV cache, so a request whose prompt starts the same way decodes only
         * the rest: a chat's history, a shared system prompt or instruction ({@link
         * dev.blender.nativebridge.ContextOptions#prefixReuse()}). Default false: the kept part was decoded
         * in other batches, so logits agree with a fresh decode only to float rounding, and a seeded
         * request may then sample differently depending on which context served it before. {@code blender
         * chat} turns it on.
         */
        public Builder prefixReuse(boolean on) {
            this.prefixReuse = on;
            return this;
        }

        /** Pairwise comparisons kept for reuse across requests; default 100,000. */
        public Builder pairCacheSize(long n) {
            if (n < 1) {
                throw new IllegalArgumentException("pairCacheSize must be >= 1, was " + n);
            }
            this.pairCacheSize = n;
            return this;
        }

        /** Strings that end a candidate or answer where they appear; default none. */
        public Builder stop(List<String> s) {
            if (given("stop", s).stream().anyMatch(Objects::isNull)) {
                throw new IllegalArgumentException("stop must not contain null, was " + s);
            }
            this.stop = List.copyOf(s);
            return this;
        }

        /**
         * How a user's prompt is put to the generators, with {@code {prompt}}; default {@code "{prompt}"}.
         * E.g. {@code "Q: {prompt} A:"} for the arith models, whose judge and fuser expect the bare question.
         */
        public Builder generatorPrompt(String format) {
            if (format == null || !format.contains("{prompt}")) {
                throw new IllegalArgumentException("generatorPrompt must contain {prompt}, was " + format);
            }
            this.generatorPrompt = format;
            return this;
        }

        /** Validates and returns the configuration. */
        public BlenderConfig buildConfig() {
            return new BlenderConfig(this);
        }

        /** Validates the configuration and creates the blender. */
        public Blender build() {
            return Blender.create(buildConfig());
        }

        private static <T> T given(String setting, T value) {
            if (value == null) {
                throw new IllegalArgumentException(setting + " must not be null");
            }
            return value;
        }

        private static int atLeastOne(String setting, int n) {
            if (n < 1) {
                throw new IllegalArgumentException(setting + " must be >= 1, was " + n);
            }
            return n;
        }
    }
}
