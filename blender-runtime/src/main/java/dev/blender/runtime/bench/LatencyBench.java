package dev.blender.runtime.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.Stage;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Strategy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Measures the latency of several compositions of one {@link Blender} on the same prompts: what
 * {@code blender bench} prints. Every composition first answers {@code warmup} unmeasured requests; then
 * each of {@code runs} passes asks every composition every prompt, rotating which composition goes first
 * from prompt to prompt, so none always inherits the caches and clocks another left behind.
 *
 * <pre>{@code
 * LatencyBench bench = LatencyBench.builder()
 *         .compositions(LatencyBench.supportedStrategies(blender.config()))
 *         .prompts(List.of("17+62=", "8+5="))
 *         .runs(5).build();
 * LatencyBench.Report report = bench.run(blender);
 * report.results().forEach(r -> System.out.println(r.summary()));
 * }</pre>
 *
 * <p>Run {@code r} samples with seed {@code seed + r}, so repeated prompts draw fresh candidates instead of
 * replaying the judge's pair cache (which, as in a server, lives across requests); warm-ups use the seeds
 * after the measured ones. Percentiles are nearest-rank ({@link #percentile}). Times are wall times on a
 * shared machine: compare {@link Summary#p50VsSingle()} ratios measured in one run, not absolute times
 * across runs.
 */
public final class LatencyBench {
    /** The baseline every ratio is taken against, when it is measured. */
    public static final String BASELINE = Strategy.SINGLE.composition().name();

    private final List<Composition> compositions;
    private final List<String> prompts;
    private final int runs;
    private final int warmup;
    private final long seed;
    private final Listener listener;

    private LatencyBench(Builder b) {
        if (b.compositions.isEmpty()) {
            throw new IllegalArgumentException("compositions: none given");
        }
        Set<String> names = new HashSet<>();
        for (Composition c : b.compositions) {
            if (!names.add(c.name())) {
                // results and tables tell compositions apart by name only
                throw new IllegalArgumentException("compositions: two are named " + c.name());
            }
        }
        if (b.prompts.isEmpty()) {
            throw new IllegalArgumentException("prompts: none given");
        }
        this.compositions = List.copyOf(b.compositions);
        this.prompts = List.copyOf(b.prompts);
        this.runs = b.runs;
        this.warmup = b.warmup;
        this.seed = b.seed;
        this.listener = b.listener;
    }

    /**
     * A builder with one run, no warm-up, seed 1 and no listener; compositions and prompts must be set. A
     * setter refuses a bad value at once, with a message that starts with the setting's name.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Every {@link Strategy} the configuration can run, in declaration order: what bench compares by default. */
    public static List<Composition> supportedStrategies(BlenderConfig config) {
        return Arrays.stream(Strategy.values()).map(Strategy::composition).filter(config::supports).toList();
    }

    public List<Composition> compositions() {
        return compositions;
    }

    public List<String> prompts() {
        return prompts;
    }

    public int runs() {
        return runs;
    }

    public int warmup() {
        return warmup;
    }

    public long seed() {
        return seed;
    }

    /** Measured requests a run makes: runs x prompts x compositions (warm-ups not counted). */
    public int measuredRequests() {
        return runs * prompts.size() * compositions.size();
    }

    /**
     * Throws unless the configuration can run every composition; a caller that has the configuration
     * before loading the models learns of a mistake without waiting for them.
     *
     * @throws IllegalArgumentException naming the first composition it cannot run
     */
    public void checkSupportedBy(BlenderConfig config) {
        for (Composition c : compositions) {
            if (!config.supports(c)) {
                throw new IllegalArgumentException("this configuration cannot run " + c.name() + ": it samples a"
                        + " generator other than " + config.generatorNames()
                        + ", or mixes token by token with fewer than two");
            }
        }
    }

    /**
     * Runs the warm-ups and the measured passes on {@code blender}, reporting each request to the listener.
     *
     * @throws IllegalArgumentException the blender's configuration cannot run one of the compositions
     */
    public Report run(Blender blender) {
        Objects.requireNonNull(blender, "blender");
        checkSupportedBy(blender.config());
        int n = compositions.size();
        // warm-up seeds lie past the measured ones, so no measured request replays a warm-up's judge scores
        for (int w = 0; w < warmup; w++) {
            for (int c = 0; c < n; c++) {
                Sample s = measure(blender, compositions.get(c), -1, w % prompts.size(), seed + runs + w);
                listener.warmedUp(w * n + c + 1, warmup * n, s);
            }
        }
        List<List<Sample>> samples = new ArrayList<>();
        compositions.forEach(c -> samples.add(new ArrayList<>()));
        int total = measuredRequests();
        listener.measuring(total);
        int done = 0;
        for (int r = 0; r < runs; r++) {
            for (int p = 0; p < prompts.size(); p++) {
                // rotate who goes first so no composition always inherits the caches and clocks of another
                int shift = (r * prompts.size() + p) % n;
                for (int i = 0; i < n; i++) {
                    int c = (i + shift) % n;
                    Sample s = measure(blender, compositions.get(c), r, p, seed + r);
                    samples.get(c).add(s);
                    listener.measured(++done, total, s);
                }
            }
        }
        List<Summary> summaries = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            summaries.add(Summary.of(compositions.get(c).name(), samples.get(c)));
        }
        Double baseline = summaries.stream().filter(s -> s.composition().equals(BASELINE)).findFirst()
                .map(s -> s.total().p50()).orElse(null);
        List<Result> results = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            results.add(new Result(compositions.get(c), samples.get(c), summaries.get(c).withBaseline(baseline)));
        }
        // one reading for both, so the peak is never below the current size read a moment later
        List<String> status = procStatus();
        return new Report(runs, warmup, prompts.size(), results, procStatusKib(status, "VmHWM"),
                procStatusKib(status, "VmRSS"));
    }

    private Sample measure(Blender b, Composition composition, int run, int prompt, long seed) {
        int[] pieces = new int[1];
        // requests run one at a time here, so the process's time inside llama.cpp in between is this request's
        StageClock clock = new StageClock();
        BlendResult r = b.blend(BlendRequest.builder().prompt(prompts.get(prompt)).composition(composition).seed(seed).build(),
                new BlendListener() {
                    @Override
                    public void onAnswer(String text) {
                        pieces[0]++;
                    }

                    @Override
                    public void onStageStarted(Stage stage) {
                        clock.begin(stage.getClass().getSimpleName().toLowerCase(Locale.ROOT));
                    }
                });
        clock.begin(null);
        return new Sample(composition.name(), run, prompt, seed, r.timings(), pieces[0], clock.wall, clock.inside);
    }

    /** Wall time and time inside llama.cpp per stage kind, from stage start to the next stage's start. */
    private static final class StageClock {
        final Map<String, Double> wall = new LinkedHashMap<>();
        final Map<String, Double> inside = new LinkedHashMap<>();
        private String stage = "setup"; // before the first stage: the request's own orchestration
        private long wallAt = System.nanoTime();
        private long insideAt = LlamaContext.computeWallNanos();

        void begin(String next) {
            long now = System.nanoTime();
            long native_ = LlamaContext.computeWallNanos();
            if (stage != null) {
                wall.merge(stage, (now - wallAt) / 1e6, Double::sum);
                inside.merge(stage, (native_ - insideAt) / 1e6, Double::sum);
            }
            stage = next;
            wallAt = now;
            insideAt = native_;
        }
    }

    /** Sets up a {@link LatencyBench}; {@link #build()} checks the settings. */
    public static final class Builder {
        private List<Composition> compositions = List.of();
        private List<String> prompts = List.of();
        private int runs = 1;
        private int warmup;
        private long seed = 1;
        private Listener listener = Listener.NONE;

        private Builder() {}

        /** What to compare, in the order results list them; names must differ. */
        public Builder compositions(List<Composition> c) {
            compositions = List.copyOf(Objects.requireNonNull(c, "compositions"));
            return this;
        }

        /** The user messages every composition answers. */
        public Builder prompts(List<String> p) {
            prompts = List.copyOf(Objects.requireNonNull(p, "prompts"));
            return this;
        }

        /**
         * Measured passes over every prompt and composition.
         *
         * @throws IllegalArgumentException below 1
         */
        public Builder runs(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("runs must be >= 1, was " + n);
            }
            runs = n;
            return this;
        }

        /**
         * Unmeasured requests per composition before measuring.
         *
         * @throws IllegalArgumentException below 0
         */
        public Builder warmup(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("warmup must be >= 0, was " + n);
            }
            warmup = n;
            return this;
        }

        /** The sampling seed of the first run; run r uses seed + r. */
        public Builder seed(long s) {
            seed = s;
            return this;
        }

        public Builder listener(Listener l) {
            listener = Objects.requireNonNull(l, "listener");
            return this;
        }

        /**
         * @throws IllegalArgumentException no prompts, no compositions, or two compositions of one name; the
         *                                  message starts with the setting's name
         */
        public LatencyBench build() {
            return new LatencyBench(this);
        }
    }

    /** Hears of each request as it finishes, on the thread that runs the bench. */
    public interface Listener {
        Listener NONE = new Listener() {};

        /** A warm-up request finished ({@code done} of {@code total}); its sample is not measured. */
        default void warmedUp(int done, int total, Sample sample) {}

        /** The warm-ups are over; {@code total} measured requests come next. */
        default void measuring(int total) {}

        /** A measured request finished ({@code done} of {@code total}), in the order they ran. */
        default void measured(int done, int total, Sample sample) {}
    }

    /**
     * One request.
     *
     * @param composition  the composition's name
     * @param run          the measured pass, from 0; -1 for a warm-up
     * @param prompt       the prompt's index
     * @param seed         the sampling seed it ran with
     * @param timings      what the blend reported
     * @param answerPieces calls of {@link BlendListener#onAnswer}: one per token where the last stage streams
     *                     its answer, one in all where it does not
     * @param stageMillis  wall time per stage kind ({@code sample}, {@code rank}, {@code fuse}, ...), from its
     *                     start to the next one's
     * @param insideLlamaCppMillis of that, the time some {@code llama_decode}/{@code llama_encode} was running
     *                     ({@link LlamaContext#computeWallNanos()}: members decoding at once count once)
     */
    public record Sample(String composition, int run, int prompt, long seed, BlendResult.Timings timings,
                         int answerPieces, Map<String, Double> stageMillis, Map<String, Double> insideLlamaCppMillis) {
        public Sample {
            stageMillis = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(stageMillis));
            insideLlamaCppMillis = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(insideLlamaCppMillis));
        }

        /** The share of the stages' wall time spent inside llama.cpp. */
        public double insideLlamaCppShare() {
            double wall = stageMillis.values().stream().mapToDouble(Double::doubleValue).sum();
            double inside = insideLlamaCppMillis.values().stream().mapToDouble(Double::doubleValue).sum();
            return wall > 0 ? inside / wall : Double.NaN;
        }
    }

    /** p50, p95 and mean of some samples in ms; all null when there were none. */
    public record Stats(Double p50, Double p95, Double mean) {
        public static Stats of(List<Double> samples) {
            if (samples.isEmpty()) {
                return new Stats(null, null, null);
            }
            double[] sorted = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return new Stats(percentile(sorted, 50), percentile(sorted, 95), Arrays.stream(sorted).average().orElseThrow());
        }
    }

    /**
     * One composition's measured requests in brief.
     *
     * @param firstToken           only requests with an answer: an empty one has no first token, and its -1
     *                             would drag the percentiles down
     * @param answerPiecesPerSecond answer pieces of the requests with a first token / the sum of their
     *                             (total - first-token) times; null when nothing streamed
     * @param p50VsSingle          total p50 / {@code single}'s total p50; null when {@code single} was not
     *                             measured, NaN when its p50 was 0
     */
    public record Summary(String composition, int requests, Stats total, Stats firstToken, Stats sampling,
                          Stats ranking, Stats fusion, Double answerPiecesPerSecond, Double p50VsSingle) {

        static Summary of(String composition, List<Sample> samples) {
            List<Double> total = new ArrayList<>();
            List<Double> firstToken = new ArrayList<>();
            List<Double> sampling = new ArrayList<>();
            List<Double> ranking = new ArrayList<>();
            List<Double> fusion = new ArrayList<>();
            long pieces = 0;
            double streamingMillis = 0;
            for (Sample s : samples) {
                BlendResult.Timings t = s.timings();
                total.add(t.totalMillis());
                sampling.add(t.samplingMillis());
                ranking.add(t.rankingMillis());
                fusion.add(t.fusionMillis());
                if (t.firstTokenMillis() >= 0) {
                    firstToken.add(t.firstTokenMillis());
                    pieces += s.answerPieces();
                    streamingMillis += Math.max(0, t.totalMillis() - t.firstTokenMillis());
                }
            }
            Double perSecond = pieces > 0 && streamingMillis > 0 ? pieces / (streamingMillis / 1000) : null;
            return new Summary(composition, samples.size(), Stats.of(total), Stats.of(firstToken), Stats.of(sampling),
                    Stats.of(ranking), Stats.of(fusion), perSecond, null);
        }

        Summary withBaseline(Double baselineP50) {
            Double ratio = baselineP50 == null ? null : baselineP50 > 0 ? total.p50() / baselineP50 : Double.NaN;
            return new Summary(composition, requests, total, firstToken, sampling, ranking, fusion,
                    answerPiecesPerSecond, ratio);
        }
    }

    /** One composition: every measured request in the order they ran, and their summary. */
    public record Result(Composition composition, List<Sample> samples, Summary summary) {
        public Result {
            samples = List.copyOf(samples);
        }
    }

    /**
     * What a run measured.
     *
     * @param results       one per composition, in the order given
     * @param peakRssKib    the process's peak resident memory after the run (VmHWM), empty without procfs
     * @param currentRssKib its resident memory then (VmRSS), empty without procfs
     */
    public record Report(int runs, int warmup, int prompts, List<Result> results, OptionalLong peakRssKib,
                         OptionalLong currentRssKib) {
        public Report {
            results = List.copyOf(results);
        }

        /** The {@code single} result, when it was measured. */
        public Optional<Result> baseline() {
            return results.stream().filter(r -> r.composition().name().equals(BASELINE)).findFirst();
        }

        /**
         * {@code {runs, warmup, prompts, peak_rss_kib, current_rss_kib, strategies: [{strategy, requests,
         * total_ms, first_token_ms, sampling_ms, ranking_ms, fusion_ms: {p50, p95, mean}, answer_tokens_per_s,
         * p50_vs_single}]}}; what was not measured is null.
         */
        public ObjectNode toJson() {
            ObjectNode root = new ObjectMapper().createObjectNode();
            root.put("runs", runs);
            root.put("warmup", warmup);
            root.put("prompts", prompts);
            putKib(root, "peak_rss_kib", peakRssKib);
            putKib(root, "current_rss_kib", currentRssKib);
            ArrayNode list = root.putArray("strategies");
            for (Result r : results) {
                Summary s = r.summary();
                ObjectNode o = list.addObject();
                o.put("strategy", s.composition());
                o.put("requests", s.requests());
                putStats(o.putObject("total_ms"), s.total());
                putStats(o.putObject("first_token_ms"), s.firstToken());
                putStats(o.putObject("sampling_ms"), s.sampling());
                putStats(o.putObject("ranking_ms"), s.ranking());
                putStats(o.putObject("fusion_ms"), s.fusion());
                o.put("answer_tokens_per_s", s.answerPiecesPerSecond());
                // NaN (a baseline p50 of 0) is not JSON
                Double ratio = s.p50VsSingle();
                if (ratio == null || ratio.isNaN()) {
                    o.putNull("p50_vs_single");
                } else {
                    o.put("p50_vs_single", ratio);
                }
            }
            return root;
        }

        private static void putKib(ObjectNode o, String name, OptionalLong v) {
            if (v.isPresent()) {
                o.put(name, v.getAsLong());
            } else {
                o.putNull(name);
            }
        }

        private static void putStats(ObjectNode o, Stats s) {
            o.put("p50", s.p50());
            o.put("p95", s.p95());
            o.put("mean", s.mean());
        }
    }

    /**
     * Prompts from a file, one a line, blank lines skipped, at most {@code limit}.
     *
     * @throws IllegalArgumentException no such file, or none in it
     */
    public static List<String> readPrompts(Path file, int limit) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no such file " + file);
        }
        List<String> out;
        try {
            out = Files.readAllLines(file).stream().filter(l -> !l.isBlank()).limit(limit).toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read prompts from " + file + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + " has no prompts");
        }
        return out;
    }

    /**
     * Nearest-rank percentile {@code p} in (0, 100] of samples sorted ascending: the smallest sample with
     * at least p% of the samples at or below it (always a measured value, never an interpolation).
     */
    public static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        if (!(p > 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], was " + p);
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    /** A field of /proc/self/status in KiB ({@code VmHWM}, {@code VmRSS}); empty where there is no procfs (not Linux). */
    public static OptionalLong procStatusKib(String field) {
        return procStatusKib(procStatus(), field);
    }

    private static List<String> procStatus() {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return List.of();
        }
        try {
            return Files.readAllLines(status);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static OptionalLong procStatusKib(List<String> status, String field) {
        for (String line : status) {
            if (line.startsWith(field + ":")) {
                String[] parts = line.substring(field.length() + 1).strip().split("\\s+");
                try {
                    return OptionalLong.of(Long.parseLong(parts[0]));
                } catch (NumberFormatException e) {
                    return OptionalLong.empty();
                }
            }
        }
        return OptionalLong.empty();
    }
}
