package dev.blender.jmh;

import dev.blender.pairranker.Aggregation;
import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.PairRanker;
import dev.blender.pairranker.Ranking;
import dev.blender.pairranker.Rankings;
import java.util.ArrayList;
import java.util.List;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * The cost of turning pairwise scores into a ranking, without any model: the ranker answers from a
 * precomputed matrix, so what is measured is the aggregation's own work. {@code scoreAllPairs} is the
 * baseline: asking the ranker for all N(N-1) ordered pairs and nothing else.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class AggregationBenchmark {
    @Param({"4", "8", "16", "32"})
    int n;

    private List<String> candidates;
    private PairRanker ranker;
    private List<OrderedPair> allPairs;

    @Setup
    public void setUp() {
        SplittableRandom r = new SplittableRandom(n);
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m[i][j] = r.nextGaussian();
            }
        }
        candidates = new ArrayList<>();
        allPairs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            candidates.add("candidate " + i);
            for (int j = 0; j < n; j++) {
                if (i != j) {
                    allPairs.add(new OrderedPair(i, j));
                }
            }
        }
        ranker = new PairRanker() {
            @Override
            public String id() {
                return "matrix";
            }

            @Override
            public double[] compare(String instruction, List<String> c, List<OrderedPair> pairs) {
                double[] out = new double[pairs.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = m[pairs.get(i).first()][pairs.get(i).second()];
                }
                return out;
            }
        };
    }

    @Benchmark
    public double[] scoreAllPairs() {
        return ranker.compare("q", candidates, allPairs);
    }

    @Benchmark
    public Ranking maxLogits() {
        return Rankings.rank(ranker, "q", candidates, Aggregation.MAX_LOGITS);
    }

    @Benchmark
    public Ranking maxWins() {
        return Rankings.rank(ranker, "q", candidates, Aggregation.MAX_WINS);
    }

    @Benchmark
    public Ranking bubbleTop1() {
        return Rankings.rank(ranker, "q", candidates, Aggregation.BUBBLE, 1, 7);
    }

    @Benchmark
    public void bubbleTop3(Blackhole bh) {
        bh.consume(Rankings.rank(ranker, "q", candidates, Aggregation.BUBBLE, 3, 7));
    }
}
