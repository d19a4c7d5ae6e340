package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender bench}: the latency harness. Runs several strategies of one blender on the same
 * prompts, interleaved, and reports per-stage latency percentiles, answer-token throughput, each
 * strategy's median relative to SINGLE's, and the process's peak memory.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures the latency of each strategy on the same prompts, interleaved per run.",
            "Defaults: the arith models, the first --limit questions of shared/data/arith/dev.jsonl as "
                + "the bare questions, and every strategy the configuration supports.",
            "Percentiles are nearest-rank. Answer tokens/s = answer tokens (token callbacks with a token id >= 0) "
                + "of all requests / the sum of their (total - first-token) times.",
            "Run r samples with seed + r, so repeated prompts draw fresh candidates instead of replaying the "
                + "judge's pair cache (which, as in a server, lives across requests).",
            "These machines are noisy: compare the p50/SINGLE ratios, measured in the same run."})
final class BenchCommand implements Callable<Integer> {
    @Mixin
    BlenderOptions blender;

    @Option(names = "--strategies", split = ",", paramLabel = "S",
            description = "strategies to compare (default: every one the configuration supports)")
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

    @Override
    public Integer call() {
        if (runs < 1) {
            throw new IllegalArgumentException("--runs must be >= 1, was " + runs);
        }
        if (warmup < 0) {
            throw new IllegalArgumentException("--warmup must be >= 0, was " + warmup);
        }
        if (limit < 1) {
            throw new IllegalArgumentException("--limit must be >= 1, was " + limit);
        }
        List<Strategy> requested = parseStrategies(strategies);
        // checked before loading models, so a typo costs no load time
        var config = blender.config();
        List<Strategy> chosen = new ArrayList<>();
        for (Strategy s : requested.isEmpty() ? List.of(Strategy.values()) : requested) {
            if (config.supports(s)) {
                chosen.add(s);
            } else if (!requested.isEmpty()) {
                throw new IllegalArgumentException("this configuration cannot run " + s + " (it needs two generators)");
            }
        }

        List<String> texts = loadPrompts();

        PrintStream err = System.err;
        List<Samples> results = new ArrayList<>();
        chosen.forEach(s -> results.add(new Samples(s)));
        try (Blender b = blender.open(err)) {
            // warm-up seeds lie past the measured ones, so no measured request replays a warm-up's judge scores
            for (int w = 0; w < warmup; w++) {
                for (Samples s : results) {
                    measure(b, s.strategy, texts.get(w % texts.size()), seed + runs + w);
                }
            }
            int total = runs * texts.size() * results.size();
            Progress bar = new Progress(err, total);
            int done = 0;
            for (int r = 0; r < runs; r++) {
                for (int p = 0; p < texts.size(); p++) {
                    // rotate who goes first so no strategy always inherits the caches and clocks of another
                    int shift = (r * texts.size() + p) % results.size();
                    for (int i = 0; i < results.size(); i++) {
                        Samples s = results.get((i + shift) % results.size());
                        Measured m = measure(b, s.strategy, texts.get(p), seed + r);
                        s.add(m);
                        bar.step(++done, String.format(Locale.ROOT, "%s %.1f ms", s.strategy, m.timings.totalMillis()));
                    }
                }
            }
            bar.done();
        }

        OptionalLong peak = procStatusKib("VmHWM");
        OptionalLong current = procStatusKib("VmRSS");
        List<Summary> summaries = results.stream().map(Samples::summary).toList();
        Double singleP50 = summaries.stream().filter(s -> s.strategy == Strategy.SINGLE).findFirst()
                .map(s -> s.total.p50).orElse(null);
        printTables(System.out, summaries, singleP50, texts.size(), peak, current);
        if (json != null) {
            writeJson(json, summaries, singleP50, texts.size(), peak, current);
        }
        return 0;
    }

    private static List<Strategy> parseStrategies(List<String> names) {
        List<Strategy> out = new ArrayList<>();
        for (String n : names) {
            String key = n.strip().toUpperCase(Locale.ROOT).replace('-', '_');
            if (key.isEmpty()) {
                continue;
            }
            Strategy s = Arrays.stream(Strategy.values()).filter(v -> v.name().equals(key)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown strategy '" + n + "' in --strategies; valid: "
                            + Arrays.stream(Strategy.values()).map(Enum::name).collect(Collectors.joining(", "))));
            if (!out.contains(s)) {
                out.add(s);
            }
        }
        return out;
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

    private static Measured measure(Blender b, Strategy strategy, String prompt, long seed) {
        int[] tokens = new int[1];
        BlendResult r = b.blend(BlendRequest.of(prompt).withStrategy(strategy).withSeed(seed), new BlendListener() {
            @Override
            public void onAnswer(String text) {
                tokens[0]++; // a streamed answer comes a token at a time
            }
        });
        return new Measured(r.timings(), tokens[0]);
    }

    private record Measured(BlendResult.Timings timings, int answerTokens) {}

    /**
     * Nearest-rank percentile {@code p} in (0, 100] of samples sorted ascending: the smallest sample with
     * at least p% of the samples at or below it (always a measured value, never an interpolation).
     */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        if (!(p > 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], was " + p);
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    /** p50, p95 and mean of some samples; null fields when there were none. */
    record Stats(Double p50, Double p95, Double mean) {
        static Stats of(List<Double> samples) {
            if (samples.isEmpty()) {
                return new Stats(null, null, null);
            }
            double[] sorted = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return new Stats(percentile(sorted, 50), percentile(sorted, 95), Arrays.stream(sorted).average().orElseThrow());
        }
    }

    private record Summary(Strategy strategy, int requests, Stats total, Stats firstToken, Stats sampling,
                           Stats ranking, Stats fusion, Double tokensPerSecond) {}

    /** The measured requests of one strategy. */
    private static final class Samples {
        final Strategy strategy;
        final List<Double> total = new ArrayList<>();
        final List<Double> firstToken = new ArrayList<>();
        final List<Double> sampling = new ArrayList<>();
        final List<Double> ranking = new ArrayList<>();
        final List<Double> fusion = new ArrayList<>();
        long answerTokens;
        double streamingMillis;

        Samples(Strategy strategy) {
            this.strategy = strategy;
        }

        void add(Measured m) {
            BlendResult.Timings t = m.timings;
            total.add(t.totalMillis());
            sampling.add(t.samplingMillis());
            ranking.add(t.rankingMillis());
            fusion.add(t.fusionMillis());
            // an empty answer has no first token; leaving it out keeps -1 from dragging the percentiles down
            if (t.firstTokenMillis() >= 0) {
                firstToken.add(t.firstTokenMillis());
                answerTokens += m.answerTokens;
                streamingMillis += Math.max(0, t.totalMillis() - t.firstTokenMillis());
            }
        }

        Summary summary() {
            Double tps = answerTokens > 0 && streamingMillis > 0 ? answerTokens / (streamingMillis / 1000) : null;
            return new Summary(strategy, total.size(), Stats.of(total), Stats.of(firstToken), Stats.of(sampling),
                    Stats.of(ranking), Stats.of(fusion), tps);
        }
    }

    /** A field of /proc/self/status in KiB; empty where there is no procfs (not Linux). */
    static OptionalLong procStatusKib(String field) {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return OptionalLong.empty();
        }
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(field + ":")) {
                    String[] parts = line.substring(field.length() + 1).strip().split("\\s+");
                    return OptionalLong.of(Long.parseLong(parts[0]));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
        return OptionalLong.empty();
    }

    private static void printTables(PrintStream out, List<Summary> rows, Double singleP50, int prompts,
                                    OptionalLong peak, OptionalLong current) {
        out.printf(Locale.ROOT, "%d prompts x %d strategies; times in ms, nearest-rank percentiles%n", prompts, rows.size());
        List<String[]> latency = new ArrayList<>();
        latency.add(new String[] {"strategy", "requests", "total p50", "p95", "mean", "1st token p50", "p95", "mean",
            "answer tok/s", "p50/SINGLE"});
        for (Summary s : rows) {
            latency.add(new String[] {s.strategy.name(), Integer.toString(s.requests), ms(s.total.p50), ms(s.total.p95),
                ms(s.total.mean), ms(s.firstToken.p50), ms(s.firstToken.p95), ms(s.firstToken.mean),
                s.tokensPerSecond == null ? "n/a" : String.format(Locale.ROOT, "%.1f", s.tokensPerSecond),
                singleP50 == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", ratio(s.total.p50, singleP50))});
        }
        printAligned(out, latency);
        out.println();
        List<String[]> stages = new ArrayList<>();
        stages.add(new String[] {"strategy", "sampling p50", "p95", "mean", "ranking p50", "p95", "mean", "fusion p50",
            "p95", "mean"});
        for (Summary s : rows) {
            stages.add(new String[] {s.strategy.name(), ms(s.sampling.p50), ms(s.sampling.p95), ms(s.sampling.mean),
                ms(s.ranking.p50), ms(s.ranking.p95), ms(s.ranking.mean), ms(s.fusion.p50), ms(s.fusion.p95),
                ms(s.fusion.mean)});
        }
        printAligned(out, stages);
        out.println();
        if (singleP50 != null) {
            out.println("these machines are noisy: compare the p50/SINGLE ratios, not absolute times across runs");
        }
        out.printf("peak RSS %s, current RSS %s%n", kib(peak), kib(current));
    }

    private static double ratio(double p50, double singleP50) {
        return singleP50 > 0 ? p50 / singleP50 : Double.NaN;
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

    private void writeJson(Path file, List<Summary> rows, Double singleP50, int prompts, OptionalLong peak,
                           OptionalLong current) {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("runs", runs);
        root.put("warmup", warmup);
        root.put("prompts", prompts);
        putKib(root, "peak_rss_kib", peak);
        putKib(root, "current_rss_kib", current);
        ArrayNode list = root.putArray("strategies");
        for (Summary s : rows) {
            ObjectNode o = list.addObject();
            o.put("strategy", s.strategy.name());
            o.put("requests", s.requests);
            putStats(o.putObject("total_ms"), s.total);
            putStats(o.putObject("first_token_ms"), s.firstToken);
            putStats(o.putObject("sampling_ms"), s.sampling);
            putStats(o.putObject("ranking_ms"), s.ranking);
            putStats(o.putObject("fusion_ms"), s.fusion);
            o.put("answer_tokens_per_s", s.tokensPerSecond);
            if (singleP50 == null || singleP50 <= 0) {
                o.putNull("p50_vs_single");
            } else {
                o.put("p50_vs_single", ratio(s.total.p50, singleP50));
            }
        }
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            mapper.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void putKib(ObjectNode o, String name, OptionalLong v) {
        if (v.isPresent()) {
            o.put(name, v.getAsLong());
        } else {
            o.putNull(name);
        }
    }

    private static void putStats(ObjectNode o, Stats s) {
        o.put("p50", s.p50);
        o.put("p95", s.p95);
        o.put("mean", s.mean);
    }
}
