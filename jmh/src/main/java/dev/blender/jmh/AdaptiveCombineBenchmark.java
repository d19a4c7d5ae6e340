package dev.blender.jmh;

import dev.blender.runtime.combine.AdaptiveCombiner;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
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
 * One step of per-token mixing with weights that learn: the step's weights, the mix, and learning from
 * the token that came ({@link AdaptiveCombiner}). {@code FIXED} is the baseline in the same fork: the
 * plain combination, which the adaptations add to (Bayesian weights: each member's log-probability of
 * the token; the learned gate: each member's max, normaliser and entropy, and for log-linear mixing
 * the expectation of each member's logits under the mix). One core, average time per token. Warm-up is
 * longer than {@code CombineBenchmark}'s: until C2 compiles the Vector API loops an interpreted step at
 * 152k tokens takes seconds.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AdaptiveCombineBenchmark {
    @Param({"2", "3"})
    int k;

    @Param({"512", "32000", "151936"})
    int vocab;

    @Param({"LINEAR", "LOG_LINEAR"})
    CombineMethod method;

    @Param({"FIXED", "BAYES", "LEARNED"})
    CombineOptions.Adaptation adaptation;

    private Arena arena;
    private MemorySegment[] logits;
    private float[] out;
    private AdaptiveCombiner mixer;
    private int position;

    @Setup(Level.Trial)
    public void setUp() {
        mixer = new AdaptiveCombiner(CombineOptions.equal(method, k).adapting(adaptation));
        arena = Arena.ofShared();
        logits = RandomLogits.rows(arena, k, vocab, k * 31L + vocab);
        out = new float[vocab];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void step(Blackhole bh) {
        position++;
        mixer.combine(logits, vocab, position, out);
        mixer.observe(logits, vocab, out, position % vocab);
        bh.consume(out);
    }
}
