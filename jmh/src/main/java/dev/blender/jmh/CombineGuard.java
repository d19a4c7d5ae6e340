package dev.blender.jmh;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
        List<String> failures = new ArrayList<>();
        Map<String, Double> scalar = new HashMap<>();
        Map<String, Double> vector = new HashMap<>();
        for (RunResult r : run(CombineBenchmark.class.getSimpleName(), "impl", "vector", "scalar")) {
            String method = r.getParams().getParam("method");
            double score = r.getPrimaryResult().getScore();
            String impl = r.getParams().getParam("impl");
            (impl.equals("vector") ? vector : scalar).put(method, score);
            if (impl.equals("vector")) {
                checkAllocation("combine " + method, r, failures);
            }
        }
        for (RunResult r : run(AdaptiveCombineBenchmark.class.getSimpleName(), "adaptation", "BAYES", "LEARNED")) {
            checkAllocation("adaptive " + r.getParams().getParam("method") + " " + r.getParams().getParam("adaptation"),
                    r, failures);
        }
        System.out.println();
        System.out.printf("%-20s %12s %12s %8s%n", "kernel (K=3, 152k)", "vector us", "scalar us", "speedup");
        for (Map.Entry<String, Double> e : vector.entrySet()) {
            Double s = scalar.get(e.getKey());
            double speedup = s == null ? Double.NaN : s / e.getValue();
            System.out.printf("%-20s %12.1f %12.1f %8.2f%n", e.getKey(), e.getValue(), s, speedup);
            if (!(speedup >= MIN_SPEEDUP)) {
                failures.add(String.format("%s: vector is %.2fx scalar, below %.1fx", e.getKey(), speedup, MIN_SPEEDUP));
            }
        }
        if (!failures.isEmpty()) {
            System.err.println("combine guard failed:");
            failures.forEach(f -> System.err.println("  " + f));
            System.exit(1);
        }
        System.out.println("combine guard passed: no step allocates more than " + (int) MAX_BYTES_PER_STEP
                + " bytes, every vector kernel at least " + MIN_SPEEDUP + "x scalar");
    }

    private static Collection<RunResult> run(String benchmark, String param, String... values) throws RunnerException {
        Options options = new OptionsBuilder()
                .include("\\." + benchmark + "\\.")
                .param("k", "3")
                .param("vocab", VOCAB)
                .param(param, values)
                .param("method", benchmark.equals("CombineBenchmark")
                        ? new String[] {"LINEAR", "LOG_LINEAR", "NEGATIVE_EVIDENCE"} : new String[] {"LINEAR", "LOG_LINEAR"})
                .forks(1)
                // the adaptive step's Vector API loops take longer to reach C2 (see AdaptiveCombineBenchmark)
                .warmupIterations(benchmark.equals("CombineBenchmark") ? 3 : 5)
                .warmupTime(TimeValue.seconds(benchmark.equals("CombineBenchmark") ? 1 : 2))
                .measurementIterations(3).measurementTime(TimeValue.seconds(1))
                .addProfiler(GCProfiler.class)
                .build();
        return new Runner(options).run();
    }

    private static void checkAllocation(String what, RunResult r, List<String> failures) {
        Result<?> alloc = null;
        for (Map.Entry<String, Result> e : r.getSecondaryResults().entrySet()) {
            if (e.getKey().endsWith("gc.alloc.rate.norm")) {
                alloc = e.getValue();
            }
        }
        if (alloc == null) {
            failures.add(what + ": JMH's GC profiler reported no gc.alloc.rate.norm");
        } else if (alloc.getScore() > MAX_BYTES_PER_STEP) {
            failures.add(String.format("%s allocates %.0f bytes per step (at most %.0f)", what, alloc.getScore(),
                    MAX_BYTES_PER_STEP));
        }
    }
}
