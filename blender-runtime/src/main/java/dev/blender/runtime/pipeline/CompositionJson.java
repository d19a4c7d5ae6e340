package dev.blender.runtime.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.Names;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compositions in JSON, for configuration files, eval recipes and {@code --strategy}. A composition
 * is a built-in name ({@code "full-blend"}), an array of stages, or {@code {"name": ..., "stages": [...]}}.
 * A stage is its name alone ({@code "vote"}) or an object with {@code "stage"} and its settings:
 * <pre>{@code
 * {"name": "verified", "stages": [
 *   {"stage": "sample", "models": ["a", "b"], "perModel": 4, "sampler": "candidates", "temperature": 0.8},
 *   {"stage": "rank", "aggregation": "max-logits", "topK": 3, "by": "judge"},
 *   {"stage": "fuse", "topK": 3, "inputs": "top"},
 *   "verify",
 *   {"stage": "gate", "rule": "agreement", "threshold": 0.75},
 *   {"stage": "refine", "rounds": 1},
 *   "solve",
 *   {"stage": "pick", "last": 2},
 *   {"stage": "mix", "method": "log-linear", "pack": 1.0, "solo": 0.5, "adapt": "learned", "rate": 0.1}]}
 * }</pre>
 * A route stage comes first and names its rule:
 * <pre>{@code
 * {"stage": "route", "rule": "rule", "cases": [{"when": "\\+", "models": ["add"]}, {"models": ["sub"]}]}
 * {"stage": "route", "rule": "similarity", "examples": {"add": ["12+34="], "sub": ["56-12="]}, "pick": 1}
 * {"stage": "route", "rule": "confidence", "tokens": 2, "pick": 1}
 * }</pre>
 * Keys and values as in {@link Stage}; enum values in any case, with {@code -} or {@code _}.
 */
public final class CompositionJson {
    private CompositionJson() {}

    /**
     * What a user typed after {@code --strategy}: a built-in name, inline JSON, or a {@code .json} file.
     *
     * @throws IllegalArgumentException what is wrong, naming the stage and key
     */
    public static Composition parse(String text) {
        String t = text.strip();
        if (t.startsWith("{") || t.startsWith("[")) {
            return fromTree(tree(t, "the composition"), "custom");
        }
        if (t.endsWith(".json")) {
            Path file = Path.of(t);
            try {
                return fromTree(tree(Files.readString(file), file.toString()), fileName(file));
            } catch (IOException e) {
                throw new IllegalArgumentException("composition file " + file + " cannot be read: " + e.getMessage());
            }
        }
        return Composition.named(t);
    }

    /**
     * Several compositions as {@link #parse} reads each, comma-separated in each value ({@code --strategies
     * single,full-blend}); commas inside inline JSON do not separate. The first of several equal ones is kept.
     *
     * @throws IllegalArgumentException what is wrong with which composition
     */
    public static List<Composition> parseList(List<String> values) {
        List<Composition> out = new ArrayList<>();
        for (String value : values) {
            for (String text : splitTopLevel(value)) {
                if (text.isBlank()) {
                    continue;
                }
                Composition c = parse(text);
                if (!out.contains(c)) {
                    out.add(c);
                }
            }
        }
        return out;
    }

    /** Splits at commas outside JSON strings, arrays and objects. */
    static List<String> splitTopLevel(String s) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        boolean quoted = false;
        int from = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quoted) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    quoted = false;
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                depth--;
            } else if (c == ',' && depth == 0) {
                parts.add(s.substring(from, i));
                from = i + 1;
            }
        }
        parts.add(s.substring(from));
        return parts;
    }

    private static String fileName(Path file) {
        String n = file.getFileName().toString();
        return n.substring(0, n.length() - ".json".length());
    }

    private static JsonNode tree(String json, String what) {
        try {
            return new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(what + " is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /**
     * A composition from JSON text: a name ({@code "full-blend"}), an array of stages, or an object with a name
     * and stages; {@code defaultName} names an unnamed array.
     *
     * @throws IllegalArgumentException what is wrong, naming the stage and key
     */
    public static Composition read(String json, String defaultName) {
        return fromTree(tree(json, "the composition"), defaultName);
    }

    /** A composition from a JSON value; {@code defaultName} names an unnamed array. */
    static Composition fromTree(JsonNode node, String defaultName) {
        if (node.isTextual()) {
            return Composition.named(node.asText());
        }
        String name = defaultName;
        JsonNode stages = node;
        if (node.isObject()) {
            keys(node, "the composition", Set.of("name", "stages"));
            String given = JsonFields.text(node, "name", "the composition");
            name = given != null ? given : defaultName;
            stages = node.path("stages");
        }
        if (!stages.isArray()) {
            throw new IllegalArgumentException("a composition is a name, an array of stages, or {\"name\", \"stages\"}:"
                    + " got " + node);
        }
        List<Stage> out = new ArrayList<>();
        for (JsonNode s : stages) {
            out.add(stage(s));
        }
        return new Composition(name, out);
    }

    private static Stage stage(JsonNode s) {
        if (s.isTextual()) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            o.put("stage", s.asText());
            s = o;
        }
        if (!s.isObject() || !s.path("stage").isTextual()) {
            throw new IllegalArgumentException("a stage is a name or an object with \"stage\": got " + s);
        }
        String id = Names.id(s.get("stage").asText());
        return switch (Names.key(id)) {
            case "sample" -> {
                keys(s, id, Set.of("models", "perModel", "matchPool", "sampler", "temperature"));
                List<String> models = JsonFields.strings(s, "models", id);
                yield new Stage.Sample(models != null ? models : List.of(), integer(s, "perModel"),
                        Boolean.TRUE.equals(JsonFields.flag(s, "matchPool", id)),
                        constant(Stage.Sampler.class, s, "sampler", Stage.Sampler.CANDIDATES), decimal(s, "temperature"));
            }
            case "vote" -> {
                keys(s, id, Set.of());
                yield new Stage.Vote();
            }
            case "rank" -> {
                keys(s, id, Set.of("aggregation", "topK", "by", "among"));
                yield new Stage.Rank(constant(Aggregation.class, s, "aggregation", null), integer(s, "topK"),
                        constant(Stage.Ranker.class, s, "by", Stage.Ranker.JUDGE), integer(s, "among"));
            }
            case "mix" -> {
                keys(s, id, Set.of("method", "pack", "solo", "adapt", "rate"));
                yield new Stage.Mix(constant(CombineMethod.class, s, "method", null), decimal(s, "pack"),
                        decimal(s, "solo"), constant(Adaptation.class, s, "adapt", null), decimal(s, "rate"));
            }
            case "fuse" -> {
                keys(s, id, Set.of("topK", "inputs", "orders"));
                Integer orders = integer(s, "orders");
                yield new Stage.Fuse(integer(s, "topK"), constant(Stage.FuseInputs.class, s, "inputs", Stage.FuseInputs.TOP),
                        orders != null ? orders : 1);
            }
            case "verify" -> {
                keys(s, id, Set.of());
                yield new Stage.Verify();
            }
            case "refine" -> {
                keys(s, id, Set.of("rounds", "topK"));
                Integer rounds = integer(s, "rounds");
                yield new Stage.Refine(rounds != null ? rounds : 1, integer(s, "topK"));
            }
            case "gate" -> {
                keys(s, id, Set.of("rule", "threshold"));
                yield new Stage.Gate(constant(Stage.GateRule.class, s, "rule", Stage.GateRule.TOKEN_PROBABILITY),
                        JsonFields.number(s, "threshold", id));
            }
            case "solve" -> {
                keys(s, id, Set.of());
                yield new Stage.Solve();
            }
            case "pick" -> {
                keys(s, id, Set.of("last"));
                yield new Stage.Pick(integer(s, "last"));
            }
            case "route" -> route(s);
            default -> throw new IllegalArgumentException("unknown stage '" + s.get("stage").asText()
                    + "' (stages: route, sample, vote, rank, mix, fuse, verify, refine, gate, solve, pick)");
        };
    }

    private static Stage.Route route(JsonNode s) {
        if (!s.path("rule").isTextual()) {
            throw new IllegalArgumentException("route needs a rule: rule, similarity or confidence");
        }
        return switch (Names.key(s.get("rule").asText())) {
            case "rule" -> {
                keys(s, "route (rule)", Set.of("rule", "cases"));
                if (!s.path("cases").isArray()) {
                    throw new IllegalArgumentException("route (rule) needs cases: [{\"when\": regex, \"models\": [...]}, ...]");
                }
                List<Stage.RouteCase> cases = new ArrayList<>();
                for (JsonNode c : s.get("cases")) {
                    if (!c.isObject()) {
                        throw new IllegalArgumentException("a route case is an object with when and models: got " + c);
                    }
                    keys(c, "a route case", Set.of("when", "models"));
                    if (c.has("when") && !c.get("when").isTextual()) {
                        throw new IllegalArgumentException("route: when must be a string (a regular expression), was "
                                + c.get("when"));
                    }
                    cases.add(new Stage.RouteCase(c.has("when") ? c.get("when").asText() : null,
                            strings(c.path("models"), "route: models")));
                }
                yield new Stage.Route(new Stage.RouteRule.Cases(cases));
            }
            case "similarity" -> {
                keys(s, "route (similarity)", Set.of("rule", "examples", "pick"));
                if (!s.path("examples").isObject()) {
                    throw new IllegalArgumentException("route (similarity) needs examples: {\"generator\": [prompts]}");
                }
                Map<String, List<String>> examples = new LinkedHashMap<>();
                s.get("examples").fields().forEachRemaining(e ->
                        examples.put(e.getKey(), strings(e.getValue(), "route: examples of " + e.getKey())));
                yield new Stage.Route(new Stage.RouteRule.Similarity(examples), integer(s, "pick"));
            }
            case "confidence" -> {
                keys(s, "route (confidence)", Set.of("rule", "tokens", "pick"));
                yield new Stage.Route(new Stage.RouteRule.Confidence(integer(s, "tokens")), integer(s, "pick"));
            }
            default -> throw new IllegalArgumentException("route: rule '" + s.get("rule").asText()
                    + "' is not one of [rule, similarity, confidence]");
        };
    }

    private static void keys(JsonNode s, String stage, Set<String> allowed) {
        Set<String> known = new java.util.TreeSet<>(allowed);
        known.add("stage");
        JsonFields.keys(s, stage, known);
    }

    private static List<String> strings(JsonNode array, String what) {
        return JsonFields.strings(array, what);
    }

    private static Integer integer(JsonNode s, String key) {
        return JsonFields.whole(s, key, s.path("stage").asText());
    }

    private static Float decimal(JsonNode s, String key) {
        Double d = JsonFields.number(s, key, s.path("stage").asText());
        return d == null ? null : d.floatValue();
    }

    /** An enum-valued field of stage {@code s}: a string in any spelling ({@link Names#constant}). */
    private static <E extends Enum<E>> E constant(Class<E> type, JsonNode s, String key, E absent) {
        String stage = s.path("stage").asText();
        String text = JsonFields.text(s, key, stage);
        return text == null ? absent : Names.constant(type, text, stage + ": " + key);
    }

    /** The composition as JSON text (what {@link #read} and {@link #parse} read back). */
    public static String write(Composition c) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("name", c.name());
        ArrayNode stages = root.putArray("stages");
        c.stages().forEach(s -> stages.add(tree(s)));
        return root.toString();
    }

    /** One stage as JSON. */
    static ObjectNode tree(Stage s) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("stage", s.id());
        switch (s) {
            case Stage.Sample x -> {
                if (!x.models().isEmpty()) {
                    x.models().forEach(o.putArray("models")::add);
                }
                putIf(o, "perModel", x.perModel());
                if (x.matchPool()) {
                    o.put("matchPool", true);
                }
                if (x.sampler() != Stage.Sampler.CANDIDATES) {
                    o.put("sampler", Names.id(x.sampler()));
                }
                if (x.temperature() != null) {
                    o.put("temperature", x.temperature());
                }
            }
            case Stage.Vote x -> { }
            case Stage.Rank x -> {
                if (x.aggregation() != null) {
                    o.put("aggregation", Names.id(x.aggregation()));
                }
                putIf(o, "topK", x.topK());
                if (x.by() != Stage.Ranker.JUDGE) {
                    o.put("by", Names.id(x.by()));
                }
                putIf(o, "among", x.among());
            }
            case Stage.Mix x -> {
                if (x.method() != null) {
                    o.put("method", Names.id(x.method()));
                }
                if (x.pack() != null) {
                    o.put("pack", x.pack());
                }
                if (x.solo() != null) {
                    o.put("solo", x.solo());
                }
                if (x.adapt() != null) {
                    o.put("adapt", Names.id(x.adapt()));
                }
                if (x.rate() != null) {
                    o.put("rate", x.rate());
                }
            }
            case Stage.Fuse x -> {
                putIf(o, "topK", x.topK());
                if (x.inputs() != Stage.FuseInputs.TOP) {
                    o.put("inputs", Names.id(x.inputs()));
                }
                if (x.orders() != 1) {
                    o.put("orders", x.orders());
                }
            }
            case Stage.Verify x -> { }
            case Stage.Solve x -> { }
            case Stage.Pick x -> putIf(o, "last", x.last());
            case Stage.Refine x -> {
                o.put("rounds", x.rounds());
                putIf(o, "topK", x.topK());
            }
            case Stage.Route x -> {
                o.put("rule", x.rule().id());
                switch (x.rule()) {
                    case Stage.RouteRule.Cases r -> {
                        ArrayNode cases = o.putArray("cases");
                        for (Stage.RouteCase c : r.cases()) {
                            ObjectNode n = cases.addObject();
                            if (c.when() != null) {
                                n.put("when", c.when());
                            }
                            c.models().forEach(n.putArray("models")::add);
                        }
                    }
                    case Stage.RouteRule.Similarity r -> {
                        ObjectNode examples = o.putObject("examples");
                        r.examples().forEach((model, prompts) -> prompts.forEach(examples.putArray(model)::add));
                    }
                    case Stage.RouteRule.Confidence r -> putIf(o, "tokens", r.tokens());
                }
                putIf(o, "pick", x.pick());
            }
            case Stage.Gate x -> {
                o.put("rule", Names.id(x.rule()));
                if (x.threshold() != null) {
                    o.put("threshold", x.threshold());
                }
            }
        }
        return o;
    }

    private static void putIf(ObjectNode o, String key, Integer value) {
        if (value != null) {
            o.put(key, value);
        }
    }

    /** One stage on one line: {@code rank(aggregation max-logits, topK 3)}. */
    static String describe(Stage s) {
        List<String> parts = new ArrayList<>();
        tree(s).fields().forEachRemaining(e -> {
            if (!e.getKey().equals("stage")) {
                parts.add(e.getKey() + " " + (e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString()));
            }
        });
        return parts.isEmpty() ? s.id() : s.id() + "(" + String.join(", ", parts) + ")";
    }
}
