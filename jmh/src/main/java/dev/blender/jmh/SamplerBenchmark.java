package dev.blender.jmh;

import dev.blender.nativebridge.generation.Sampler;
import dev.blender.nativebridge.generation.SamplerOptions;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Picking the next token from a combined distribution of V entries. {@code argmax} is the baseline
 * (greedy: one pass); {@code defaults} is llama.cpp's default chain (top-k 40, top-p 0.95, min-p 0.05,
 * temperature 0.8); {@code topPOnly} has no top-k, so it must find the top-p set among all tokens;
 * {@code wholeVocabulary} keeps every token (no top-k, top-p or min-p: the blend's candidate sampler), so
 * its softmax runs over all of them. {@code logSumExp} is the normaliser the generator computes for every
 * sampled token's log-probability, with {@code logSumExpScalar} (plain {@code Math.exp}) its baseline.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class SamplerBenchmark {
    @Param({"32000", "151936"})
    int vocab;

    /** flat: Gaussian logits; peaked: a few tokens far above the rest, as a language model's usually are. */
    @Param({"flat", "peaked"})
    String shape;

    private float[] scores;
    private float[] work;
    private Sampler defaults;
    private Sampler topPOnly;
    private Sampler wholeVocabulary;

    @Setup
    public void setUp() {
        SplittableRandom r = new SplittableRandom(vocab);
        scores = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            scores[i] = (float) (r.nextGaussian() * 3);
        }
        if (shape.equals("peaked")) {
            for (int i = 0; i < 8; i++) {
                scores[r.nextInt(vocab)] += 25 - 2 * i;
            }
        }
        work = new float[vocab];
        defaults = Sampler.of(SamplerOptions.defaults(), 1);
        topPOnly = Sampler.of(SamplerOptions.defaults().withTopK(0).withMinP(0), 1);
        wholeVocabulary = Sampler.of(SamplerOptions.defaults().withTopK(0).withTopP(1).withMinP(0), 1);
    }

    @Benchmark
    public int argmax() {
        return Sampler.argmax(scores, vocab);
    }

    @Benchmark
    public int defaults() {
        System.arraycopy(scores, 0, work, 0, vocab);
        return defaults.sample(work, vocab, null, 0);
    }

    @Benchmark
    public int topPOnly() {
        System.arraycopy(scores, 0, work, 0, vocab);
        return topPOnly.sample(work, vocab, null, 0);
    }

    @Benchmark
    public int wholeVocabulary() {
        System.arraycopy(scores, 0, work, 0, vocab);
        return wholeVocabulary.sample(work, vocab, null, 0);
    }

    @Benchmark
    public double logSumExp() {
        return Sampler.logSumExp(scores, vocab);
    }

    @Benchmark
    public double logSumExpScalar() {
        float max = scores[0];
        for (int i = 1; i < vocab; i++) {
            max = Math.max(max, scores[i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(scores[i] - max);
        }
        return max + Math.log(sum);
    }
}
