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
            return fromTree(tree(file), file.toAbsolutePath().getParent());
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

    /**
     * A builder from a configuration's JSON text (what a file holds); model paths resolve against {@code base}.
     *
     * @throws IllegalArgumentException the text is not JSON, or has an unknown key or role, or a bad value
     */
    public static BlenderConfig.Builder fromJson(String json, Path base) {
        JsonNode root;
        try {
            root = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("the configuration is not valid JSON: " + e.getMessage());
        }
        return fromTree(root, base);
    }

    /** A builder from a parsed configuration; model paths resolve against {@code base}. */
    static BlenderConfig.Builder fromTree(JsonNode root, Path base) {
        if (!root.isObject()) {
            throw new IllegalArgumentException("a configuration is a JSON object, was " + root);
        }
        JsonFields.keys(root, "the configuration", KEYS);
        BlenderConfig.Builder b = new BlenderConfig.Builder();
        JsonNode models = root.path("models");
        if (!models.isArray() || models.isEmpty()) {
            throw new IllegalArgumentException("'models' must list at least one {path, role}");
        }
        for (int i = 0; i < models.size(); i++) {
            model(b, models.get(i), JsonFields.at("models", i), root, base);
        }
        if (root.has("strategy")) {
            try {
                b.composition(CompositionJson.fromTree(root.get("strategy"), "custom"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("strategy: " + e.getMessage(), e);
            }
        }
        String aggregation = JsonFields.text(root, "aggregation", "");
        if (aggregation != null) {
            b.aggregation(dev.blender.runtime.Names.constant(Aggregation.class, aggregation, "aggregation"));
        }
        Integer v;
        if ((v = JsonFields.whole(root, "candidatesPerModel", "")) != null) {
            b.candidatesPerModel(v);
        }
        if ((v = JsonFields.whole(root, "topK", "")) != null) {
            b.topK(v);
        }
        if ((v = JsonFields.whole(root, "maxTokens", "")) != null) {
            b.maxTokens(v);
        }
        if ((v = JsonFields.whole(root, "fusedMaxTokens", "")) != null) {
            b.fusedMaxTokens(v);
        }
        if ((v = JsonFields.whole(root, "contextSize", "")) != null) {
            b.contextSize(v);
        }
        Integer threads = JsonFields.whole(root, "threads", "");
        Integer gpuLayers = JsonFields.whole(root, "gpuLayers", "");
        if (threads != null || gpuLayers != null) {
            b.modelOptions(ModelOptions.defaults().withThreads(threads != null ? threads : 0)
                    .withGpuLayers(gpuLayers != null ? gpuLayers : 0));
        }
        if (root.has("temperature") && root.has("candidateSampler")) {
            throw new IllegalArgumentException("set the temperature in candidateSampler or at the top level, not both");
        }
        Double temperature = JsonFields.number(root, "temperature", "");
        if (temperature != null) {
            b.candidateSampler(SamplerOptions.defaults().withTemperature(temperature.floatValue()));
        }
        JsonNode sampler = JsonFields.object(root, "candidateSampler", "");
        if (sampler != null) {
            b.candidateSampler(sampler(sampler, "candidateSampler"));
        }
        Long mib;
        if ((mib = JsonFields.wholeLong(root, "deviceMemoryBudgetMiB", "")) != null) {
            b.deviceMemoryBudgetBytes(mib << 20);
        }
        if ((mib = JsonFields.wholeLong(root, "memoryBudgetMiB", "")) != null) {
            b.memoryBudgetBytes(mib << 20);
        }
        Boolean flag;
        if ((flag = JsonFields.flag(root, "prefixReuse", "")) != null) {
            b.prefixReuse(flag);
        }
        if ((flag = JsonFields.flag(root, "parallelMembers", "")) != null) {
            b.parallelMembers(flag);
        }
        if ((flag = JsonFields.flag(root, "probeLoad", "")) != null) {
            b.probeLoad(flag);
        }
        Double cascade = JsonFields.number(root, "cascadeConfidence", "");
        if (cascade != null) {
            b.cascadeConfidence(cascade);
        }
        Double probeTimeout = JsonFields.number(root, "probeTimeoutSeconds", "");
        if (probeTimeout != null) {
            try {
                b.probeTimeout(ModelOptions.probeTimeoutOfSeconds(probeTimeout));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("probeTimeoutSeconds: " + e.getMessage(), e);
            }
        }
        String prompt = JsonFields.text(root, "generatorPrompt", "");
        if (prompt != null) {
            b.generatorPrompt(prompt);
        }
        List<String> stop = JsonFields.strings(root, "stop", "");
        if (stop != null) {
            b.stop(stop);
        }
        if (root.has("eval") && !root.get("eval").isObject()) {
            throw new IllegalArgumentException("eval must be an object, was " + root.get("eval"));
        }
        return b;
    }

    private static void model(BlenderConfig.Builder b, JsonNode m, String at, JsonNode root, Path base) {
        if (!m.isObject()) {
            throw new IllegalArgumentException(at + " must be an object such as {\"path\": \"a.gguf\", \"role\":"
                    + " \"generator\"}, was " + m);
        }
        String given = JsonFields.text(m, "role", at);
        String role = given != null ? given : "generator";
        if (m.has("url")) {
            remote(b, m, at, role);
            return;
        }
        for (String k : List.of("model", "apiKeyEnv", "api", "timeoutSeconds", "retries", "topLogprobs")) {
            if (m.has(k)) {
                throw new IllegalArgumentException(JsonFields.at(at, k) + " is for remote members ({\"url\", \"model\"}): "
                        + m);
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
        String path = JsonFields.text(m, adapter ? "adapter" : "path", at);
        if (path == null) {
            throw new IllegalArgumentException("a model entry lacks 'path': " + m);
        }
        Path p = base.resolve(path);
        JsonFields.keys(m, at + " (" + path + ")", MODEL_KEYS);
        Integer threads = JsonFields.whole(m, "threads", at);
        Integer gpuLayers = JsonFields.whole(m, "gpuLayers", at);
        if (threads != null || gpuLayers != null) {
            // what the entry leaves out it inherits from the top level (a model that sets only its
            // threads still gets the file's gpuLayers); the top level's types were checked by the caller
            Integer topThreads = JsonFields.whole(root, "threads", "");
            Integer topGpuLayers = JsonFields.whole(root, "gpuLayers", "");
            b.modelOptions(p, ModelOptions.defaults()
                    .withThreads(threads != null ? threads : topThreads != null ? topThreads : 0)
                    .withGpuLayers(gpuLayers != null ? gpuLayers : topGpuLayers != null ? topGpuLayers : 0));
        }
        Integer contextSize = JsonFields.whole(m, "contextSize", at);
        if (contextSize != null) {
            b.contextSize(p, contextSize);
        }
        JsonNode template = m.get("template");
        String templateAt = JsonFields.at(at, "template");
        switch (role.toLowerCase(Locale.ROOT)) {
            case "generator" -> {
                if (template != null) {
                    throw new IllegalArgumentException(templateAt + " is for a judge or fuser, not a generator: " + m);
                }
                if (adapter) {
                    Double scale = JsonFields.number(m, "scale", at);
                    String name = JsonFields.text(m, "name", at);
                    b.generator(base.resolve(JsonFields.text(m, "base", at)), p, scale != null ? scale.floatValue() : 1f,
                            name != null ? name : BlenderConfig.shortName(p));
                } else {
                    b.generator(p);
                }
            }
            case "judge" -> {
                if (template == null) {
                    b.judge(p); // asked as suits the model: in its chat format where it has one
                } else {
                    b.judge(p, judgeTemplate(template, templateAt));
                }
            }
            case "reranker" -> {
                if (template != null) {
                    throw new IllegalArgumentException(templateAt + " is for a judge or fuser, not a reranker: " + m);
                }
                b.reranker(p);
            }
            case "fuser" -> {
                if (template == null) {
                    b.fuser(p); // asked as suits the model: in its chat format where it has one
                } else {
                    b.fuser(p, fuserTemplate(template, templateAt));
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
    private static void remote(BlenderConfig.Builder b, JsonNode m, String at, String role) {
        String url = JsonFields.text(m, "url", at);
        JsonFields.keys(m, at + ", the remote entry of " + url, REMOTE_KEYS);
        String r = role.toLowerCase(Locale.ROOT);
        if (!List.of("generator", "judge", "fuser").contains(r)) {
            throw new IllegalArgumentException("a remote member is a generator, judge or fuser, not a " + role
                    + " (a reranker pools a score no OpenAI-compatible endpoint returns): " + m);
        }
        if (r.equals("generator") && m.has("template")) {
            throw new IllegalArgumentException("'template' is for a judge or fuser, not a generator: " + m);
        }
        try {
            String model = JsonFields.text(m, "model", at);
            String apiKeyEnv = JsonFields.text(m, "apiKeyEnv", at);
            String name = JsonFields.text(m, "name", at);
            String api = JsonFields.text(m, "api", at);
            Double timeoutSeconds = JsonFields.number(m, "timeoutSeconds", at);
            Integer retries = JsonFields.whole(m, "retries", at);
            Integer topLogprobs = JsonFields.whole(m, "topLogprobs", at);
            RemoteEndpoint e = RemoteEndpoint.of(url, model);
            if (apiKeyEnv != null) {
                e = e.withApiKeyEnv(apiKeyEnv);
            }
            if (api != null) {
                e = e.withApi(RemoteEndpoint.Api.parse(api));
            }
            if (timeoutSeconds != null) {
                e = e.withTimeout(Duration.ofMillis(Math.round(timeoutSeconds * 1000)));
            }
            if (retries != null) {
                e = e.withRetries(retries);
            }
            if (topLogprobs != null) {
                e = e.withTopLogprobs(topLogprobs);
            }
            String member = name != null ? name : e.defaultName();
            String templateAt = JsonFields.at(at, "template");
            switch (r) {
                case "judge" -> b.judge(e, judgeTemplate(m.get("template"), templateAt), member);
                case "fuser" -> b.fuser(e, fuserTemplate(m.get("template"), templateAt), member);
                default -> b.generator(e, member);
            }
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("remote entry " + m + ": " + ex.getMessage(), ex);
        }
    }

    private static final List<String> JUDGE_TEMPLATE_KEYS = List.of("prompt", "rationaleStop", "verdicts",
            "maxRationaleTokens", "useChatTemplate");

    private static final List<String> FUSER_TEMPLATE_KEYS = List.of("prompt", "candidateFormat", "separator",
            "candidates", "maxCandidateTokens");

    private static JudgeTemplate judgeTemplate(JsonNode t, String at) {
        if (t == null) {
            return JudgeTemplate.abAnswer();
        }
        if (t.isTextual()) {
            return JudgeTemplate.named(t.asText());
        }
        if (t.isObject()) {
            JsonFields.keys(t, at, JUDGE_TEMPLATE_KEYS);
            List<String> verdicts = JsonFields.strings(t, "verdicts", at);
            if (verdicts == null || verdicts.size() != 2) {
                throw new IllegalArgumentException(JsonFields.at(at, "verdicts") + " must list two continuations, e.g."
                        + " [\" A\", \" B\"]");
            }
            Integer maxRationaleTokens = JsonFields.whole(t, "maxRationaleTokens", at);
            return new JudgeTemplate(JsonFields.text(t, "prompt", at), JsonFields.text(t, "rationaleStop", at),
                    verdicts.get(0), verdicts.get(1), maxRationaleTokens != null ? maxRationaleTokens : 0,
                    Boolean.TRUE.equals(JsonFields.flag(t, "useChatTemplate", at)));
        }
        throw new IllegalArgumentException(at + ": unknown judge template " + t + " (instruct, ab, arith, or an object"
                + " with prompt, rationaleStop, verdicts, maxRationaleTokens, useChatTemplate)");
    }

    private static FuserTemplate fuserTemplate(JsonNode t, String at) {
        if (t == null) {
            return FuserTemplate.llmBlender();
        }
        if (t.isTextual()) {
            return FuserTemplate.named(t.asText());
        }
        if (t.isObject()) {
            JsonFields.keys(t, at, FUSER_TEMPLATE_KEYS);
            String separator = JsonFields.text(t, "separator", at);
            Integer candidates = JsonFields.whole(t, "candidates", at);
            Integer maxCandidateTokens = JsonFields.whole(t, "maxCandidateTokens", at);
            return new FuserTemplate(JsonFields.text(t, "prompt", at), JsonFields.text(t, "candidateFormat", at),
                    separator != null ? separator : " ", candidates != null ? candidates : 3,
                    maxCandidateTokens != null ? maxCandidateTokens : 64, false);
        }
        throw new IllegalArgumentException(at + ": unknown fuser template " + t + " (arith, llm-blender, aggregator, or"
                + " an object with prompt, candidateFormat, separator, candidates, maxCandidateTokens)");
    }

    private static SamplerOptions sampler(JsonNode s, String at) {
        JsonFields.keys(s, at, List.of("temperature", "topK", "topP", "minP"));
        SamplerOptions o = SamplerOptions.defaults();
        Double d;
        if ((d = JsonFields.number(s, "temperature", at)) != null) {
            o = o.withTemperature(d.floatValue());
        }
        Integer topK = JsonFields.whole(s, "topK", at);
        if (topK != null) {
            o = o.withTopK(topK);
        }
        if ((d = JsonFields.number(s, "topP", at)) != null) {
            o = o.withTopP(d.floatValue());
        }
        if ((d = JsonFields.number(s, "minP", at)) != null) {
            o = o.withMinP(d.floatValue());
        }
        return o;
    }
}
