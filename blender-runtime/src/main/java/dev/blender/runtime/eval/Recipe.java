package dev.blender.runtime.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import dev.blender.runtime.pipeline.JsonFields;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What {@code blender eval} runs: a blender configuration in the {@code --config} schema
 * ({@link BlenderConfigJson}) with an {@code eval} section saying how answers are checked and which
 * compositions to compare. The problem's question is the user's prompt; {@code generatorPrompt} puts it
 * to the generators, and the judge and fuser read it as the instruction:
 * <pre>{@code
 * {"models": [{"path": "a.gguf", "role": "generator"}, ...], "generatorPrompt": "Q: {prompt} A:",
 *  "maxTokens": 8, "contextSize": 64,
 *  "eval": {"name": "mine", "checker": "exact", "compositions": ["member:a", "full-blend", {"name": ..., "stages": [...]}],
 *           "groups": {"+": "\\+", "-": "-"}}}
 * }</pre>
 * Without {@code compositions}, every built-in composition the configuration can run is compared, with a
 * {@code member:} row for each generator first. {@code groups} (optional) splits each row's accuracy by the
 * problems whose question a regular expression is found in ({@link Evaluation#groups}).
 *
 * Immutable; {@link #config()} gives a fresh builder each time, to change before building.
 */
public final class Recipe {
    private static final Set<String> EVAL_KEYS = Set.of("name", "checker", "compositions", "groups");

    private final String name;
    private final JsonNode configJson;
    private final Path base;
    private final String checker;
    private final List<Composition> compositions;
    private final Map<String, Pattern> groups;

    private Recipe(String name, JsonNode configJson, Path base, String checker, List<Composition> compositions,
                   Map<String, Pattern> groups) {
        this.name = Objects.requireNonNull(name, "name");
        this.configJson = configJson.deepCopy();
        this.base = base;
        this.checker = checker == null ? "exact" : checker;
        AnswerChecker.named(this.checker);
        this.compositions = compositions == null ? null : List.copyOf(compositions);
        this.groups = Collections.unmodifiableMap(new LinkedHashMap<>(groups));
        BlenderConfigJson.fromJson(configJson.toString(), base); // the configuration's own errors, at load time
    }

    /** Shown in the output. */
    public String name() {
        return name;
    }

    /** The blender every row runs on: a new builder holding the recipe's configuration. */
    public BlenderConfig.Builder config() {
        return BlenderConfigJson.fromJson(configJson.toString(), base);
    }

    /** exact, gsm8k, nq-open or regex:PATTERN ({@link AnswerChecker#named}). */
    public String checker() {
        return checker;
    }

    /**
     * The built-in recipes: {@code arith} (answerers a and b, candidates at temperature 0.8: the reference
     * blend of shared/models/arith) and {@code arith3} (a, b and the bagged c at temperature 0.2: the
     * blend chosen on the first half of dev to beat the reference).
     */
    public static final List<String> BUILT_IN = List.of("arith", "arith3");

    /** The shared folder (models/NAME, data/NAME) a built-in recipe reads. */
    public static String builtInFamily(String name) {
        checkBuiltIn(name);
        return "arith";
    }

    private static void checkBuiltIn(String name) {
        if (!BUILT_IN.contains(name)) {
            throw new IllegalArgumentException("no built-in recipe '" + name + "' (built in: " + String.join(", ", BUILT_IN)
                    + "; or pass a .json file)");
        }
    }

    /** A built-in recipe ({@link #BUILT_IN}), its model paths relative to {@code modelDir}. */
    public static Recipe builtIn(String name, Path modelDir) {
        checkBuiltIn(name);
        try (InputStream in = Recipe.class.getResourceAsStream(name + ".recipe.json")) {
            return fromJson(new ObjectMapper().readTree(in), modelDir, name);
        } catch (IOException e) {
            throw new IllegalStateException("the built-in recipe " + name + " cannot be read", e);
        }
    }

    /**
     * A recipe file; model paths are relative to {@code modelDir}, or to the file's folder when null.
     * Errors name the file and what is wrong.
     */
    public static Recipe load(Path file, Path modelDir) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("recipe file " + file + " does not exist");
        }
        String fileName = file.getFileName().toString().replaceFirst("\\.json$", "");
        try {
            return fromJson(BlenderConfigJson.tree(file), modelDir != null ? modelDir : file.toAbsolutePath().getParent(),
                    fileName);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("recipe " + file + ": " + e.getMessage(), e);
        }
    }

    static Recipe fromJson(JsonNode root, Path base, String defaultName) {
        JsonNode eval = root.path("eval");
        JsonFields.keys(eval, "eval", EVAL_KEYS);
        List<Composition> compositions = null;
        if (eval.has("compositions")) {
            if (!eval.get("compositions").isArray()) {
                throw new IllegalArgumentException("eval.compositions must be an array, was " + eval.get("compositions"));
            }
            compositions = new ArrayList<>();
            int i = 0;
            for (JsonNode c : eval.get("compositions")) {
                compositions.add(CompositionJson.read(c.toString(), "composition-" + ++i));
            }
        }
        Map<String, Pattern> groups = new LinkedHashMap<>();
        if (eval.has("groups")) {
            if (!eval.get("groups").isObject()) {
                throw new IllegalArgumentException("eval.groups must be an object of name: regular expression, e.g."
                        + " {\"+\": \"\\\\+\"}");
            }
            eval.get("groups").fields().forEachRemaining(e -> {
                if (!e.getValue().isTextual()) {
                    throw new IllegalArgumentException("eval.groups." + e.getKey() + " must be a regular expression"
                            + " (a string), was " + e.getValue());
                }
                try {
                    groups.put(e.getKey(), Pattern.compile(e.getValue().asText()));
                } catch (PatternSyntaxException x) {
                    throw new IllegalArgumentException("eval.groups." + e.getKey() + " is not a regular expression: "
                            + x.getDescription() + " in " + e.getValue().asText(), x);
                }
            });
        }
        String name = JsonFields.text(eval, "name", "eval");
        return new Recipe(name != null ? name : defaultName, root, base, JsonFields.text(eval, "checker", "eval"),
                compositions, groups);
    }

    /** The groups each row's accuracy is also split by, in order (empty: none). */
    public Map<String, Pattern> groups() {
        return groups;
    }

    public AnswerChecker answerChecker() {
        return AnswerChecker.named(checker);
    }

    /**
     * The rows for a configuration: the recipe's own, else a {@code member:} row per generator and every
     * built-in composition it can run (the strategies whose stages only reorder what eval rows already
     * cover are left out: self-blend, full-blend and cascade repeat fuse and rank rows at other settings).
     */
    public List<Composition> compositionsFor(BlenderConfig built) {
        if (compositions != null) {
            return compositions;
        }
        List<Composition> out = new ArrayList<>();
        built.generatorNames().forEach(g -> out.add(Composition.named("member:" + g)));
        for (String n : Composition.names()) {
            Composition c = Composition.named(n);
            if (Set.of("single", "self-blend", "full-blend", "token-combine", "cascade").contains(n) || !canRun(built, c)) {
                continue;
            }
            out.add(c);
        }
        return out;
    }

    /** Whether a configuration has what a composition needs: its stages' support, a ranker, a fuser. */
    public static boolean canRun(BlenderConfig built, Composition c) {
        return built.supports(c) && !(c.needsRanker() && built.judge() == null && built.reranker() == null)
                && !(c.needsFuser() && built.fuser() == null);
    }

    /**
     * The configuration as JSON without the eval section, its local model files resolved against the
     * models folder, so that it loads from anywhere ({@code blender run --config}).
     */
    public ObjectNode configJson() {
        ObjectNode out = ((ObjectNode) configJson).deepCopy();
        out.remove("eval");
        for (JsonNode m : out.path("models")) {
            if (m instanceof ObjectNode model && !model.has("url")) {
                for (String key : List.of("path", "base", "adapter")) {
                    if (model.path(key).isTextual()) {
                        model.put(key, base.resolve(model.get(key).asText()).toAbsolutePath().normalize().toString());
                    }
                }
            }
        }
        return out;
    }

    /**
     * A built-in recipe by name ({@link #BUILT_IN}, its models in {@code modelDir} or else the shared
     * folder's) or a recipe file ({@code .json}, see {@link #load}).
     */
    public static Recipe open(String nameOrFile, Path modelDir) {
        if (nameOrFile.endsWith(".json")) {
            return load(Path.of(nameOrFile), modelDir);
        }
        String family = builtInFamily(nameOrFile);
        Path base = modelDir != null ? modelDir : SharedData.resolve("models/" + family).orElseThrow(() ->
                new IllegalArgumentException("shared/models/" + family + " not found; pass --models DIR"));
        return builtIn(nameOrFile, base);
    }

    /**
     * The problems a recipe is measured on: {@code given}, else a built-in recipe's dev set in the shared
     * folder.
     *
     * @throws IllegalArgumentException a recipe file and no problems given
     */
    public static Path problemsFile(String nameOrFile, Path given) {
        if (given != null) {
            return given;
        }
        boolean builtIn = !nameOrFile.endsWith(".json");
        return SharedData.resolve("data/" + builtInFamily(builtIn ? nameOrFile : "arith") + "/dev.jsonl")
                .filter(p -> builtIn).orElseThrow(() -> new IllegalArgumentException("pass --problems FILE.jsonl"));
    }
}
