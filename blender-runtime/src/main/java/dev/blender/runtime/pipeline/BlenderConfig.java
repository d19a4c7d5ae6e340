package dev.blender.runtime.pipeline;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.MemoryFootprint;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.pairranker.reranker.RerankerScorer;
import dev.blender.runtime.combine.CombineOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Objects;

/**
 * A {@link Blender}'s configuration, validated when built: every model file is checked as GGUF, every
 * number is in range, and the default strategy must be possible with the roles given. Build it in code
 * with {@link Blender#builder()} or read it from a JSON file with {@link #load(Path)} so that the CLI and
 * embedding applications share one file.
 */
public record BlenderConfig(List<Path> generators, Path judge, JudgeTemplate judgeTemplate, Path reranker, Path fuser,
                            FuserTemplate fuserTemplate, ModelOptions modelOptions, int contextSize,
                            int candidatesPerModel, Aggregation aggregation, int topK, SamplerOptions candidateSampler,
                            SamplerOptions answerSampler, int maxTokens, int fusedMaxTokens, CombineOptions combine,
                            Strategy strategy, double cascadeConfidence, long memoryBudgetBytes,
                            long deviceMemoryBudgetBytes, boolean parallelMembers, long pairCacheSize,
                            List<String> stop, String generatorPrompt, Map<Path, ModelOptions> perModelOptions,
                            Map<Path, Integer> perModelContextSize) {

    public BlenderConfig {
        generators = List.copyOf(generators);
        stop = List.copyOf(stop);
        perModelOptions = Map.copyOf(perModelOptions);
        perModelContextSize = Map.copyOf(perModelContextSize);
        perModelContextSize.forEach((p, n) -> positive("contextSize of " + p.getFileName(), n));
        if (generators.isEmpty()) {
            throw new IllegalArgumentException("a blender needs at least one generator model");
        }
        // every file is read and validated once, here; the checks below use what was read
        Map<Path, GgufFile> files = new HashMap<>();
        for (Path p : allModels(generators, judge, reranker, fuser)) {
            files.computeIfAbsent(p, GgufFile::read);
        }
        if (reranker != null) {
            RerankerScorer.checkSupported(files.get(reranker));
            if (judge != null) {
                throw new IllegalArgumentException("configure a judge or a reranker, not both: both rank candidates");
            }
        }
        positive("contextSize", contextSize);
        positive("candidatesPerModel", candidatesPerModel);
        positive("topK", topK);
        positive("maxTokens", maxTokens);
        positive("fusedMaxTokens", fusedMaxTokens);
        if (memoryBudgetBytes < 1) {
            throw new IllegalArgumentException("memoryBudgetBytes must be >= 1, was " + memoryBudgetBytes);
        }
        if (deviceMemoryBudgetBytes < 0) {
            throw new IllegalArgumentException("deviceMemoryBudgetBytes must be >= 0 (0 = the GPUs' free memory), was "
                    + deviceMemoryBudgetBytes);
        }
        for (Path p : allModels(generators, judge, reranker, fuser)) {
            ModelOptions o = perModelOptions.getOrDefault(p, modelOptions);
            MemoryFootprint fp = ModelPool.footprintHere(files.get(p), o);
            if (fp.hostBytes() > memoryBudgetBytes) {
                throw new IllegalArgumentException("memoryBudgetBytes " + memoryBudgetBytes + " is smaller than the "
                        + fp.hostBytes() + " bytes " + p.getFileName() + " keeps in host memory: it could never stay"
                        + " loaded; raise the budget" + (o.gpuLayers() == 0 ? " or offload layers to a GPU" : ""));
            }
            if (deviceMemoryBudgetBytes > 0 && fp.deviceBytes() > deviceMemoryBudgetBytes) {
                throw new IllegalArgumentException("deviceMemoryBudgetBytes " + deviceMemoryBudgetBytes + " is smaller than"
                        + " the " + fp.deviceBytes() + " bytes " + p.getFileName() + " puts on the GPU with gpuLayers "
                        + o.gpuLayers() + "; raise the budget or offload fewer layers");
            }
        }
        if (pairCacheSize < 1) {
            throw new IllegalArgumentException("pairCacheSize must be >= 1, was " + pairCacheSize);
        }
        if (!(cascadeConfidence >= 0 && cascadeConfidence <= 1)) {
            throw new IllegalArgumentException("cascadeConfidence must be in [0, 1], was " + cascadeConfidence);
        }
        if (combine != null && combine.members() != generators.size()) {
            throw new IllegalArgumentException("combine " + combine + " is for " + combine.members() + " models, but "
                    + generators.size() + " generators are configured");
        }
        if (generatorPrompt == null || !generatorPrompt.contains("{prompt}")) {
            throw new IllegalArgumentException("generatorPrompt must contain {prompt}, was " + generatorPrompt);
        }
        Objects.requireNonNull(modelOptions, "modelOptions");
        Objects.requireNonNull(aggregation, "aggregation");
        Objects.requireNonNull(candidateSampler, "candidateSampler");
        Objects.requireNonNull(answerSampler, "answerSampler");
        Objects.requireNonNull(strategy, "strategy");
        if (judge != null) {
            Objects.requireNonNull(judgeTemplate, "judgeTemplate");
        }
        if (fuser != null) {
            Objects.requireNonNull(fuserTemplate, "fuserTemplate");
        }
        if (!supports(generators.size(), strategy)) {
            throw new IllegalArgumentException(unsupported(strategy));
        }
    }

    private static List<Path> allModels(List<Path> generators, Path judge, Path reranker, Path fuser) {
        List<Path> all = new ArrayList<>(generators);
        for (Path p : new Path[] {judge, reranker, fuser}) {
            if (p != null) {
                all.add(p);
            }
        }
        return all;
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, was " + value);
        }
    }

    private static boolean supports(int generators, Strategy strategy) {
        return strategy != Strategy.TOKEN_COMBINE || generators >= 2;
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
        return perModelOptions.getOrDefault(model, modelOptions);
    }

    /** KV cells per sequence for a model: its own where configured, else the common size. */
    public int contextSizeFor(Path model) {
        return perModelContextSize.getOrDefault(model, contextSize);
    }

    /** Whether this configuration can run a strategy. */
    public boolean supports(Strategy strategy) {
        return supports(generators.size(), strategy);
    }

    void checkSupports(Strategy strategy) {
        if (!supports(strategy)) {
            throw new IllegalArgumentException(unsupported(strategy));
        }
    }

    private static String unsupported(Strategy strategy) {
        return "strategy " + strategy + " needs at least two generator models";
    }

    /**
     * Reads a JSON configuration. Models are listed with a role (generator, judge, reranker, fuser) and
     * optionally their own threads, gpuLayers and contextSize; paths are relative to the file's folder:
     * <pre>{@code
     * {"models": [{"path": "a.gguf", "role": "generator"}, {"path": "b.gguf", "role": "generator"},
     *             {"path": "judge.gguf", "role": "judge", "template": "arith"},
     *             {"path": "fuser.gguf", "role": "fuser", "template": "arith"}],
     *  "strategy": "FULL_BLEND", "candidatesPerModel": 4, "topK": 3, "maxTokens": 64, "contextSize": 512,
     *  "threads": 0, "gpuLayers": 0, "temperature": 0.8, "aggregation": "MAX_LOGITS", "memoryBudgetMiB": 8192,
 *  "generatorPrompt": "{prompt}"}
     * }</pre>
     * Judge templates: arith, ab; fuser templates: arith, llm-blender, aggregator.
     *
     * @throws IllegalArgumentException the file is unreadable, has an unknown key or role, or a bad value
     */
    public static BlenderConfig load(Path file) {
        Builder b = loadBuilder(file);
        try {
            return b.buildConfig();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("configuration " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A builder holding a file's settings (see {@link #load}), to change before building: how command-line
     * options override a configuration file.
     *
     * @throws IllegalArgumentException the file is unreadable, has an unknown key or role, or a bad value
     */
    public static Builder loadBuilder(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("configuration " + file + " cannot be read: " + e.getMessage());
        }
        try {
            return fromJson(root, file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("configuration " + file + ": " + e.getMessage(), e);
        }
    }

    private static final List<String> MODEL_KEYS = List.of("path", "role", "template", "threads", "gpuLayers",
            "contextSize");

    private static final List<String> KEYS = List.of("models", "strategy", "candidatesPerModel", "topK", "maxTokens",
            "fusedMaxTokens", "contextSize", "threads", "gpuLayers", "temperature", "aggregation", "memoryBudgetMiB",
            "deviceMemoryBudgetMiB", "parallelMembers",
            "cascadeConfidence", "stop", "generatorPrompt");

    static Builder fromJson(JsonNode root, Path base) {
        root.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "' (known: " + String.join(", ", KEYS) + ")");
            }
        });
        Builder b = new Builder();
        JsonNode models = root.path("models");
        if (!models.isArray() || models.isEmpty()) {
            throw new IllegalArgumentException("'models' must list at least one {path, role}");
        }
        for (JsonNode m : models) {
            String path = m.path("path").asText(null);
            String role = m.path("role").asText("generator");
            if (path == null) {
                throw new IllegalArgumentException("a model entry lacks 'path': " + m);
            }
            Path p = base.resolve(path);
            String template = m.path("template").asText(null);
            m.fieldNames().forEachRemaining(k -> {
                if (!MODEL_KEYS.contains(k)) {
                    throw new IllegalArgumentException("unknown key '" + k + "' in the entry of " + path + " (known: "
                            + String.join(", ", MODEL_KEYS) + ")");
                }
            });
            if (m.has("threads") || m.has("gpuLayers")) {
                // what the entry leaves out it inherits from the top level (a model that sets only its
                // threads still gets the file's gpuLayers)
                b.modelOptions(p, ModelOptions.defaults()
                        .withThreads(m.path("threads").asInt(root.path("threads").asInt(0)))
                        .withGpuLayers(m.path("gpuLayers").asInt(root.path("gpuLayers").asInt(0))));
            }
            if (m.has("contextSize")) {
                b.contextSize(p, m.get("contextSize").asInt());
            }
            switch (role.toLowerCase(Locale.ROOT)) {
                case "generator" -> b.generator(p);
                case "judge" -> b.judge(p, template == null || template.equals("ab") ? JudgeTemplate.abAnswer()
                        : template.equals("arith") ? JudgeTemplate.arith() : unknownTemplate("judge", template));
                case "reranker" -> b.reranker(p);
                case "fuser" -> b.fuser(p, template == null || template.equals("llm-blender") ? FuserTemplate.llmBlender()
                        : template.equals("arith") ? FuserTemplate.arith()
                        : template.equals("aggregator") ? FuserTemplate.aggregator() : unknownTemplate("fuser", template));
                default -> throw new IllegalArgumentException("unknown role '" + role + "' for " + path
                        + " (roles: generator, judge, reranker, fuser)");
            }
        }
        if (root.has("strategy")) {
            b.strategy(Strategy.parse(root.get("strategy").asText()));
        }
        if (root.has("aggregation")) {
            b.aggregation(Aggregation.valueOf(root.get("aggregation").asText().toUpperCase(Locale.ROOT)));
        }
        if (root.has("candidatesPerModel")) {
            b.candidatesPerModel(root.get("candidatesPerModel").asInt());
        }
        if (root.has("topK")) {
            b.topK(root.get("topK").asInt());
        }
        if (root.has("maxTokens")) {
            b.maxTokens(root.get("maxTokens").asInt());
        }
        if (root.has("fusedMaxTokens")) {
            b.fusedMaxTokens(root.get("fusedMaxTokens").asInt());
        }
        if (root.has("contextSize")) {
            b.contextSize(root.get("contextSize").asInt());
        }
        if (root.has("threads") || root.has("gpuLayers")) {
            b.modelOptions(ModelOptions.defaults().withThreads(root.path("threads").asInt(0))
                    .withGpuLayers(root.path("gpuLayers").asInt(0)));
        }
        if (root.has("temperature")) {
            b.candidateSampler(SamplerOptions.defaults().withTemperature((float) root.get("temperature").asDouble()));
        }
        if (root.has("deviceMemoryBudgetMiB")) {
            b.deviceMemoryBudgetBytes(root.get("deviceMemoryBudgetMiB").asLong() << 20);
        }
        if (root.has("parallelMembers")) {
            b.parallelMembers(root.get("parallelMembers").asBoolean());
        }
        if (root.has("memoryBudgetMiB")) {
            b.memoryBudgetBytes(root.get("memoryBudgetMiB").asLong() << 20);
        }
        if (root.has("cascadeConfidence")) {
            b.cascadeConfidence(root.get("cascadeConfidence").asDouble());
        }
        if (root.has("generatorPrompt")) {
            b.generatorPrompt(root.get("generatorPrompt").asText());
        }
        if (root.has("stop")) {
            List<String> stop = new ArrayList<>();
            root.get("stop").forEach(s -> stop.add(s.asText()));
            b.stop(stop);
        }
        return b;
    }

    private static <T> T unknownTemplate(String role, String name) {
        throw new IllegalArgumentException("unknown " + role + " template '" + name + "'");
    }

    /** A Caffeine-style builder: set what you need, {@link #build()} validates everything. */
    public static final class Builder {
        private final List<Path> generators = new ArrayList<>();
        private Path judge;
        private JudgeTemplate judgeTemplate;
        private Path reranker;
        private Path fuser;
        private FuserTemplate fuserTemplate;
        private final Map<Path, ModelOptions> perModelOptions = new HashMap<>();
        private final Map<Path, Integer> perModelContextSize = new HashMap<>();
        private ModelOptions modelOptions = ModelOptions.defaults();
        private int contextSize = 512;
        private int candidatesPerModel = 4;
        private Aggregation aggregation = Aggregation.MAX_LOGITS;
        private int topK = 3;
        private SamplerOptions candidateSampler = SamplerOptions.defaults();
        private SamplerOptions answerSampler = SamplerOptions.greedy();
        private int maxTokens = 256;
        private int fusedMaxTokens = 256;
        private CombineOptions combine;
        private Strategy strategy;
        private double cascadeConfidence = 0.5;
        private long memoryBudgetBytes = 8L << 30;
        private long deviceMemoryBudgetBytes;
        private boolean parallelMembers = true;
        private long pairCacheSize = 100_000;
        private List<String> stop = List.of();
        private String generatorPrompt = "{prompt}";

        Builder() {}

        /** A model that writes candidates (repeat for each). */
        public Builder generator(Path model) {
            generators.add(Objects.requireNonNull(model, "model"));
            return this;
        }

        /** The pairwise judge and how it is asked. */
        public Builder judge(Path model, JudgeTemplate template) {
            this.judge = Objects.requireNonNull(model, "model");
            this.judgeTemplate = Objects.requireNonNull(template, "template");
            return this;
        }

        /** A reranker model (rank pooling) that scores candidates instead of a judge. */
        public Builder reranker(Path model) {
            this.reranker = Objects.requireNonNull(model, "model");
            return this;
        }

        /** Threads and GPU layers of one model, overriding {@link #modelOptions(ModelOptions)}. */
        public Builder modelOptions(Path model, ModelOptions o) {
            perModelOptions.put(Objects.requireNonNull(model, "model"), Objects.requireNonNull(o, "options"));
            return this;
        }

        /** KV cells per sequence of one model, overriding {@link #contextSize(int)}. */
        public Builder contextSize(Path model, int n) {
            perModelContextSize.put(Objects.requireNonNull(model, "model"), n);
            return this;
        }

        /** The fuser and how it is asked. */
        public Builder fuser(Path model, FuserTemplate template) {
            this.fuser = Objects.requireNonNull(model, "model");
            this.fuserTemplate = Objects.requireNonNull(template, "template");
            return this;
        }

        /** Threads and GPU layers of every model. */
        public Builder modelOptions(ModelOptions o) {
            this.modelOptions = o;
            return this;
        }

        /** KV cells per sequence (a prompt plus its answer); default 512. */
        public Builder contextSize(int n) {
            this.contextSize = n;
            return this;
        }

        /** Candidates sampled from each generator; default 4. */
        public Builder candidatesPerModel(int n) {
            this.candidatesPerModel = n;
            return this;
        }

        public Builder aggregation(Aggregation a) {
            this.aggregation = a;
            return this;
        }

        /** Candidates fused; default 3. */
        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        /** How candidates are sampled; default llama.cpp's chain at temperature 0.8. */
        public Builder candidateSampler(SamplerOptions s) {
            this.candidateSampler = s;
            return this;
        }

        /** How the final answer is decoded (fuser, single model, combination); default greedy. */
        public Builder answerSampler(SamplerOptions s) {
            this.answerSampler = s;
            return this;
        }

        /** Token budget of a candidate; default 256. */
        public Builder maxTokens(int n) {
            this.maxTokens = n;
            return this;
        }

        /** Token budget of the fused answer; default 256. */
        public Builder fusedMaxTokens(int n) {
            this.fusedMaxTokens = n;
            return this;
        }

        /** The per-token combination for TOKEN_COMBINE; default log-linear, equal weights. */
        public Builder combine(CombineOptions c) {
            this.combine = c;
            return this;
        }

        /** The default strategy; default FULL_BLEND with a judge or fuser, else TOKEN_COMBINE or SINGLE. */
        public Builder strategy(Strategy s) {
            this.strategy = s;
            return this;
        }

        public Builder cascadeConfidence(double p) {
            this.cascadeConfidence = p;
            return this;
        }

        /** Weight bytes kept loaded in host memory (layers offloaded to a GPU do not count); default 8 GiB. */
        public Builder memoryBudgetBytes(long bytes) {
            this.memoryBudgetBytes = bytes;
            return this;
        }

        /**
         * Weight bytes kept loaded in GPU memory, for models with {@code gpuLayers}; default 0: the free
         * memory of the GPU devices when the blender starts.
         */
        public Builder deviceMemoryBudgetBytes(long bytes) {
            this.deviceMemoryBudgetBytes = bytes;
            return this;
        }

        /**
         * Whether the generators sample at the same time, one thread each with the threads split between
         * them, where the llama.cpp library decodes different contexts in parallel exactly (v0.5.0; see
         * {@link dev.blender.nativebridge.LlamaAbi#serialisesDecodes()}). Default true; the candidates are
         * the same either way.
         */
        public Builder parallelMembers(boolean on) {
            this.parallelMembers = on;
            return this;
        }

        public Builder pairCacheSize(long n) {
            this.pairCacheSize = n;
            return this;
        }

        public Builder stop(List<String> s) {
            this.stop = s;
            return this;
        }

        /**
         * How a user's prompt is put to the generators, with {@code {prompt}}; default {@code "{prompt}"}.
         * E.g. {@code "Q: {prompt} A:"} for the arith models, whose judge and fuser expect the bare question.
         */
        public Builder generatorPrompt(String format) {
            this.generatorPrompt = format;
            return this;
        }

        /** Validates and returns the configuration. */
        public BlenderConfig buildConfig() {
            Strategy s = strategy != null ? strategy
                    : judge != null || reranker != null || fuser != null ? Strategy.FULL_BLEND
                    : generators.size() >= 2 ? Strategy.TOKEN_COMBINE : Strategy.SINGLE;
            return new BlenderConfig(generators, judge, judgeTemplate, reranker, fuser, fuserTemplate, modelOptions,
                    contextSize,
                    candidatesPerModel, aggregation, topK, candidateSampler, answerSampler, maxTokens, fusedMaxTokens,
                    combine, s, cascadeConfidence, memoryBudgetBytes, deviceMemoryBudgetBytes, parallelMembers,
                    pairCacheSize, stop, generatorPrompt,
                    perModelOptions, perModelContextSize);
        }

        /** Validates the configuration and creates the blender. */
        public Blender build() {
            return Blender.create(buildConfig());
        }
    }
}
