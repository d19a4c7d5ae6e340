package dev.blender.runtime.cli;

import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import dev.blender.runtime.tune.Cost;
import dev.blender.runtime.tune.Frontier;
import dev.blender.runtime.tune.SearchSpace;
import dev.blender.runtime.tune.Split;
import dev.blender.runtime.tune.Tuner;
import dev.blender.runtime.tune.Tuning;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender tune}: chooses a composition for the recipe's task ({@link Tuner}); this command reads
 * the flags, shows progress and prints the frontier on both halves.
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = {"Chooses the composition for your task: compares a search of compositions on half of your"
                + " problems, draws the accuracy-cost frontier, picks the most accurate one within the budget and"
                + " confirms it on the other half.",
            "Writes strategy.json (for run, chat and serve --strategy), config.json, frontier.json and the pictures"
                + " frontier.svg, frontier-ms.svg and frontier-confirm.svg into --out. See docs/tuning.md."})
final class TuneCommand implements Callable<Integer> {
    @Option(names = "--recipe", defaultValue = "arith3", paramLabel = "NAME|FILE.json",
            description = "built-in recipe (arith, arith3) or a recipe file, as for eval (default: ${DEFAULT-VALUE})")
    String recipeName;

    @Mixin
    ProblemFlags problemFlags;

    @Option(names = "--tune-share", defaultValue = "0.5",
            description = "share of the problems compared on; the rest confirm the choice (default: ${DEFAULT-VALUE})")
    double tuneShare;

    @Option(names = "--seed", defaultValue = "1", description = "deals the halves and seeds the requests (default: 1)")
    long seed;

    @Option(names = "--budget-tokens", paramLabel = "N", description = "the most tokens a problem may cost the choice")
    Double budgetTokens;

    @Option(names = "--budget-ms", paramLabel = "N", description = "the most wall milliseconds a problem may take")
    Double budgetMillis;

    // split by CompositionJson.parseList, not picocli, whose split would cut inline JSON at its commas
    @Option(names = "--strategies", paramLabel = "NAME[,NAME...]",
            description = "the compositions the search varies (default: a member row per generator and every built-in"
                    + " the models allow); a composition in JSON or a .json file also works")
    List<String> strategies;

    @Option(names = "--samples", split = ",", paramLabel = "N",
            description = "candidates per generator to try (default: half and all of the recipe's)")
    List<Integer> samples;

    @Option(names = "--temperatures", split = ",", paramLabel = "T",
            description = "candidate temperatures to try (default: 0.2, 0.8 and the recipe's)")
    List<Float> temperatures;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "where the files go")
    Path out;

    @Override
    public Integer call() {
        if (budgetTokens != null && budgetMillis != null) {
            throw new IllegalArgumentException("give --budget-tokens or --budget-ms, not both");
        }
        Frontier.Budget budget = budgetTokens != null ? new Frontier.Budget(Cost.TOKENS, budgetTokens)
                : budgetMillis != null ? new Frontier.Budget(Cost.MILLIS, budgetMillis) : Frontier.Budget.none();
        Recipe recipe = problemFlags.recipe(recipeName);
        Path file = problemFlags.file(recipeName);
        AnswerChecker checker = problemFlags.checker(recipe);
        Split split = Split.of(Problem.readJsonl(file, problemFlags.skip, problemFlags.limit), tuneShare, seed);
        BlenderConfig config = recipe.config().buildConfig();
        SearchSpace space = SearchSpace.around(config);
        if (samples != null || temperatures != null) {
            space = space.withSampling(samples != null ? samples : space.samples(),
                    temperatures != null ? temperatures : space.temperatures());
        }
        List<Composition> bases = strategies != null ? Flag.read("--strategies", () -> CompositionJson.parseList(strategies))
                : SearchSpace.bases(config);
        List<Composition> search = space.compositions(bases, config);
        System.err.printf(Locale.ROOT, "recipe %s: %d compositions, %d problems to tune on and %d to confirm (seed %d)%n",
                recipe.name(), search.size(), split.tune().size(), split.confirm().size(), seed);
        long t0 = System.nanoTime();
        Tuning tuning;
        try (Blender blender = Blender.create(config)) {
            Progress[] bar = new Progress[1];
            tuning = new Tuner(blender, checker).tune(search, split, seed, budget, new Tuner.Listener() {
                @Override
                public void phase(String half, int compositions, int problems) {
                    if (bar[0] != null) {
                        bar[0].done();
                    }
                    System.err.printf(Locale.ROOT, "%s: %d compositions on %d problems%n", half, compositions, problems);
                    bar[0] = new Progress(System.err, problems);
                }

                @Override
                public void problemDone(String half, int done, int total, List<Evaluation.Row> rows) {
                    Evaluation.Row best = rows.stream().max((a, b) -> Integer.compare(a.correct(), b.correct()))
                            .orElseThrow();
                    bar[0].step(done, String.format(Locale.ROOT, "best %s %.3f", best.method(),
                            (double) best.correct() / done));
                }
            });
            bar[0].done();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        List<Path> files = tuning.write(out, recipe.name(), recipe.configJson());
        print(tuning, seconds, budget);
        files.forEach(f -> System.out.println("wrote " + f));
        return 0;
    }

    private static void print(Tuning t, double seconds, Frontier.Budget budget) {
        List<Frontier.Point> frontier = Frontier.of(t.points(), Cost.TOKENS);
        int width = Math.max(24, frontier.stream().mapToInt(p -> p.name().length()).max().orElse(0));
        System.out.printf(Locale.ROOT, "frontier (tokens per problem) on the tuning half (%d problems), confirmed on"
                + " the other %d%n", t.split().tune().size(), t.split().confirm().size());
        System.out.printf(Locale.ROOT, "%-" + width + "s %-23s %8s %9s   %-23s %8s%n", "composition", "tune accuracy (95% CI)",
                "tokens", "ms", "confirm accuracy", "tokens");
        for (Frontier.Point p : frontier) {
            Frontier.Point c = t.confirmPoints().stream().filter(x -> x.name().equals(p.name())).findFirst().orElseThrow();
            System.out.printf(Locale.ROOT, "%-" + width + "s %s %8.1f %9.2f   %s %8.1f%s%n", p.name(), figure(p),
                    p.tokens(), p.millis(), figure(c), c.tokens(), p.name().equals(t.chosen()) ? "  <- chosen" : "");
        }
        Frontier.Point chosen = t.points().stream().filter(p -> p.name().equals(t.chosen())).findFirst().orElseThrow();
        Frontier.Point confirmed = t.confirmPoints().stream().filter(p -> p.name().equals(t.chosen())).findFirst()
                .orElseThrow();
        System.out.printf(Locale.ROOT, "chosen (budget %s): %s%n  tuning half %s, %.1f tokens, %.2f ms per problem%n"
                        + "  confirmation %s, %.1f tokens, %.2f ms per problem%n", budget, t.choice(), figure(chosen).strip(),
                chosen.tokens(), chosen.millis(), figure(confirmed).strip(), confirmed.tokens(), confirmed.millis());
        t.warning().ifPresent(w -> System.out.println("note: " + w));
        System.out.printf(Locale.ROOT, "%d compositions in %.1f s%n", t.compositions().size(), seconds);
    }

    private static String figure(Frontier.Point p) {
        double[] ci = p.accuracy().wilson95();
        return String.format(Locale.ROOT, "%.3f (%.3f-%.3f)    ", p.accuracy().value(), ci[0], ci[1]).substring(0, 23);
    }
}
