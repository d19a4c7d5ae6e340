package dev.blender.runtime.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.eval.Accuracy;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What a {@link Tuner} found: every composition's figures on the tuning half, the frontier, the choice,
 * and the choice (and the rest of the frontier) measured again on the confirmation half.
 *
 * @param compositions the search, in order
 * @param tuned        a row per composition on the tuning half
 * @param confirmed    the frontier's and the chosen composition's rows on the confirmation half
 * @param chosen       the chosen composition's name
 * @param answers      each composition's answers on the tuning half, in problem order
 */
public record Tuning(List<Composition> compositions, List<Evaluation.Row> tuned, List<Evaluation.Row> confirmed,
                     String chosen, Frontier.Budget budget, Split split, long seed, Map<String, List<String>> answers) {
    /** The file names {@link #write} writes. */
    public static final String STRATEGY = "strategy.json";
    public static final String CONFIG = "config.json";
    public static final String FRONTIER = "frontier.json";
    public static final String PICTURE = "frontier.svg";
    public static final String PICTURE_MS = "frontier-ms.svg";
    public static final String PICTURE_CONFIRM = "frontier-confirm.svg";

    public Tuning {
        compositions = List.copyOf(compositions);
        tuned = List.copyOf(tuned);
        confirmed = List.copyOf(confirmed);
        Map<String, List<String>> copy = new HashMap<>();
        answers.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        answers = Map.copyOf(copy);
    }

    /** The chosen composition, as it ran. */
    public Composition choice() {
        return compositions.stream().filter(c -> c.name().equals(chosen)).findFirst().orElseThrow();
    }

    /** Every composition's figures on the tuning half. */
    public List<Frontier.Point> points() {
        return tuned.stream().map(Frontier.Point::of).toList();
    }

    /** The measured compositions' figures on the confirmation half. */
    public List<Frontier.Point> confirmPoints() {
        return confirmed.stream().map(Frontier.Point::of).toList();
    }

    /** The chosen composition's row on the tuning half. */
    public Evaluation.Row choiceTuned() {
        return row(tuned, chosen).orElseThrow();
    }

    /** The chosen composition's row on the confirmation half. */
    public Evaluation.Row choiceConfirmed() {
        return row(confirmed, chosen).orElseThrow();
    }

    private static Optional<Evaluation.Row> row(List<Evaluation.Row> rows, String name) {
        return rows.stream().filter(r -> r.method().equals(name)).findFirst();
    }

    /**
     * A sentence when the confirmation's accuracy falls outside the 95% interval of the tuning figure
     * (the choice was luckier, or unluckier, on the half it was chosen on than it is); empty otherwise.
     */
    public Optional<String> warning() {
        return outside(choiceTuned().accuracy(), choiceConfirmed().accuracy(), chosen);
    }

    /** The warning for a tuning and a confirmation figure; empty when the confirmation lies inside the interval. */
    static Optional<String> outside(Accuracy tune, Accuracy confirm, String name) {
        double[] ci = tune.wilson95();
        double c = confirm.value();
        if (c >= ci[0] - 1e-9 && c <= ci[1] + 1e-9) { // an interval's end at 0 or 1 carries rounding
            return Optional.empty();
        }
        return Optional.of(String.format(Locale.ROOT, "the confirmation of %s, %.3f, falls %s the tuning figure's 95%%"
                + " interval %.3f-%.3f (tuned %.3f): %s", name, c, c < ci[0] ? "below" : "above", ci[0], ci[1],
                tune.value(), c < ci[0] ? "the choice was lucky on the tuning half; expect the confirmation figure"
                        : "the tuning half was harder than the rest; expect the confirmation figure"));
    }

    /** Everything as JSON: the settings, the choice, and every composition with its figures and stages. */
    public ObjectNode json(String recipe) {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("recipe", recipe);
        root.put("seed", seed);
        root.put("tune_problems", split.tune().size());
        root.put("confirm_problems", split.confirm().size());
        root.put("budget", budget.toString());
        ObjectNode choice = root.putObject("chosen");
        choice.put("name", chosen);
        choice.set("tune", figures(choiceTuned()));
        choice.set("confirm", figures(choiceConfirmed()));
        warning().ifPresent(w -> choice.put("warning", w));
        Set<String> byTokens = names(Frontier.of(points(), Cost.TOKENS));
        Set<String> byMillis = names(Frontier.of(points(), Cost.MILLIS));
        Set<String> confirmByTokens = names(Frontier.of(confirmPoints(), Cost.TOKENS));
        ArrayNode all = root.putArray("compositions");
        for (Composition c : compositions) {
            ObjectNode o = all.addObject();
            o.put("name", c.name());
            o.set("tune", figures(row(tuned, c.name()).orElseThrow()));
            o.put("frontier_tokens", byTokens.contains(c.name()));
            o.put("frontier_ms", byMillis.contains(c.name()));
            row(confirmed, c.name()).ifPresent(r -> {
                o.set("confirm", figures(r));
                o.put("confirm_frontier_tokens", confirmByTokens.contains(c.name()));
            });
            o.set("composition", json(c));
        }
        return root;
    }

    private static Set<String> names(List<Frontier.Point> points) {
        return points.stream().map(Frontier.Point::name).collect(Collectors.toSet());
    }

    private static ObjectNode figures(Evaluation.Row r) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        double[] ci = r.accuracy().wilson95();
        o.put("accuracy", r.accuracy().value());
        o.putArray("ci95").add(ci[0]).add(ci[1]);
        o.put("correct", r.correct());
        o.put("problems", r.problems());
        o.put("tokens_per_problem", r.tokensPerProblem());
        o.put("ms_per_problem", r.millisPerProblem());
        return o;
    }

    /**
     * Writes into {@code dir} (created if missing): {@value #STRATEGY} (the choice: what {@code run
     * --strategy FILE} and a configuration's {@code strategy} read), {@value #CONFIG} when {@code config} is
     * given (that configuration with the choice as its strategy: {@code run --config FILE}),
     * {@value #FRONTIER}, and the pictures {@value #PICTURE} (tuning half, tokens), {@value #PICTURE_MS}
     * (tuning half, wall time) and {@value #PICTURE_CONFIRM} (confirmation half, tokens).
     *
     * @param config a blender configuration (models with paths a reader can resolve), or null
     * @return the files written
     */
    public List<Path> write(Path dir, String recipe, ObjectNode config) {
        ObjectMapper mapper = new ObjectMapper();
        List<Path> out = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            out.add(writeString(dir.resolve(STRATEGY), pretty(mapper, json(choice()))));
            if (config != null) {
                ObjectNode withChoice = config.deepCopy();
                withChoice.set("strategy", json(choice()));
                out.add(writeString(dir.resolve(CONFIG), pretty(mapper, withChoice)));
            }
            out.add(writeString(dir.resolve(FRONTIER), pretty(mapper, json(recipe))));
            out.add(writeString(dir.resolve(PICTURE), FrontierPlot.svg(recipe + ": tuning half (" + split.tune().size()
                    + " problems)", points(), Cost.TOKENS, chosen)));
            out.add(writeString(dir.resolve(PICTURE_MS), FrontierPlot.svg(recipe + ": tuning half (" + split.tune().size()
                    + " problems)", points(), Cost.MILLIS, chosen)));
            out.add(writeString(dir.resolve(PICTURE_CONFIRM), FrontierPlot.svg(recipe + ": confirmation half ("
                    + split.confirm().size() + " problems), the tuning frontier", confirmPoints(), Cost.TOKENS, chosen)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tune's files into " + dir + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** A composition as a JSON value to put into the files' trees. */
    private static JsonNode json(Composition c) {
        try {
            return new ObjectMapper().readTree(CompositionJson.write(c));
        } catch (IOException e) {
            throw new UncheckedIOException(e); // CompositionJson wrote it: it parses
        }
    }

    private static String pretty(ObjectMapper mapper, JsonNode node) throws IOException {
        return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n";
    }

    private static Path writeString(Path file, String text) throws IOException {
        Files.writeString(file, text);
        return file;
    }
}
