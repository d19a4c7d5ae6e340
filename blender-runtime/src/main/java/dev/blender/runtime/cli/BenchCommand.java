package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.bench.BatchedBenchAnchor;
import dev.blender.runtime.bench.LatencyBench;
import dev.blender.runtime.bench.ShapeBench;
import dev.blender.runtime.bench.SyntheticFamily;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender bench}: the latency harness's flags and tables; {@link LatencyBench} measures. Runs
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
        List<Composition> requested = parseStrategies(strategies);
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
        printTables(System.out, report);
        if (json != null) {
            write(json, report.toJson());
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
            write(json, report.toJson());
        }
        return 0;
    }

    /** Each value may hold several, comma-separated; commas inside inline JSON do not separate. */
    private static List<Composition> parseStrategies(List<String> values) {
        List<Composition> out = new ArrayList<>();
        for (String value : values) {
            for (String text : splitTopLevel(value)) {
                if (text.isBlank()) {
                    continue;
                }
                Composition c;
                try {
                    c = CompositionJson.parse(text);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--strategies: " + e.getMessage(), e);
                }
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

    private List<String> loadPrompts() {
        List<String> out = new ArrayList<>(prompts);
        if (promptsFile != null) {
            if (!Files.isRegularFile(promptsFile)) {
                throw new IllegalArgumentException("--prompts: no such file " + promptsFile);
            }
            try {
                Files.readAllLines(promptsFile).stream().filter(l -> !l.isBlank()).limit(limit).forEach(out::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read prompts from " + promptsFile + ": " + e.getMessage(), e);
            }
            if (out.size() == prompts.size()) {
                throw new IllegalArgumentException(promptsFile + " has no prompts");
            }
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

    private static void printTables(PrintStream out, LatencyBench.Report report) {
        List<LatencyBench.Summary> rows = report.results().stream().map(LatencyBench.Result::summary).toList();
        out.printf(Locale.ROOT, "%d prompts x %d strategies; times in ms, nearest-rank percentiles%n", report.prompts(),
                rows.size());
        List<String[]> latency = new ArrayList<>();
        latency.add(new String[] {"strategy", "requests", "total p50", "p95", "mean", "1st token p50", "p95", "mean",
            "answer tok/s", "p50/SINGLE"});
        for (LatencyBench.Summary s : rows) {
            latency.add(new String[] {s.composition(), Integer.toString(s.requests()), ms(s.total().p50()),
                ms(s.total().p95()), ms(s.total().mean()), ms(s.firstToken().p50()), ms(s.firstToken().p95()),
                ms(s.firstToken().mean()),
                s.answerPiecesPerSecond() == null ? "n/a" : String.format(Locale.ROOT, "%.1f", s.answerPiecesPerSecond()),
                s.p50VsSingle() == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", s.p50VsSingle())});
        }
        printAligned(out, latency);
        out.println();
        List<String[]> stages = new ArrayList<>();
        stages.add(new String[] {"strategy", "sampling p50", "p95", "mean", "ranking p50", "p95", "mean", "fusion p50",
            "p95", "mean"});
        for (LatencyBench.Summary s : rows) {
            stages.add(new String[] {s.composition(), ms(s.sampling().p50()), ms(s.sampling().p95()),
                ms(s.sampling().mean()), ms(s.ranking().p50()), ms(s.ranking().p95()), ms(s.ranking().mean()),
                ms(s.fusion().p50()), ms(s.fusion().p95()), ms(s.fusion().mean())});
        }
        printAligned(out, stages);
        out.println();
        if (report.baseline().isPresent()) {
            out.println("these machines are noisy: compare the p50/SINGLE ratios, not absolute times across runs");
        }
        out.printf("peak RSS %s, current RSS %s%n", kib(report.peakRssKib()), kib(report.currentRssKib()));
    }

    private static String ms(Double v) {
        return v == null ? "n/a" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String kib(OptionalLong v) {
        return v.isPresent() ? String.format(Locale.ROOT, "%.1f MiB", v.getAsLong() / 1024.0) : "n/a";
    }

    /** First column left-aligned, the rest right-aligned, each as wide as its widest cell. */
    private static void printAligned(PrintStream out, List<String[]> table) {
        int[] width = new int[table.get(0).length];
        for (String[] row : table) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        for (String[] row : table) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                if (i == 0) {
                    line.append(row[i]).append(" ".repeat(width[i] - row[i].length()));
                } else {
                    line.append("  ").append(" ".repeat(width[i] - row[i].length())).append(row[i]);
                }
            }
            out.println(line);
        }
    }

    private static void write(Path file, ObjectNode root) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
