package dev.blender.runtime.pipeline;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The JSON form of a {@link BlenderConfig}: one schema for {@code --config} files and eval recipes (a
 * recipe is a configuration with an {@code eval} section, which this class leaves to the recipe).
 * Models are listed with a role (generator, judge, reranker, fuser) and optionally their own threads,
 * gpuLayers and contextSize (what an entry leaves out it inherits from the top level); paths are
 * relative to the file's folder. A generator may be a LoRA adapter over a base model, {@code {"base":
 * "base.gguf", "adapter": "add.lora.gguf", "scale": 1.0, "name": "add"}} (scale default 1, name default the
 * adapter's file name without {@code .gguf}): members over one base load it once. A generator may be remote,
 * an OpenAI-compatible server: {@code {"url": "http://host:8080/v1", "model": "qwen", "apiKeyEnv": "VAR",
 * "name": "q", "api": "chat", "timeoutSeconds": 60, "retries": 2, "topLogprobs": 20}} (only {@code url} is
 * required; see {@link RemoteEndpoint}); so may the judge and the fuser, with {@code role} and {@code template}
 * (a remote judge with {@code "api": "completions"}).
 * <pre>{@code
 * {"models": [{"path": "a.gguf", "role": "generator"}, {"path": "b.gguf", "role": "generator"},
 *             {"path": "judge.gguf", "role": "judge", "template": "arith"},
 *             {"path": "fuser.gguf", "role": "fuser", "template": "arith"}],
 *  "strategy": "full-blend", "candidatesPerModel": 4, "topK": 3, "maxTokens": 64, "contextSize": 512,
 *  "threads": 0, "gpuLayers": 0, "temperature": 0.8, "aggregation": "max-logits", "memoryBudgetMiB": 8192,
 *  "generatorPrompt": "{prompt}"}
 * }</pre>
 * {@code strategy} is a name or a composition ({@link CompositionJson}). Judge templates: {@code arith},
 * {@code ab}, or {@code {"prompt", "rationaleStop", "verdicts": [first, second], "maxRationaleTokens"}};
 * fuser templates: {@code arith}, {@code llm-blender}, {@code aggregator}, or {@code {"prompt",
 * "candidateFormat", "separator", "candidates", "maxCandidateTokens"}}. {@code candidateSampler} takes
 * {@code {"temperature", "topK", "topP", "minP"}} (llama.cpp's defaults for what it leaves out).
 */
public final class BlenderConfigJson {
    private BlenderConfigJson() {}

    private static final List<String> MODEL_KEYS = List.of("path", "role", "template", "threads", "gpuLayers",
            "contextSize", "name", "base", "adapter", "scale", "url", "model", "apiKeyEnv", "api", "timeoutSeconds",
            "retries", "topLogprobs");

    /** What a remote member's entry may hold: it loads nothing here, so no file or load option. */
    private static final List<String> REMOTE_KEYS = List.of("url", "model", "role", "apiKeyEnv", "name", "api",
            "timeoutSeconds", "retries", "topLogprobs", "template");

    private static final List<String> KEYS = List.of("models", "strategy", "candidatesPerModel", "topK", "maxTokens",
            "fusedMaxTokens", "contextSize", "threads", "gpuLayers", "temperature", "candidateSampler", "aggregation",
            "memoryBudgetMiB", "deviceMemoryBudgetMiB", "parallelMembers", "prefixReuse", "cascadeConfidence", "stop",
            "generatorPrompt", "eval", "probeLoad", "probeTimeoutSeconds");

    /**
     * Reads a configuration file.
     *
     * @throws IllegalArgumentException the file is unreadable, has an unknown key or role, or a bad value
     */
    public static BlenderConfig load(Path file) {
        BlenderConfig.Builder b = loadBuilder(file);
        try {
            return b.buildConfig();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("configuration " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A builder holding a file's settings, to change before building: how command-line options override
     * a configuration file.
     *
     * @throws IllegalArgumentException the file is unreadable, has an unknown key or role, or a bad value
     */
    public static BlenderConfig.Builder loadBuilder(Path file) {
        try {
            return fromJson(tree(file), file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("configuration " + file + ": " + e.getMessage(), e);
        }
    }

    /** A file's JSON; the message names the file. */
    public static JsonNode tree(Path file) {
        try {
            return new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("configuration " + file + " cannot be read: " + e.getMessage());
        }
    }

    /** A builder from a parsed configuration; model paths resolve against {@code base}. */
    public static BlenderConfig.Builder fromJson(JsonNode root, Path base) {
        if (!root.isObject()) {
            throw new IllegalArgumentException("a configuration is a JSON object, was " + root);
        }
        root.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "' (known: " + String.join(", ", KEYS) + ")");
            }
        });
        BlenderConfig.Builder b = new BlenderConfig.Builder();
        JsonNode models = root.path("models");
        if (!models.isArray() || models.isEmpty()) {
            throw new IllegalArgumentException("'models' must list at least one {path, role}");
        }
        for (JsonNode m : models) {
            model(b, m, root, base);
        }
        if (root.has("strategy")) {
            b.composition(CompositionJson.read(root.get("strategy"), "custom"));
        }
        if (root.has("aggregation")) {
            b.aggregation(CompositionJson.constant(Aggregation.class, root.get("aggregation").asText(), "aggregation"));
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
        if (root.has("temperature") && root.has("candidateSampler")) {
            throw new IllegalArgumentException("set the temperature in candidateSampler or at the top level, not both");
        }
        if (root.has("temperature")) {
            b.candidateSampler(SamplerOptions.defaults().withTemperature((float) root.get("temperature").asDouble()));
        }
        if (root.has("candidateSampler")) {
            b.candidateSampler(sampler(root.get("candidateSampler")));
        }
        if (root.has("deviceMemoryBudgetMiB")) {
            b.deviceMemoryBudgetBytes(root.get("deviceMemoryBudgetMiB").asLong() << 20);
        }
        if (root.has("prefixReuse")) {
            b.prefixReuse(flag(root, "prefixReuse"));
        }
        if (root.has("parallelMembers")) {
            b.parallelMembers(flag(root, "parallelMembers"));
        }
        if (root.has("memoryBudgetMiB")) {
            b.memoryBudgetBytes(root.get("memoryBudgetMiB").asLong() << 20);
        }
        if (root.has("cascadeConfidence")) {
            b.cascadeConfidence(root.get("cascadeConfidence").asDouble());
        }
        if (root.has("probeLoad")) {
            b.probeLoad(flag(root, "probeLoad"));
        }
        if (root.has("probeTimeoutSeconds")) {
            if (!root.get("probeTimeoutSeconds").isNumber()) {
                throw new IllegalArgumentException("'probeTimeoutSeconds' must be a number, was " + root.get("probeTimeoutSeconds"));
            }
            try {
                b.probeTimeout(ModelOptions.probeTimeoutOfSeconds(root.get("probeTimeoutSeconds").asDouble()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("'probeTimeoutSeconds': " + e.getMessage(), e);
            }
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

    private static void model(BlenderConfig.Builder b, JsonNode m, JsonNode root, Path base) {
        String role = m.path("role").asText("generator");
        if (m.has("url")) {
            remote(b, m, role);
            return;
        }
        for (String k : List.of("model", "apiKeyEnv", "api", "timeoutSeconds", "retries", "topLogprobs")) {
            if (m.has(k)) {
                throw new IllegalArgumentException("'" + k + "' is for remote members ({\"url\", \"model\"}): " + m);
            }
        }
        boolean adapter = m.has("adapter") || m.has("base");
        if (adapter && (m.has("path") || !m.has("adapter") || !m.has("base"))) {
            throw new IllegalArgumentException("an adapter member gives 'base' and 'adapter' (and no 'path'): " + m);
        }
        if (!adapter && (m.has("name") || m.has("scale"))) {
            throw new IllegalArgumentException("'name' and 'scale' are for adapter members ({\"base\", \"adapter\"}): " + m);
        }
        if (adapter && !role.equalsIgnoreCase("generator")) {
            throw new IllegalArgumentException("an adapter member is a generator, not a " + role + ": " + m);
        }
        String path = adapter ? m.get("adapter").asText() : m.path("path").asText(null);
        if (path == null) {
            throw new IllegalArgumentException("a model entry lacks 'path': " + m);
        }
        Path p = base.resolve(path);
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
        JsonNode template = m.get("template");
        switch (role.toLowerCase(Locale.ROOT)) {
            case "generator" -> {
                if (adapter) {
                    if (m.has("scale") && !m.get("scale").isNumber()) {
                        throw new IllegalArgumentException("the scale of " + path + " must be a number, was " + m.get("scale"));
                    }
                    b.generator(base.resolve(m.get("base").asText()), p, (float) m.path("scale").asDouble(1.0),
                            m.has("name") ? m.get("name").asText() : BlenderConfig.shortName(p));
                } else {
                    b.generator(p);
                }
            }
            case "judge" -> {
                if (template == null) {
                    b.judge(p); // asked as suits the model: in its chat format where it has one
                } else {
                    b.judge(p, judgeTemplate(template));
                }
            }
            case "reranker" -> b.reranker(p);
            case "fuser" -> {
                if (template == null) {
                    b.fuser(p); // asked as suits the model: in its chat format where it has one
                } else {
                    b.fuser(p, fuserTemplate(template));
                }
            }
            default -> throw new IllegalArgumentException("unknown role '" + role + "' for " + path
                    + " (roles: generator, judge, reranker, fuser)");
        }
    }

    /**
     * {@code {"url": "http://host:port/v1", "model": "name", "apiKeyEnv": "VAR", "name": "member", "api":
     * "chat", "timeoutSeconds": 60, "retries": 2}}: only url is required.
     */
    private static void remote(BlenderConfig.Builder b, JsonNode m, String role) {
        String url = m.get("url").asText();
        m.fieldNames().forEachRemaining(k -> {
            if (!REMOTE_KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "' in the remote entry of " + url + " (known: "
                        + String.join(", ", REMOTE_KEYS) + ")");
            }
        });
        String r = role.toLowerCase(Locale.ROOT);
        if (!List.of("generator", "judge", "fuser").contains(r)) {
            throw new IllegalArgumentException("a remote member is a generator, judge or fuser, not a " + role
                    + " (a reranker pools a score no OpenAI-compatible endpoint returns): " + m);
        }
        if (r.equals("generator") && m.has("template")) {
            throw new IllegalArgumentException("'template' is for a judge or fuser, not a generator: " + m);
        }
        try {
            for (String k : List.of("url", "model", "apiKeyEnv", "name", "api")) {
                if (m.has(k) && !m.get(k).isTextual()) {
                    throw new IllegalArgumentException("'" + k + "' must be a string, was " + m.get(k));
                }
            }
            for (String k : List.of("timeoutSeconds", "retries", "topLogprobs")) {
                if (m.has(k) && !m.get(k).isNumber()) {
                    throw new IllegalArgumentException("'" + k + "' must be a number, was " + m.get(k));
                }
            }
            RemoteEndpoint e = RemoteEndpoint.of(url, m.has("model") ? m.get("model").asText() : null);
            if (m.has("apiKeyEnv")) {
                e = e.withApiKeyEnv(m.get("apiKeyEnv").asText());
            }
            if (m.has("api")) {
                e = e.withApi(RemoteEndpoint.Api.parse(m.get("api").asText()));
            }
            if (m.has("timeoutSeconds")) {
                e = e.withTimeout(Duration.ofMillis(Math.round(m.get("timeoutSeconds").asDouble() * 1000)));
            }
            if (m.has("retries")) {
                e = e.withRetries(m.get("retries").asInt());
            }
            if (m.has("topLogprobs")) {
                e = e.withTopLogprobs(m.get("topLogprobs").asInt());
            }
            String name = m.has("name") ? m.get("name").asText() : e.defaultName();
            switch (r) {
                case "judge" -> b.judge(e, judgeTemplate(m.get("template")), name);
                case "fuser" -> b.fuser(e, fuserTemplate(m.get("template")), name);
                default -> b.generator(e, name);
            }
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("remote entry " + m + ": " + ex.getMessage(), ex);
        }
    }

    private static JudgeTemplate judgeTemplate(JsonNode t) {
        if (t == null) {
            return JudgeTemplate.abAnswer();
        }
        if (t.isTextual()) {
            return JudgeTemplate.named(t.asText());
        }
        if (t.isObject()) {
            JsonNode verdicts = t.path("verdicts");
            if (!verdicts.isArray() || verdicts.size() != 2) {
                throw new IllegalArgumentException("judge template: verdicts must list two continuations, e.g."
                        + " [\" A\", \" B\"]");
            }
            return new JudgeTemplate(t.path("prompt").asText(null), t.path("rationaleStop").asText(null),
                    verdicts.get(0).asText(), verdicts.get(1).asText(), t.path("maxRationaleTokens").asInt(0),
                    t.path("useChatTemplate").asBoolean(false));
        }
        throw new IllegalArgumentException("unknown judge template " + t + " (instruct, ab, arith, or an object with"
                + " prompt, rationaleStop, verdicts, maxRationaleTokens, useChatTemplate)");
    }

    private static FuserTemplate fuserTemplate(JsonNode t) {
        if (t == null) {
            return FuserTemplate.llmBlender();
        }
        if (t.isTextual()) {
            return FuserTemplate.named(t.asText());
        }
        if (t.isObject()) {
            return new FuserTemplate(t.path("prompt").asText(null), t.path("candidateFormat").asText(null),
                    t.path("separator").asText(" "), t.path("candidates").asInt(3), t.path("maxCandidateTokens").asInt(64),
                    false);
        }
        throw new IllegalArgumentException("unknown fuser template " + t + " (arith, llm-blender, aggregator, or an"
                + " object with prompt, candidateFormat, separator, candidates, maxCandidateTokens)");
    }

    private static SamplerOptions sampler(JsonNode s) {
        SamplerOptions o = SamplerOptions.defaults();
        List<String> keys = List.of("temperature", "topK", "topP", "minP");
        s.fieldNames().forEachRemaining(k -> {
            if (!keys.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "' in candidateSampler (known: "
                        + String.join(", ", keys) + ")");
            }
        });
        if (s.has("temperature")) {
            o = o.withTemperature((float) s.get("temperature").asDouble());
        }
        if (s.has("topK")) {
            o = o.withTopK(s.get("topK").asInt());
        }
        if (s.has("topP")) {
            o = o.withTopP((float) s.get("topP").asDouble());
        }
        if (s.has("minP")) {
            o = o.withMinP((float) s.get("minP").asDouble());
        }
        return o;
    }

    /** A true/false field; anything else (a string "yes", a number) is an error naming it, never a silent false. */
    private static boolean flag(JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("'" + key + "' must be true or false, was " + v);
        }
        return v.booleanValue();
    }
}
