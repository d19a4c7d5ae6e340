package dev.blender.jmh;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
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
        List<String> failures = new ArrayList<>();
        Map<String, Double> speedups = new TreeMap<>();
        String[] methods = {"LINEAR", "LOG_LINEAR", "NEGATIVE_EVIDENCE"};
        measureCombine(methods, speedups, failures);
        List<String> slow = new ArrayList<>();
        speedups.forEach((m, x) -> {
            if (!(x >= MIN_SPEEDUP)) {
                slow.add(m);
            }
        });
        if (!slow.isEmpty()) {
            // one more measurement of what fell short: a busy neighbour slows one fork, not the kernel
            Map<String, Double> again = new TreeMap<>();
            measureCombine(slow.toArray(String[]::new), again, new ArrayList<>());
            again.forEach((m, x) -> speedups.merge(m, x, Math::max));
        }
        for (RunResult r : run(AdaptiveCombineBenchmark.class.getSimpleName(), new String[] {"LINEAR", "LOG_LINEAR"},
                "adaptation", "BAYES", "LEARNED")) {
            checkAllocation("adaptive " + r.getParams().getParam("method") + " " + r.getParams().getParam("adaptation"),
                    r, failures);
        }
        System.out.println();
        System.out.printf("%-20s %8s%n", "kernel (K=3, 152k)", "vector over scalar");
        speedups.forEach((m, x) -> {
            System.out.printf("%-20s %8.2f%n", m, x);
            if (!(x >= MIN_SPEEDUP)) {
                failures.add(String.format("%s: vector is %.2fx scalar, below %.1fx", m, x, MIN_SPEEDUP));
            }
        });
        if (!failures.isEmpty()) {
            System.err.println("combine guard failed:");
            failures.forEach(f -> System.err.println("  " + f));
            System.exit(1);
        }
        System.out.println("combine guard passed: no step allocates more than " + (int) MAX_BYTES_PER_STEP
                + " bytes, every vector kernel at least " + MIN_SPEEDUP + "x scalar");
    }

    /** Vector and scalar kernels of these methods in one run: their time ratio, and the vector's allocation. */
    private static void measureCombine(String[] methods, Map<String, Double> speedups, List<String> failures)
            throws RunnerException {
        Map<String, Double> scalar = new HashMap<>();
        Map<String, Double> vector = new HashMap<>();
        for (RunResult r : run(CombineBenchmark.class.getSimpleName(), methods, "impl", "vector", "scalar")) {
            String method = r.getParams().getParam("method");
            boolean vectorised = r.getParams().getParam("impl").equals("vector");
            (vectorised ? vector : scalar).put(method, r.getPrimaryResult().getScore());
            if (vectorised) {
                checkAllocation("combine " + method, r, failures);
            }
        }
        vector.forEach((m, v) -> speedups.put(m, scalar.containsKey(m) ? scalar.get(m) / v : Double.NaN));
    }

    private static Collection<RunResult> run(String benchmark, String[] methods, String param, String... values)
            throws RunnerException {
        Options options = new OptionsBuilder()
                .include("\\." + benchmark + "\\.")
                .param("k", "3")
                .param("vocab", VOCAB)
                .param(param, values)
                .param("method", methods)
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
