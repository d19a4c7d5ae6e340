package dev.blender.jmh;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The JMH guard CI runs: the combine kernels at K = 3 over 152k tokens, one short fork each, failing (exit 1)
 * when a step allocates more than {@link #MAX_BYTES_PER_STEP} bytes (JMH's GC profiler, {@code
 * gc.alloc.rate.norm}) or when a vectorised kernel is less than {@link #MIN_SPEEDUP} times the scalar one
 * measured in the same run. Ratios and allocation only: absolute times on a shared CI machine say nothing.
 *
 * <p>{@code java -cp jmh/target/benchmarks.jar dev.blender.jmh.CombineGuard}
 */
public final class CombineGuard {
    /** Bytes a combine step may allocate: JMH's own bookkeeping shows as a few bytes per operation. */
    static final double MAX_BYTES_PER_STEP = 64;
    static final double MIN_SPEEDUP = 3.0;
    private static final String VOCAB = "151936";

    private CombineGuard() {}

    public static void main(String[] args) throws RunnerException {
        String[] methods = {"LINEAR", "LOG_LINEAR", "NEGATIVE_EVIDENCE"};
        Map<String, Double> speedups = new TreeMap<>();
        Map<String, String> failures = new TreeMap<>();
        measureCombine(methods, false, speedups, failures);
        String[] adaptive = {"LINEAR", "LOG_LINEAR"};
        measureAdaptive(adaptive, false, failures);
        if (!failures.isEmpty()) {
            // once more with a long warm-up, only what fell short: on a busy machine C2 compiles late, and until it
            // does the Vector API's loops run as allocating, slow code; a kernel that really allocates fails again
            Map<String, String> again = new TreeMap<>();
            String[] combine = failing(failures, "combine ", methods);
            if (combine.length > 0) {
                measureCombine(combine, true, speedups, again);
            }
            String[] adapt = failing(failures, "adaptive ", adaptive);
            if (adapt.length > 0) {
                measureAdaptive(adapt, true, again);
            }
            failures = again;
        }
        System.out.println();
        System.out.printf("%-20s %8s%n", "kernel (K=3, 152k)", "vector over scalar");
        speedups.forEach((m, x) -> System.out.printf("%-20s %8.2f%n", m, x));
        if (!failures.isEmpty()) {
            System.err.println("combine guard failed:");
            failures.values().forEach(f -> System.err.println("  " + f));
            System.exit(1);
        }
        System.out.println("combine guard passed: no step allocates more than " + (int) MAX_BYTES_PER_STEP
                + " bytes, every vector kernel at least " + MIN_SPEEDUP + "x scalar");
    }

    /** The methods with a failure recorded under {@code prefix + method}. */
    private static String[] failing(Map<String, String> failures, String prefix, String[] methods) {
        return java.util.Arrays.stream(methods)
                .filter(m -> failures.keySet().stream().anyMatch(k -> k.startsWith(prefix + m + " ")))
                .toArray(String[]::new);
    }

    /** Vector and scalar kernels of these methods in one run: their time ratio, and the vector's allocation. */
    private static void measureCombine(String[] methods, boolean longWarmup, Map<String, Double> speedups,
            Map<String, String> failures) throws RunnerException {
        Map<String, Double> scalar = new HashMap<>();
        Map<String, Double> vector = new HashMap<>();
        for (RunResult r : run(CombineBenchmark.class.getSimpleName(), methods, longWarmup, "impl", "vector", "scalar")) {
            String method = r.getParams().getParam("method");
            boolean vectorised = r.getParams().getParam("impl").equals("vector");
            (vectorised ? vector : scalar).put(method, r.getPrimaryResult().getScore());
            if (vectorised) {
                checkAllocation("combine " + method, r, failures);
            }
        }
        vector.forEach((m, v) -> {
            double x = scalar.containsKey(m) ? scalar.get(m) / v : Double.NaN;
            speedups.put(m, x);
            if (!(x >= MIN_SPEEDUP)) {
                failures.put("combine " + m + " speed", String.format("%s: vector is %.2fx scalar, below %.1fx", m, x,
                        MIN_SPEEDUP));
            }
        });
    }

    private static void measureAdaptive(String[] methods, boolean longWarmup, Map<String, String> failures)
            throws RunnerException {
        for (RunResult r : run(AdaptiveCombineBenchmark.class.getSimpleName(), methods, longWarmup, "adaptation",
                "BAYES", "LEARNED")) {
            checkAllocation("adaptive " + r.getParams().getParam("method") + " " + r.getParams().getParam("adaptation"),
                    r, failures);
        }
    }

    private static Collection<RunResult> run(String benchmark, String[] methods, boolean longWarmup, String param,
            String... values) throws RunnerException {
        // the adaptive step's Vector API loops take longer to reach C2 (see AdaptiveCombineBenchmark)
        int warmups = benchmark.equals("CombineBenchmark") ? 3 : 5;
        int warmupSeconds = benchmark.equals("CombineBenchmark") ? 1 : 2;
        Options options = new OptionsBuilder()
                .include("\\." + benchmark + "\\.")
                .param("k", "3")
                .param("vocab", VOCAB)
                .param(param, values)
                .param("method", methods)
                .forks(1)
                .warmupIterations(longWarmup ? 4 * warmups : warmups)
                .warmupTime(TimeValue.seconds(warmupSeconds))
                .measurementIterations(3).measurementTime(TimeValue.seconds(1))
                .addProfiler(GCProfiler.class)
                .build();
        return new Runner(options).run();
    }

    private static void checkAllocation(String what, RunResult r, Map<String, String> failures) {
        Result<?> alloc = null;
        for (Map.Entry<String, Result> e : r.getSecondaryResults().entrySet()) {
            if (e.getKey().endsWith("gc.alloc.rate.norm")) {
                alloc = e.getValue();
            }
        }
        if (alloc == null) {
            failures.put(what + " alloc", what + ": JMH's GC profiler reported no gc.alloc.rate.norm");
        } else if (alloc.getScore() > MAX_BYTES_PER_STEP) {
            failures.put(what + " alloc", String.format("%s allocates %.0f bytes per step (at most %.0f)", what, alloc.getScore(),
                    MAX_BYTES_PER_STEP));
        }
    }
}
