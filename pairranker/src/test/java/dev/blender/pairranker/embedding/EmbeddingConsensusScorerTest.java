package dev.blender.pairranker.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.PairRanker;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Runs the real quantised MiniLM model; one scorer is shared so that the model loads once. */
class EmbeddingConsensusScorerTest {
    private static final String FRANCE = "What is the capital of France?";
    private static final List<String> PARIS = List.of(
            "The capital of France is Paris.",
            "Paris is the capital of France.",
            "It is Paris, the French capital.",
            "Bananas are yellow and rich in potassium.");
    private static final List<String> EIGHT = List.of(
            "The capital of France is Paris.",
            "Paris is the capital of France.",
            "It is Paris, the French capital.",
            "France's capital city is Paris, on the Seine.",
            "I think it is Lyon.",
            "The capital of France has been Paris since the Middle Ages, apart from brief interruptions.",
            "Bananas are yellow and rich in potassium.",
            "Marseille is the largest port in France.");

    private static EmbeddingConsensusScorer scorer;

    @BeforeAll
    static void load() {
        scorer = new EmbeddingConsensusScorer();
        long t0 = System.nanoTime();
        scorer.warmUp();
        long t1 = System.nanoTime();
        scorer.score(FRANCE, PARIS); // the first inference pays ONNX Runtime's one-off set-up
        long t2 = System.nanoTime();
        System.out.printf("[embedding-consensus] model load %.0f ms, first 4-candidate score %.0f ms (%d processors)%n",
                (t1 - t0) / 1e6, (t2 - t1) / 1e6, Runtime.getRuntime().availableProcessors());
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    @Test
    void nearDuplicateMajorityRanksAboveOutlier() {
        double[] s = scorer.score(FRANCE, PARIS);
        System.out.println("[embedding-consensus] scores " + Arrays.toString(s));
        int best = argMax(s);
        assertTrue(best <= 2, "a Paris answer should score highest: " + Arrays.toString(s));
        for (int i = 0; i < 3; i++) {
            assertTrue(s[3] < s[i], "the banana answer should score lowest: " + Arrays.toString(s));
        }
    }

    @Test
    void paraphrasesAreMoreSimilarThanUnrelatedTexts() {
        String a = "The cat sat on the mat.";
        double paraphrase = scorer.similarity(a, "A cat was sitting on the rug.");
        double unrelated = scorer.similarity(a, "Interest rates rose sharply this quarter.");
        System.out.printf("[embedding-consensus] paraphrase %.3f, unrelated %.3f%n", paraphrase, unrelated);
        assertTrue(paraphrase > unrelated + 0.3, paraphrase + " vs " + unrelated);
        assertEquals(1.0, scorer.similarity(a, a), 1e-6);
    }

    @Test
    void scoresAreDeterministicAndDuplicatesTie() {
        List<String> withDuplicate = new ArrayList<>(PARIS);
        withDuplicate.add(PARIS.get(3));
        double[] first = scorer.score(FRANCE, withDuplicate);
        double[] second = scorer.score(FRANCE, withDuplicate);
        assertArrayEquals(first, second, 0.0);
        assertEquals(first[3], first[4], 0.0);
        // the repeated outlier now supports itself, so it gains on the majority
        double[] without = scorer.score(FRANCE, PARIS);
        assertTrue(first[3] - first[0] > without[3] - without[0]);
    }

    @Test
    void singleCandidateHasNoConsensusTerm() {
        String only = PARIS.getFirst();
        assertEquals(0.1 * scorer.similarity(only, FRANCE), scorer.score(FRANCE, List.of(only))[0], 1e-9);
        try (var unweighted = EmbeddingConsensusScorer.builder().instructionWeight(0).build()) {
            assertArrayEquals(new double[] {0.0}, unweighted.score(FRANCE, List.of(only)), 0.0);
        }
    }

    @Test
    void instructionWeightAddsSimilarityToTheInstruction() {
        try (var unweighted = EmbeddingConsensusScorer.builder().instructionWeight(0).build()) {
            double[] base = unweighted.score(FRANCE, PARIS);
            double[] weighted = scorer.score(FRANCE, PARIS);
            for (int i = 0; i < PARIS.size(); i++) {
                assertEquals(base[i] + 0.1 * scorer.similarity(PARIS.get(i), FRANCE), weighted[i], 1e-9);
            }
        }
    }

    @Test
    void pairRankerGivesScoreDifferencesAndIsAntisymmetric() {
        double[] s = scorer.score(FRANCE, PARIS);
        PairRanker ranker = scorer.asPairRanker();
        assertEquals(scorer.id(), ranker.id());
        List<OrderedPair> pairs = List.of(new OrderedPair(0, 3), new OrderedPair(3, 0), new OrderedPair(1, 2),
                new OrderedPair(2, 1));
        double[] logits = ranker.compare(FRANCE, PARIS, pairs);
        assertEquals(s[0] - s[3], logits[0], 0.0);
        assertEquals(s[1] - s[2], logits[2], 0.0);
        assertEquals(-logits[0], logits[1], 0.0);
        assertEquals(-logits[2], logits[3], 0.0);
        assertTrue(logits[0] > 0);
    }

    @Test
    void emptyCandidatesAgreeWithNothing() {
        List<String> withEmpty = new ArrayList<>(PARIS);
        withEmpty.add("");
        withEmpty.add("  \n");
        withEmpty.add("\u200B"); // no word pieces: langchain4j refuses it
        double[] s = scorer.score(FRANCE, withEmpty);
        System.out.println("[embedding-consensus] with empty answers " + Arrays.toString(s));
        assertTrue(Arrays.stream(s).allMatch(Double::isFinite), Arrays.toString(s));
        for (int i = 4; i < 7; i++) {
            assertEquals(0.0, s[i], 0.0, "an empty answer has similarity 0 to every text");
        }
        assertTrue(s[4] < s[0], Arrays.toString(s));
        assertTrue(Double.isFinite(scorer.score("", List.of("", "x"))[0]));
    }

    @Test
    void concurrentCallsGiveTheSequentialResults() throws Exception {
        double[] expected = scorer.score(FRANCE, EIGHT);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<double[]>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                results.add(pool.submit(() -> scorer.score(FRANCE, EIGHT)));
            }
            for (Future<double[]> r : results) {
                assertArrayEquals(expected, r.get(), 0.0);
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void badInputIsRejectedWithClearMessages() {
        var empty = assertThrows(IllegalArgumentException.class, () -> scorer.score(FRANCE, List.of()));
        assertEquals("candidates must not be empty", empty.getMessage());

        List<String> withNull = Arrays.asList("Paris.", null);
        var nullCandidate = assertThrows(NullPointerException.class, () -> scorer.score(FRANCE, withNull));
        assertTrue(nullCandidate.getMessage().contains("candidate 1 is null"), nullCandidate.getMessage());
        assertThrows(NullPointerException.class, () -> scorer.score(null, PARIS));

        for (double bad : new double[] {-0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            var e = assertThrows(IllegalArgumentException.class, () -> new EmbeddingConsensusScorer(bad));
            assertTrue(e.getMessage().startsWith("instructionWeight must be finite and >= 0"), e.getMessage());
        }
        var b = assertThrows(IllegalArgumentException.class,
                () -> EmbeddingConsensusScorer.builder().instructionWeight(-1).build());
        assertTrue(b.getMessage().contains("instructionWeight"), b.getMessage());
        var p = assertThrows(IllegalArgumentException.class,
                () -> EmbeddingConsensusScorer.builder().parallelism(0).build());
        assertTrue(p.getMessage().contains("parallelism"), p.getMessage());
    }

    @Test
    void idNamesModelAndWeight() {
        assertEquals("embedding-consensus(all-minilm-l6-v2-q, instructionWeight=0.1)", scorer.id());
        try (var s = new EmbeddingConsensusScorer(0.25)) {
            assertEquals("embedding-consensus(all-minilm-l6-v2-q, instructionWeight=0.25)", s.id());
        }
    }

    @Test
    void closeIsIdempotentAndLaterCallsFail() {
        var s = new EmbeddingConsensusScorer();
        assertEquals(4, s.score(FRANCE, PARIS).length);
        s.close();
        s.close();
        var e = assertThrows(IllegalStateException.class, () -> s.score(FRANCE, PARIS));
        assertTrue(e.getMessage().endsWith("is closed"), e.getMessage());
        new EmbeddingConsensusScorer().close(); // closing one never loaded is fine too
    }

    /**
     * Eight candidates score the same whether their nine texts are embedded on one thread or on one per
     * processor, and the consensus ranks the agreeing Paris answers above the odd ones out. (The time this
     * takes is {@code EmbeddingConsensusBenchmark} in the jmh module.)
     */
    @Test
    void eightCandidatesScoreTheSameOnOneThreadAndOnMany() {
        double[] one;
        double[] many;
        try (var s = EmbeddingConsensusScorer.builder().parallelism(1).build()) {
            one = s.score(FRANCE, EIGHT);
        }
        try (var s = EmbeddingConsensusScorer.builder().parallelism(Math.max(2,
                Runtime.getRuntime().availableProcessors())).build()) {
            many = s.score(FRANCE, EIGHT);
        }
        assertEquals(EIGHT.size(), one.length);
        for (int i = 0; i < one.length; i++) {
            assertEquals(one[i], many[i], 1e-6, "candidate " + i + ": " + EIGHT.get(i));
        }
        int best = argMax(one);
        assertTrue(EIGHT.get(best).contains("Paris"), "a Paris answer leads: " + EIGHT.get(best));
        int bananas = EIGHT.indexOf("Bananas are yellow and rich in potassium.");
        for (int i = 0; i < one.length; i++) {
            if (EIGHT.get(i).contains("Paris")) {
                assertTrue(one[i] > one[bananas], "a Paris answer outscores the unrelated one: " + EIGHT.get(i));
            }
        }
    }

    private static int argMax(double[] s) {
        int best = 0;
        for (int i = 1; i < s.length; i++) {
            if (s[i] > s[best]) {
                best = i;
            }
        }
        return best;
    }
}
