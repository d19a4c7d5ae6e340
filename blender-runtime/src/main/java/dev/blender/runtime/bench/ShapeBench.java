package dev.blender.runtime.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaAbi;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.Combiner;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.ModelPool;
import dev.blender.runtime.pipeline.Strategy;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Latency of the library on a {@link SyntheticFamily}, as ratios against baselines measured in the same
 * run (what {@code blender bench --synthetic SHAPE} prints and writes):
 * <ul>
 *   <li>{@code batch4_over_batch1}: wall time per decode step with 4 candidates batched / with 1;</li>
 *   <li>{@code bridge_over_native}: single-sequence decode tokens/s through this bridge / through
 *       java-llama.cpp's own generation (b4916 only: that library carries no other), same file, threads,
 *       prompt and length, the two alternating;</li>
 *   <li>{@code batch1_over_native_batch1}, {@code batch4_over_native_batch4}: the bridge's decode step with 1
 *       and 4 sequences / llama.cpp's own {@code llama-batched-bench}'s on the same file, prompt and length
 *       ({@link BatchedBenchAnchor}, where {@code BLENDER_LLAMA_BATCHED_BENCH} names it), alternating;</li>
 *   <li>{@code full_blend_over_single}: end-to-end p50 of a full blend (both generators x 2 candidates,
 *       the judge's top 1 by one bubble pass, the fuser over the top 3) / {@code single}, the same answer
 *       length;</li>
 *   <li>{@code llama_cpp_share_of_full_blend}: of a full blend's wall time (median of the measured requests), the
 *       share spent inside {@code llama_decode}/{@code llama_encode}; per stage in the settings;</li>
 *   <li>{@code combine_over_step}: the slowest per-token combine method at K = 3 over the whole vocabulary /
 *       one decode step of one member;</li>
 *   <li>{@code peak_rss_over_files}: the process's peak RSS / (the family's files + the JVM's RSS before
 *       any model loaded).</li>
 * </ul>
 * Lengths are forced (random weights neither stop nor write stop text) and stated in the report.
 */
public final class ShapeBench {
    /** The goals of the latency issue: a ratio is met when it is on the right side of its goal. */
    static final Map<String, Goal> GOALS = Map.of(
            "batch4_over_batch1", new Goal(1.5, true),
            "bridge_over_native", new Goal(0.98, false),
            "batch1_over_native_batch1", new Goal(1.02, true),
            "batch4_over_native_batch4", new Goal(1.05, true),
            "full_blend_over_single", new Goal(2.5, true),
            "llama_cpp_share_of_full_blend", new Goal(0.95, false),
            "combine_over_step", new Goal(0.01, true),
            "peak_rss_over_files", new Goal(1.1, true));

    /** A ratio's goal: at most {@code bound} when {@code atMost}, else at least. */
    public record Goal(double bound, boolean atMost) {
        boolean met(double ratio) {
            return atMost ? ratio <= bound : ratio >= bound;
        }

        @Override
        public String toString() {
            return (atMost ? "<= " : ">= ") + bound;
        }
    }

    /** One ratio and what it was taken of; {@code note} says why it was not measured, or null. */
    public record Ratio(String key, double ratio, double numerator, double denominator, String unit, Goal goal,
                        String note) {
        public boolean measured() {
            return note == null;
        }

        public boolean met() {
            return measured() && goal.met(ratio);
        }

        static Ratio of(String key, double numerator, double denominator, String unit) {
            return new Ratio(key, numerator / denominator, numerator, denominator, unit, GOALS.get(key), null);
        }

        static Ratio notMeasured(String key, String why) {
            return new Ratio(key, Double.NaN, Double.NaN, Double.NaN, "", GOALS.get(key), why);
        }
    }

    /** What a run measured: the ratios in a fixed order, and the settings and forced lengths it ran with. */
    public record Report(String shape, Map<String, Ratio> ratios, Map<String, Object> settings) {
        public Report {
            ratios = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(ratios));
            settings = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(settings));
        }

        /**
         * {@code {"shape", "settings", "ratios": {key: {ratio, numerator, denominator, unit, goal, met}}}}; a ratio
         * not measured has {@code ratio} null and says why in {@code not_measured}.
         */
        public ObjectNode toJson() {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode root = mapper.createObjectNode();
            root.put("shape", shape);
            root.set("settings", mapper.valueToTree(settings));
            ObjectNode out = root.putObject("ratios");
            for (Ratio r : ratios.values()) {
                ObjectNode o = out.putObject(r.key());
                if (r.measured()) {
                    o.put("ratio", r.ratio()).put("numerator", r.numerator()).put("denominator", r.denominator())
                            .put("unit", r.unit()).put("goal", r.goal().toString()).put("met", r.met());
                } else {
                    o.putNull("ratio");
                    o.put("goal", r.goal().toString()).put("not_measured", r.note());
                }
            }
            return root;
        }
    }

    private final SyntheticFamily family;
    private final int threads;
    private final int answerTokens;
    private final int rationaleTokens;
    private final int repeats;
    private final boolean nativeBaseline;
    private final BatchedBenchAnchor anchor;
    private final Consumer<String> progress;
    private final String prompt = "Write a short story about a lighthouse keeper who finds a message in a bottle.";

    /**
     * @param threads         decode threads for every model (0 = llama.cpp's default)
     * @param answerTokens    the length of every candidate and of the answer
     * @param rationaleTokens the judge's rationale before each verdict
     * @param repeats         measured repetitions of each comparison (medians are reported)
     * @param nativeBaseline  measure {@code bridge_over_native} (starts a child JVM with java-llama.cpp)
     * @param anchor          llama.cpp's own batched bench for the anchored ratios, or null
     * @param progress        told what is being measured, for a long run's user
     */
    public ShapeBench(SyntheticFamily family, int threads, int answerTokens, int rationaleTokens, int repeats,
                      boolean nativeBaseline, BatchedBenchAnchor anchor, Consumer<String> progress) {
        this.family = Objects.requireNonNull(family, "family");
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, was " + threads);
        }
        if (answerTokens < 2) {
            throw new IllegalArgumentException("answer tokens must be >= 2, was " + answerTokens);
        }
        if (rationaleTokens < 0) {
            throw new IllegalArgumentException("rationale tokens must be >= 0, was " + rationaleTokens);
        }
        if (repeats < 1) {
            throw new IllegalArgumentException("repeats must be >= 1, was " + repeats);
        }
        this.threads = threads;
        this.answerTokens = answerTokens;
        this.rationaleTokens = rationaleTokens;
        this.repeats = repeats;
        this.nativeBaseline = nativeBaseline;
        this.anchor = anchor;
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    public Report run() throws IOException {
        long jvmRssKib = baselineRssKib();
        Map<String, Object> settings = settings(jvmRssKib, true);

        Map<String, Ratio> ratios = new LinkedHashMap<>();
        double[] step = decodeSteps(settings, ratios);
        ratios.put("combine_over_step", combine(step[0], settings));
        ratios.put("full_blend_over_single", blend(settings, ratios));
        long files = family.fileBytes();
        settings.put("model_file_bytes", files);
        ratios.put("peak_rss_over_files", peakOverFiles(jvmRssKib, files));
        Map<String, Ratio> ordered = new LinkedHashMap<>();
        for (String key : List.of("batch4_over_batch1", "bridge_over_native", "batch1_over_native_batch1",
                "batch4_over_native_batch4", "full_blend_over_single", "llama_cpp_share_of_full_blend",
                "combine_over_step", "peak_rss_over_files")) {
            ordered.put(key, ratios.get(key));
        }
        return new Report(family.shape(), ordered, settings);
    }

    /**
     * One generator: per-step time with 1 and with 4 candidates batched, and (b4916) java-llama.cpp's single
     * sequence beside the bridge's, all alternating. Returns {ms per step at 1, at 4}.
     */
    private double[] decodeSteps(Map<String, Object> settings, Map<String, Ratio> ratios) throws IOException {
        ModelOptions options = ModelOptions.defaults().withThreads(threads);
        double[] one = new double[repeats];
        double[] four = new double[repeats];
        double[] bridgeRate = new double[repeats];
        double[] nativeRate = new double[repeats];
        double[] anchorOne = new double[repeats];
        double[] anchorFour = new double[repeats];
        int anchorThreads = -1;
        boolean withNative = nativeBaseline && LlamaBackend.abi() == LlamaAbi.B4916;
        int contextSize = 1024;
        try (LlamaModel model = LlamaModel.load(family.generators().get(0), options);
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(contextSize)
                     .withMaxSequences(4).withThreads(threads));
             NativeBaseline nat = withNative ? NativeBaseline.start(family.generators().get(0), threads, contextSize,
                     prompt) : null) {
            int[] tokens = model.vocab().tokenize(prompt);
            settings.put("prompt_tokens", tokens.length);
            GenerationRequest request = GenerationRequest.of(tokens).withMaxTokens(answerTokens)
                    .withSampler(SamplerOptions.defaults().withTemperature(1f));
            progress.accept("decode steps: 1 and 4 candidates" + (withNative ? ", and java-llama.cpp's own" : "")
                    + (anchor != null ? ", and llama-batched-bench's" : ""));
            Generator.generate(ctx, request.withCandidates(4)); // warm-up
            if (nat != null) {
                nat.tokensPerSecond(answerTokens, 0);
            }
            for (int r = 0; r < repeats; r++) {
                one[r] = msPerStep(Generator.generate(ctx, request.withCandidates(1).withSeed(r)));
                four[r] = msPerStep(Generator.generate(ctx, request.withCandidates(4).withSeed(r)));
                bridgeRate[r] = 1000 / one[r];
                if (nat != null) {
                    nativeRate[r] = nat.tokensPerSecond(answerTokens, r);
                }
                if (anchor != null) {
                    // what the bridge decodes: the prompt once, then answerTokens - 1 steps
                    BatchedBenchAnchor.Steps s = anchor.measure(family.generators().get(0), threads, contextSize,
                            tokens.length, answerTokens - 1);
                    anchorOne[r] = s.oneMillis();
                    anchorFour[r] = s.fourMillis();
                    anchorThreads = s.threads();
                }
            }
        }
        if (anchor != null) {
            settings.put("native_anchor_threads", anchorThreads);
            ratios.put("batch1_over_native_batch1", Ratio.of("batch1_over_native_batch1", median(one),
                    median(anchorOne), "ms per decode step"));
            ratios.put("batch4_over_native_batch4", Ratio.of("batch4_over_native_batch4", median(four),
                    median(anchorFour), "ms per decode step"));
        } else {
            for (String key : List.of("batch1_over_native_batch1", "batch4_over_native_batch4")) {
                ratios.put(key, Ratio.notMeasured(key, BatchedBenchAnchor.ENVIRONMENT
                        + " does not name llama.cpp's llama-batched-bench"));
            }
        }
        double m1 = median(one);
        double m4 = median(four);
        ratios.put("batch4_over_batch1", Ratio.of("batch4_over_batch1", m4, m1, "ms per decode step"));
        ratios.put("bridge_over_native", withNative
                ? Ratio.of("bridge_over_native", median(bridgeRate), median(nativeRate), "decode tokens/s")
                : Ratio.notMeasured("bridge_over_native", nativeBaseline
                        ? "java-llama.cpp carries b4916 only; this run uses " + LlamaBackend.abi()
                        : "not asked for"));
        return new double[] {m1, m4};
    }

    /** Wall time per decode step of a batched generation: the slowest candidate's, over its steps. */
    private static double msPerStep(List<Candidate> candidates) {
        double ms = 0;
        int steps = 0;
        for (Candidate c : candidates) {
            ms = Math.max(ms, c.generationMillis());
            // the first token comes from the prompt's logits: a candidate of n tokens took n - 1 decodes
            steps = Math.max(steps, c.tokenCount() - 1);
        }
        return ms / Math.max(1, steps);
    }

    /** The slowest combine method at K = 3 over the vocabulary, per token, against one decode step. */
    private Ratio combine(double stepMillis, Map<String, Object> settings) throws IOException {
        int vocab;
        try (LlamaModel model = LlamaModel.load(family.generators().get(0), ModelOptions.defaults().withThreads(threads))) {
            vocab = model.vocab().size();
        }
        progress.accept("combine at K = 3 over " + vocab + " tokens");
        SplittableRandom random = new SplittableRandom(3);
        float[] out = new float[vocab];
        double slowest = 0;
        String slowestName = null;
        Map<String, Double> each = new LinkedHashMap<>();
        // the logits in native memory, where llama.cpp leaves them for the mixing generator
        // shared like llama.cpp's own (a pointer any thread may read), so rows can be split over cores
        try (Arena arena = Arena.ofShared()) {
            MemorySegment[] logits = new MemorySegment[3];
            for (int k = 0; k < logits.length; k++) {
                logits[k] = arena.allocate(ValueLayout.JAVA_FLOAT, vocab);
                for (int i = 0; i < vocab; i++) {
                    logits[k].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (random.nextGaussian() * 3));
                }
            }
            for (CombineMethod m : CombineMethod.values()) {
                CombineOptions o = m == CombineMethod.NEGATIVE_EVIDENCE ? CombineOptions.negativeEvidence(3, 0.5f, 0.1f)
                        : CombineOptions.equal(m, 3);
                Combiner c = Combiner.vectorized(o);
                // the Vector API is slow until C2 has compiled it, which a busy machine delays: a second and
                // a few hundred calls at least
                long end = System.nanoTime() + 1_000_000_000L;
                for (int w = 0; w < 300 || System.nanoTime() < end; w++) {
                    c.combine(logits, vocab, out);
                }
                double[] per = new double[9];
                for (int r = 0; r < per.length; r++) {
                    int calls = 0;
                    long t0 = System.nanoTime();
                    long elapsed;
                    do {
                        c.combine(logits, vocab, out);
                        calls++;
                        elapsed = System.nanoTime() - t0;
                    } while (elapsed < 50_000_000L);
                    per[r] = elapsed / 1e6 / calls;
                }
                double ms = median(per);
                each.put(m.name().toLowerCase(Locale.ROOT), ms);
                if (ms > slowest) {
                    slowest = ms;
                    slowestName = m.name().toLowerCase(Locale.ROOT);
                }
            }
        }
        settings.put("combine_ms_per_token", each);
        settings.put("combine_slowest", slowestName);
        return Ratio.of("combine_over_step", slowest, stepMillis, "ms per token");
    }

    /**
     * KV cells per sequence each role needs at the forced lengths, so that no context holds cells the blend
     * never uses (a judge's context has 16 sequences of its size): the prompt (at most one token per byte),
     * and for the judge two candidates and for the fuser three, each allowed twice its tokens (random tokens'
     * text re-tokenises to more), plus 64 for each template, and the rationale.
     */
    Map<String, Integer> contextSizes() {
        int prompt = this.prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("generator", prompt + answerTokens + 16);
        m.put("judge", prompt + 4 * answerTokens + rationaleTokens + 64);
        m.put("fuser", prompt + 6 * answerTokens + 64 + answerTokens);
        return m;
    }

    /** The blend the issue measures: both generators x 2 candidates, the judge, the fuser, each context sized by role. */
    private Blender blender(Map<String, Object> settings) {
        Map<String, Integer> cells = contextSizes();
        settings.put("context_cells_per_sequence", cells);
        return Blender.builder().generator(family.generators().get(0))
                .generator(family.generators().get(1))
                .judge(family.judge(), SyntheticFamily.judgeTemplate(rationaleTokens))
                .fuser(family.fuser(), SyntheticFamily.fuserTemplate(answerTokens))
                .candidatesPerModel(2).aggregation(Aggregation.BUBBLE).topK(3).maxTokens(answerTokens)
                .fusedMaxTokens(answerTokens).contextSize(cells.get("generator"))
                .contextSize(family.judge(), cells.get("judge")).contextSize(family.fuser(), cells.get("fuser"))
                .candidateSampler(SamplerOptions.defaults().withTemperature(1f))
                .modelOptions(ModelOptions.defaults().withThreads(threads)).build();
    }

    /** The full blend: every candidate, the judge's best by one bubble pass, that and two more fused. */
    private static Composition fullBlend() {
        return Composition.builder("full-blend").sample().rank(Aggregation.BUBBLE, 1).fuse(3).build();
    }

    /** What every report states first: the shape, library, threads, lengths and the JVM's own RSS. */
    private Map<String, Object> settings(long jvmRssKib, boolean withRepeats) {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("shape", family.shape());
        settings.put("llama_cpp", LlamaBackend.version() + " (" + LlamaBackend.abi() + ")");
        settings.put("threads", threads);
        if (withRepeats) {
            settings.put("repeats", repeats);
        }
        settings.put("answer_tokens", answerTokens);
        settings.put("rationale_tokens", rationaleTokens);
        settings.put("jvm_rss_before_models_kib", jvmRssKib);
        return settings;
    }

    /**
     * Memory only, in minutes rather than the whole run: the blend's models loaded one by one with their
     * contexts, then one full-blend request; the process's RSS after each step, and
     * {@code peak_rss_over_files} (the other ratios are not measured).
     */
    public Report memory() throws IOException {
        long jvmRssKib = baselineRssKib();
        Map<String, Object> settings = settings(jvmRssKib, false);
        Map<String, Long> steps = new LinkedHashMap<>();
        try (Blender blender = blender(settings)) {
            Path[] loading = new Path[1];
            blender.warmUp((done, total, file) -> {
                if (loading[0] != null) {
                    steps.put("loaded " + loading[0].getFileName() + " with its context", rssKib());
                }
                loading[0] = file;
                if (file != null) {
                    progress.accept("loading " + file.getFileName());
                }
            });
            progress.accept("one full-blend request");
            blender.blend(BlendRequest.builder().prompt(prompt).composition(fullBlend()).seed(99).build());
            steps.put("after one full-blend request", rssKib());
        }
        settings.put("rss_kib_after", steps);
        // of that, the Java heap the JVM has committed (which it keeps once grown)
        settings.put("jvm_heap_committed_kib", Runtime.getRuntime().totalMemory() >> 10);
        long files = family.fileBytes();
        settings.put("model_file_bytes", files);
        Map<String, Ratio> ratios = new LinkedHashMap<>();
        for (String key : List.of("batch4_over_batch1", "bridge_over_native", "batch1_over_native_batch1",
                "batch4_over_native_batch4", "full_blend_over_single", "llama_cpp_share_of_full_blend",
                "combine_over_step")) {
            ratios.put(key, Ratio.notMeasured(key, "memory-only run"));
        }
        ratios.put("peak_rss_over_files", peakOverFiles(jvmRssKib, files));
        return new Report(family.shape(), ratios, settings);
    }

    /**
     * The JVM's RSS before any model: after a full collection has handed back the heap that garbage of what
     * ran before took (checking a 152k-token family's files allocates hundreds of MB), which would
     * otherwise count as the JVM's own and flatter {@code peak_rss_over_files}.
     */
    private static long baselineRssKib() {
        System.gc();
        try {
            Thread.sleep(1000); // G1 uncommits the freed regions concurrently, just after the collection
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return LatencyBench.procStatusKib("VmRSS").orElse(0);
    }

    private static long rssKib() {
        return LatencyBench.procStatusKib("VmRSS").orElse(-1);
    }

    private static Ratio peakOverFiles(long jvmRssKib, long files) {
        OptionalLong peak = LatencyBench.procStatusKib("VmHWM");
        return peak.isPresent() && jvmRssKib > 0
                ? Ratio.of("peak_rss_over_files", peak.getAsLong() * 1024.0, files + jvmRssKib * 1024.0, "bytes")
                : Ratio.notMeasured("peak_rss_over_files", "no /proc/self/status here");
    }

    /** full-blend against single through {@link Blender} and {@link LatencyBench}, interleaved. */
    private Ratio blend(Map<String, Object> settings, Map<String, Ratio> ratios) {
        progress.accept("full-blend against single");
        try (Blender blender = blender(settings)) {
            Composition full = fullBlend();
            Composition single = Strategy.SINGLE.composition();
            settings.put("full_blend", "2 generators x 2 candidates, bubble top-1 (3 comparisons, both orders),"
                    + " fuse top 3");
            // what each decodes, from one request of each (stated: random weights run to the limits); the
            // first requests also load every model and create its contexts, which is reported apart
            for (Composition c : List.of(single, full)) {
                ModelPool.Stats before = blender.poolStats();
                BlendResult r = blender.blend(BlendRequest.builder().prompt(prompt).composition(c).seed(99).build());
                settings.put(c.name().replace('-', '_') + "_cold", cold(r, blender.poolStats().since(before)));
                // per stage: tokens generated, and every token put through a model (a judge's prompts and
                // rationales are all decoding, counted as prompt)
                Map<String, Map<String, Long>> byStage = new LinkedHashMap<>();
                r.usage().stages().forEach(u -> {
                    Map<String, Long> t = byStage.computeIfAbsent(u.stage(), k -> new LinkedHashMap<>());
                    t.merge("generated", u.generatedTokens(), Long::sum);
                    t.merge("decoded", u.totalTokens(), Long::sum);
                    if (u.speculation().drafted() > 0) {
                        t.merge("drafted", (long) u.speculation().drafted(), Long::sum);
                        t.merge("accepted", (long) u.speculation().accepted(), Long::sum);
                    }
                });
                settings.put(c.name().replace('-', '_') + "_tokens", byStage);
            }
            ModelPool.Stats[] poolAtStart = new ModelPool.Stats[1];
            LatencyBench.Report report = LatencyBench.builder()
                    .compositions(List.of(single, full))
                    .prompts(List.of(prompt)).runs(repeats).warmup(1).listener(new LatencyBench.Listener() {
                        @Override
                        public void measuring(int total) {
                            poolAtStart[0] = blender.poolStats();
                        }

                        @Override
                        public void measured(int done, int total, LatencyBench.Sample s) {
                            progress.accept(String.format(Locale.ROOT, "%s %d/%d: %.0f ms", s.composition(), done,
                                    total, s.timings().totalMillis()));
                        }
                    }).build().run(blender);
            double singleMs = report.results().get(0).summary().total().p50();
            double fullMs = report.results().get(1).summary().total().p50();
            settings.put("full_blend_first_token_p50_ms", report.results().get(1).summary().firstToken().p50());
            settings.put("single_stages_p50_ms", stages(report.results().get(0).summary()));
            settings.put("full_blend_stages_p50_ms", stages(report.results().get(1).summary()));
            // a warm pool neither loads a model nor creates a context for a measured request
            settings.put("pool_while_measuring", poolJson(blender.poolStats().since(poolAtStart[0])));
            List<LatencyBench.Sample> measured = report.results().get(1).samples().stream().filter(x -> x.run() >= 0)
                    .toList();
            Map<String, Map<String, Double>> byStage = new LinkedHashMap<>();
            for (String stage : measured.get(0).stageMillis().keySet()) {
                double wall = median(measured.stream().mapToDouble(x -> x.stageMillis().getOrDefault(stage, 0.0)).toArray());
                double inside = median(measured.stream().mapToDouble(x -> x.insideLlamaCppMillis().getOrDefault(stage, 0.0))
                        .toArray());
                byStage.put(stage, Map.of("wall_ms", wall, "inside_llama_cpp_ms", inside, "outside_ms", wall - inside));
            }
            settings.put("full_blend_inside_llama_cpp_by_stage", byStage);
            double wall = median(measured.stream().mapToDouble(x -> x.stageMillis().values().stream()
                    .mapToDouble(Double::doubleValue).sum()).toArray());
            double inside = median(measured.stream().mapToDouble(x -> x.insideLlamaCppMillis().values().stream()
                    .mapToDouble(Double::doubleValue).sum()).toArray());
            ratios.put("llama_cpp_share_of_full_blend", Ratio.of("llama_cpp_share_of_full_blend", inside, wall,
                    "ms inside llama_decode/encode of ms (p50)"));
            return Ratio.of("full_blend_over_single", fullMs, singleMs, "ms end to end (p50)");
        }
    }

    /** Each stage's p50 and the total's, in ms: where a request's time goes. */
    private static Map<String, Double> stages(LatencyBench.Summary s) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("sampling", s.sampling().p50());
        m.put("ranking", s.ranking().p50());
        m.put("fusion", s.fusion().p50());
        m.put("total", s.total().p50());
        return m;
    }

    /** A cold request: its stages, and the model loads and context creations the pool did for it. */
    private static Map<String, Object> cold(BlendResult r, ModelPool.Stats pool) {
        Map<String, Object> m = new LinkedHashMap<>();
        BlendResult.Timings t = r.timings();
        m.put("sampling_ms", t.samplingMillis());
        m.put("ranking_ms", t.rankingMillis());
        m.put("fusion_ms", t.fusionMillis());
        m.put("total_ms", t.totalMillis());
        m.putAll(poolJson(pool));
        return m;
    }

    private static Map<String, Object> poolJson(ModelPool.Stats p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("models_loaded", p.modelsLoaded());
        m.put("load_ms", p.loadMillis());
        m.put("contexts_created", p.contextsCreated());
        m.put("context_ms", p.contextMillis());
        return m;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    /** The report as lines of a table: each ratio, its goal, and whether it is met. */
    public static List<String> table(Report report) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "%-24s %10s %10s %14s %14s  %s", "ratio", "value", "goal", "numerator",
                "denominator", "unit"));
        for (Ratio r : report.ratios().values()) {
            lines.add(r.measured()
                    ? String.format(Locale.ROOT, "%-24s %10.4f %10s %14.4f %14.4f  %s%s", r.key(), r.ratio(), r.goal(),
                            r.numerator(), r.denominator(), r.unit(), r.met() ? "" : "  (goal not met)")
                    : String.format(Locale.ROOT, "%-24s %10s %10s  not measured: %s", r.key(), "n/a", r.goal(), r.note()));
        }
        for (String c : List.of("single", "full_blend")) {
            if (report.settings().get(c + "_stages_p50_ms") instanceof Map<?, ?> st) {
                lines.add(String.format(Locale.ROOT, "%-12s p50 ms: sampling %.0f, ranking %.0f, fusion %.0f, total %.0f",
                        c.replace('_', '-'), st.get("sampling"), st.get("ranking"), st.get("fusion"), st.get("total")));
            }
        }
        return lines;
    }
}
