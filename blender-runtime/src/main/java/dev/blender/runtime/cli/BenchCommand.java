package dev.blender.runtime.cli;

import dev.blender.runtime.SharedData;
import dev.blender.runtime.bench.BatchedBenchAnchor;
import dev.blender.runtime.bench.LatencyBench;
import dev.blender.runtime.bench.LatencyTable;
import dev.blender.runtime.bench.ShapeBench;
import dev.blender.runtime.bench.SyntheticFamily;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender bench}: the latency harness's flags; {@link LatencyBench} measures, {@link LatencyTable} and
 * {@link ShapeBench#table} lay the results out. Runs
 * several compositions of one blender on the same prompts, interleaved, and reports per-stage latency
 * percentiles, answer-token throughput, each composition's median relative to single's, and the
 * process's peak memory.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures the latency of each strategy on the same prompts, interleaved per run.",
            "Defaults: the arith models, the first --limit questions of shared/data/arith/dev.jsonl as "
                + "the bare questions, and every strategy the configuration supports.",
            "Percentiles are nearest-rank. Answer tokens/s = answer pieces streamed (a token each where the last "
                + "stage writes the answer, the whole answer at once otherwise) of the requests with an answer / "
                + "the sum of their (total - first-token) times.",
            "Run r samples with seed + r, so repeated prompts draw fresh candidates instead of replaying the "
                + "judge's pair cache (which, as in a server, lives across requests).",
            "These machines are noisy: compare the p50/SINGLE ratios, measured in the same run.",
            "--synthetic SHAPE instead measures the library's latency ratios on random-weight models of a "
                + "realistic shape (generated once into the cache folder): batched decoding, the bridge against "
                + "java-llama.cpp, full-blend against single, per-token combining, memory; each ratio beside its goal. "
                + "With BLENDER_LLAMA_BATCHED_BENCH naming llama.cpp's llama-batched-bench (built from the same "
                + "llama.cpp source), decode steps are also set against llama.cpp's own on the same file."})
final class BenchCommand implements Callable<Integer> {
    @Mixin
    BlenderOptions blender;

    // split by parseStrategies, not picocli, whose split would cut inline JSON at its commas
    @Option(names = "--strategies", paramLabel = "S[,S...]", description = {
        "what to compare, comma-separated: as --strategy takes it (a name such as full-blend or fuse:mix3,",
        "member:<generator>, inline JSON, a .json file); default: every strategy the configuration supports"})
    List<String> strategies = new ArrayList<>();

    @Option(names = "--prompts", paramLabel = "FILE", description = "prompts, one per line (blank lines skipped)")
    Path promptsFile;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "a prompt (repeatable)")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--limit", defaultValue = "20",
            description = "at most this many prompts from the file or data set (default: ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--runs", defaultValue = "5",
            description = "measured passes over all prompts and strategies (default: ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--warmup", defaultValue = "2",
            description = "unmeasured requests per strategy before measuring (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--seed", defaultValue = "1", description = "sampling seed of the first run; run r uses seed + r (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--json", paramLabel = "OUT.json", description = "also write the results as JSON")
    Path json;

    @Option(names = "--synthetic", paramLabel = "SHAPE", description = {
        "measure the latency ratios on a generated family of this shape (qwen2-0.5b-q8_0, qwen2-0.5b-q4_0):",
        "two generators, a judge and a fuser; --runs repeats each comparison; --threads applies"})
    String synthetic;

    @Option(names = "--answer-tokens", defaultValue = "32",
            description = "with --synthetic: the length of every candidate and answer (default: ${DEFAULT-VALUE})")
    int answerTokens;

    @Option(names = "--rationale-tokens", defaultValue = "16",
            description = "with --synthetic: the judge's rationale before each verdict (default: ${DEFAULT-VALUE})")
    int rationaleTokens;

    @Option(names = "--no-native-baseline",
            description = "with --synthetic: skip java-llama.cpp's own generation (bridge_over_native)")
    boolean noNativeBaseline;

    @Option(names = "--memory-only",
            description = "with --synthetic: only peak_rss_over_files, from loading the blend and one request (minutes)")
    boolean memoryOnly;

    @Override
    public Integer call() throws IOException {
        if (memoryOnly && synthetic == null) {
            throw new IllegalArgumentException("--memory-only goes with --synthetic SHAPE");
        }
        if (synthetic != null) {
            return synthetic();
        }
        LatencyBench.Builder settings = LatencyBench.builder();
        try {
            settings.runs(runs).warmup(warmup).seed(seed);
        } catch (IllegalArgumentException e) {
            // the library names its settings as these flags are named
            throw new IllegalArgumentException("--" + e.getMessage(), e);
        }
        if (limit < 1) {
            throw new IllegalArgumentException("--limit must be >= 1, was " + limit);
        }
        List<Composition> requested = Flag.read("--strategies", () -> CompositionJson.parseList(strategies));
        var config = blender.config();
        List<String> texts = loadPrompts();
        Progress[] bar = new Progress[1];
        LatencyBench bench = settings.prompts(texts)
                .compositions(requested.isEmpty() ? LatencyBench.supportedStrategies(config) : requested)
                .listener(new LatencyBench.Listener() {
                    @Override
                    public void measuring(int total) {
                        // started only now, so its rate leaves the warm-ups out
                        bar[0] = new Progress(System.err, total);
                    }

                    @Override
                    public void measured(int done, int total, LatencyBench.Sample s) {
                        bar[0].step(done, String.format(Locale.ROOT, "%s %.1f ms", s.composition(),
                                s.timings().totalMillis()));
                    }
                }).build();
        // checked before loading models, so a mistake costs no load time
        bench.checkSupportedBy(config);

        LatencyBench.Report report;
        try (Blender b = blender.open(System.err)) {
            report = bench.run(b);
            bar[0].done();
        }
        LatencyTable.of(report).forEach(System.out::println);
        if (json != null) {
            JsonOut.write(json, report.toJson());
        }
        return 0;
    }

    private int synthetic() throws IOException {
        if (!blender.usesDefaults() || !strategies.isEmpty() || !prompts.isEmpty() || promptsFile != null) {
            throw new IllegalArgumentException("--synthetic measures its own generated models, strategies and prompt;"
                    + " leave out -m, --config, --strategies and --prompt(s)");
        }
        if (runs < 1) {
            throw new IllegalArgumentException("--runs must be >= 1, was " + runs);
        }
        SyntheticFamily family = SyntheticFamily.of(synthetic, line -> System.err.println(line));
        ShapeBench bench = new ShapeBench(family, blender.models.threads, answerTokens, rationaleTokens, runs,
                !noNativeBaseline, BatchedBenchAnchor.fromEnvironment(System.getenv()).orElse(null),
                line -> System.err.println("measuring " + line));
        ShapeBench.Report report = memoryOnly ? bench.memory() : bench.run();
        System.out.println(synthetic + ": " + report.settings());
        ShapeBench.table(report).forEach(System.out::println);
        if (json != null) {
            JsonOut.write(json, report.toJson());
        }
        return 0;
    }

    private List<String> loadPrompts() {
        List<String> out = new ArrayList<>(prompts);
        if (promptsFile != null) {
            out.addAll(Flag.read("--prompts", () -> LatencyBench.readPrompts(promptsFile, limit)));
        }
        if (!out.isEmpty()) {
            return out;
        }
        if (!blender.usesDefaults()) {
            throw new IllegalArgumentException("no prompts: pass --prompt TEXT or --prompts FILE"
                    + " (the arith questions are the default only for the arith models)");
        }
        Path dev = SharedData.resolve("data/arith/dev.jsonl").orElseThrow(() -> new IllegalArgumentException(
                "no prompts: pass --prompt TEXT or --prompts FILE (shared/data/arith/dev.jsonl was not found)"));
        // the arith defaults put "Q: ... A:" around the bare question themselves
        return Problem.readJsonl(dev, limit).stream().map(Problem::question).toList();
    }
}
