package dev.blender.runtime.cli;

import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.EvalReport;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import dev.blender.runtime.tune.Cost;
import dev.blender.runtime.tune.Frontier;
import dev.blender.runtime.tune.FrontierPlot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender eval}: compositions compared on the same problems and the same sampled candidates
 * through {@link Blender} ({@link Evaluation}); this command only reads flags and prints the table of
 * accuracy, 95% interval, tokens (all models, all stages) and time per problem ({@link EvalReport}).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measures whether the blend beats its best member on problems with checkable answers.",
            "Every row is a composition that 'run --strategy NAME' runs too.",
            "Built-in recipe arith: generators answerer-a and answerer-b, judge.gguf, fuser.gguf, models in "
                + "shared/models/arith, problems shared/data/arith/dev.jsonl. A recipe file (a --config file with an "
                + "\"eval\" section) evaluates your own models."})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--recipe", defaultValue = "arith", paramLabel = "NAME|FILE.json",
            description = "built-in recipe (arith: the reference blend; arith3: a, b and c at temperature 0.2)"
                    + " or a recipe file (default: ${DEFAULT-VALUE})")
    String recipeName;

    @Mixin
    ProblemFlags problemFlags;

    @Option(names = {"-n", "--samples"}, description = "candidates per generator (default: the recipe's)")
    Integer samples;

    @Option(names = "--temperature", description = "candidate sampling temperature (default: the recipe's)")
    Float temperature;

    // split by CompositionJson.parseList, not picocli, whose split would cut inline JSON at its commas
    @Option(names = "--strategies", paramLabel = "NAME[,NAME...]",
            description = "the rows to run, by name (default: the recipe's, else every built-in the models allow);"
                    + " a composition in JSON or a .json file also works")
    List<String> strategies;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Option(names = "--json", paramLabel = "OUT.json", description = "also write the table as JSON")
    Path json;

    @Option(names = "--plot", paramLabel = "OUT.svg",
            description = "also draw the accuracy-cost frontier (tokens per problem) as an SVG picture")
    Path plot;

    @Option(names = "--answers", paramLabel = "OUT.jsonl",
            description = "also write every row's answer to every problem, one JSON line each (question, gold,"
                    + " method, answer, right, and the ranked candidates): for error analysis")
    Path answers;

    @Override
    public Integer call() throws IOException {
        if (samples != null && samples < 1) {
            throw new IllegalArgumentException("--samples must be >= 1, was " + samples);
        }
        Recipe recipe = problemFlags.recipe(recipeName);
        Path file = problemFlags.file(recipeName);
        AnswerChecker checker = problemFlags.checker(recipe);
        List<Problem> list = Problem.readJsonl(file, problemFlags.skip, problemFlags.limit);
        BlenderConfig.Builder builder = recipe.config();
        if (samples != null) {
            builder.candidatesPerModel(samples);
        }
        BlenderConfig config = builder.buildConfig();
        if (temperature != null) {
            config = builder.candidateSampler(config.candidateSampler().withTemperature(temperature)).buildConfig();
        }
        List<Composition> rows = new ArrayList<>();
        if (strategies != null) {
            rows.addAll(Flag.read("--strategies", () -> CompositionJson.parseList(strategies)));
        } else {
            rows.addAll(recipe.compositionsFor(config));
        }
        Composition pool = config.generators().size() > 1 ? Composition.named("majority") : null;
        try (Blender blender = Blender.create(config);
             java.io.BufferedWriter out = answers != null ? Files.newBufferedWriter(answers) : null) {
            Progress progress = new Progress(System.err, list.size());
            List<Evaluation.Row> table = new Evaluation(blender, rows, checker, pool).groups(recipe.groups())
                    .run(list, seed,
                    new Evaluation.Listener() {
                        @Override
                        public void problemDone(int done, int total, List<Evaluation.Row> sofar) {
                            progress.step(done, status(sofar, done));
                        }

                        @Override
                        public void answered(int index, Problem p, String method, BlendResult r, boolean right) {
                            if (out != null) {
                                write(out, EvalReport.answerLine(problemFlags.skip + index, p, method, r, right));
                            }
                        }
                    });
            progress.done();
            print(recipe, config, new EvalReport(table, list.size(), problemFlags.skip, file));
            if (plot != null) {
                // the pool rows describe the candidates, not a composition one could run
                Files.writeString(plot, FrontierPlot.svg("recipe " + recipe.name() + ": " + list.size() + " problems",
                        table.stream().filter(r -> !r.method().startsWith("pool:")).map(Frontier.Point::of).toList(),
                        Cost.TOKENS, null));
            }
        }
        return 0;
    }

    private void write(java.io.BufferedWriter out, String line) {
        try {
            out.write(line);
            out.newLine();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + answers + ": " + e.getMessage(), e);
        }
    }

    /** The best row so far, for the progress line. */
    private static String status(List<Evaluation.Row> rows, int done) {
        Evaluation.Row best = rows.stream().filter(r -> !r.method().startsWith("pool:"))
                .max((a, b) -> Integer.compare(a.correct(), b.correct())).orElseThrow();
        return String.format(Locale.ROOT, "best %s %.3f", best.method(), (double) best.correct() / done);
    }

    private void print(Recipe recipe, BlenderConfig config, EvalReport report) {
        SamplerOptions s = config.candidateSampler();
        System.out.printf(Locale.ROOT, "recipe %s: %d problems from %s%s, %d x %d candidates at temperature %.2f, seed %d%n",
                recipe.name(), report.problems(), report.file(), problemFlags.skip > 0 ? " after the first " + problemFlags.skip : "",
                config.generators().size(), config.candidatesPerModel(), s.temperature(), seed);
        report.table().forEach(System.out::println);
        if (json != null) {
            JsonOut.write(json, report.toJson());
        }
    }
}
