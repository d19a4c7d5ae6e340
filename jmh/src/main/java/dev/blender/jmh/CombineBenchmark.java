package dev.blender.jmh;

import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.Combiner;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The per-token hot path: mixing K next-token distributions of V entries into one normalised
 * log-probability row, reading the logits from native memory as llama.cpp leaves them. {@code scalar}
 * is the plain-Java reference (the baseline, run in the same fork); {@code vector} is the Vector API
 * path the runtime uses, which splits a row of 64k tokens or more over the cores; the rows live in a shared
 * arena, as llama.cpp's logits do. Average time per combined token.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CombineBenchmark {
    @Param({"2", "3", "4"})
    int k;

    @Param({"512", "32000", "151936"})
    int vocab;

    @Param({"LINEAR", "LOG_LINEAR", "NEGATIVE_EVIDENCE"})
    CombineMethod method;

    @Param({"vector", "scalar"})
    String impl;

    private Arena arena;
    private MemorySegment[] logits;
    private float[] out;
    private Combiner combiner;

    @Setup(Level.Trial)
    public void setUp() {
        // negative evidence takes 2 or 3 members; at K=4 it runs with 3 (the extra row is unused)
        int members = method == CombineMethod.NEGATIVE_EVIDENCE ? Math.min(k, 3) : k;
        CombineOptions options = method == CombineMethod.NEGATIVE_EVIDENCE
                ? CombineOptions.negativeEvidence(members, 0.5f, 0.1f) : CombineOptions.equal(method, members);
        combiner = "vector".equals(impl) ? Combiner.vectorized(options) : Combiner.scalar(options);
        arena = Arena.ofShared();
        logits = RandomLogits.rows(arena, members, vocab, k * 31L + vocab);
        out = new float[vocab];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void combine(Blackhole bh) {
        combiner.combine(logits, vocab, out);
        bh.consume(out);
    }
}
