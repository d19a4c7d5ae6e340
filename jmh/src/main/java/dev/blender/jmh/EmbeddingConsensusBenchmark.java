package dev.blender.jmh;

import dev.blender.pairranker.embedding.EmbeddingConsensusScorer;
import java.util.List;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One consensus score of eight candidates and their instruction (nine texts embedded by MiniLM on ONNX
 * Runtime), with one embedding thread and with one per processor ({@code parallelism} 0). The model loads in
 * the set-up, so what is measured is the embedding and the similarities.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class EmbeddingConsensusBenchmark {
    static final String FRANCE = "What is the capital of France?";
    static final List<String> EIGHT = List.of(
            "The capital of France is Paris.",
            "Paris is the capital of France.",
            "It is Paris, the French capital.",
            "France's capital city is Paris, on the Seine.",
            "I think it is Lyon.",
            "The capital of France has been Paris since the Middle Ages, apart from brief interruptions.",
            "Bananas are yellow and rich in potassium.",
            "Marseille is the largest port in France.");

    /** Embedding threads; 0 means one per processor. */
    @Param({"1", "0"})
    int parallelism;

    private EmbeddingConsensusScorer scorer;

    @Setup
    public void load() {
        int threads = parallelism == 0 ? Runtime.getRuntime().availableProcessors() : parallelism;
        scorer = EmbeddingConsensusScorer.builder().parallelism(threads).build();
        scorer.warmUp();
    }

    @TearDown
    public void close() {
        scorer.close();
    }

    @Benchmark
    public double[] eightCandidates() {
        return scorer.score(FRANCE, EIGHT);
    }
}
