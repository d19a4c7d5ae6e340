package dev.blender.pairranker.reranker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.PoolingType;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.pairranker.OrderedPair;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RerankerScorerTest {
    private static Path dir;
    private static Path reranker;

    private static final String QUERY = "what is the capital of france?";
    private static final List<String> CANDIDATES = List.of("paris is the capital of france.",
            "berlin is the capital of germany.", "the cat sat on the mat.", "two plus two is four.",
            "the sky is blue.", "red dogs", "", "why?");

    @BeforeAll
    static void writeModel() throws IOException {
        dir = Files.createTempDirectory("reranker-test");
        reranker = dir.resolve("tiny-bert-reranker.gguf");
        new TinyBertReranker(7).writeTo(reranker);
    }

    @AfterAll
    static void removeModels() throws IOException {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }

    private static ContextOptions rank(int sequences) {
        return ContextOptions.defaults().withContextSize(512).withBatchSize(512).withMaxSequences(sequences)
                .withThreads(1).withEmbeddings(true, PoolingType.RANK);
    }

    @Test
    void aLlamaModelIsRefusedInJavaBeforeAnyRankPooling() {
        Path tiny = TestModels.tiny();
        IllegalArgumentException onFile = assertThrows(IllegalArgumentException.class,
                () -> RerankerScorer.checkSupported(GgufFile.read(tiny)));
        try (LlamaModel m = LlamaModel.load(tiny)) {
            IllegalArgumentException onModel = assertThrows(IllegalArgumentException.class,
                    () -> RerankerScorer.checkSupported(m));
            for (IllegalArgumentException e : List.of(onFile, onModel)) {
                assertTrue(e.getMessage().contains(tiny.getFileName().toString()), e.getMessage());
                assertTrue(e.getMessage().contains("b4916 cannot do rank pooling for architecture llama: "
                        + "no classification head cls.output.weight"), e.getMessage());
            }
            // a logits context is safe to create for a llama; the scorer must refuse it on the model
            try (LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> new RerankerScorer(ctx));
                assertTrue(e.getMessage().contains("architecture llama"), e.getMessage());
            }
        }
    }

    @Test
    void aBertWithoutTheClassifierOutputIsRefusedFromItsHeader() throws IOException {
        Path headless = dir.resolve("tiny-bert-headless.gguf");
        new TinyBertReranker(7, 32, 2, 2, 64, 128, false, true).writeTo(headless);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RerankerScorer.checkSupported(GgufFile.read(headless)));
        assertTrue(e.getMessage().contains("tiny-bert-headless.gguf: b4916 cannot do rank pooling for architecture "
                + "bert: no classification head cls.output.weight, cls.output.bias"), e.getMessage());
    }

    @Test
    void aVocabularyWithoutEosIsRefusedWithTheMissingToken() throws IOException {
        Path noEos = dir.resolve("tiny-bert-no-eos.gguf");
        new TinyBertReranker(7, 32, 2, 2, 64, 128, true, false).writeTo(noEos);
        RerankerScorer.checkSupported(GgufFile.read(noEos));
        try (LlamaModel m = LlamaModel.load(noEos)) {
            assertEquals(-1, m.vocab().eos());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RerankerScorer.checkSupported(m));
            assertTrue(e.getMessage().contains("no EOS token (id -1)"), e.getMessage());
        }
    }

    @Test
    void aContextWithoutRankPoolingIsRefusedWithHowToCreateOne() {
        try (LlamaModel m = LlamaModel.load(reranker)) {
            RerankerScorer.checkSupported(m);
            for (ContextOptions o : List.of(ContextOptions.defaults().withContextSize(128).withThreads(1),
                    ContextOptions.defaults().withContextSize(128).withThreads(1).withEmbeddings(true, PoolingType.CLS))) {
                try (LlamaContext ctx = m.newContext(o)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> new RerankerScorer(ctx));
                    assertTrue(e.getMessage().contains("withEmbeddings(true, PoolingType.RANK)"), e.getMessage());
                }
            }
        }
    }

    @Test
    void candidatesAreLaidOutAsTheB4916ServerDoes() {
        try (LlamaModel m = LlamaModel.load(reranker); LlamaContext ctx = m.newContext(rank(1))) {
            RerankerScorer scorer = new RerankerScorer(ctx);
            assertEquals("reranker(tiny-bert-reranker.gguf)", scorer.id());
            int[] t = scorer.tokens("the cat", "a dog [SEP]");
            int[] q = m.vocab().tokenize("the cat", false, false);
            int[] d = m.vocab().tokenize("a dog [SEP]", false, false);
            assertEquals(2, q.length);
            assertTrue(Arrays.stream(q).noneMatch(x -> x == TinyBertReranker.UNK), Arrays.toString(q));
            int[] expected = new int[q.length + d.length + 4];
            expected[0] = TinyBertReranker.CLS;
            System.arraycopy(q, 0, expected, 1, q.length);
            expected[q.length + 1] = TinyBertReranker.SEP;
            expected[q.length + 2] = TinyBertReranker.SEP;
            System.arraycopy(d, 0, expected, q.length + 3, d.length);
            expected[expected.length - 1] = TinyBertReranker.SEP;
            assertArrayEquals(expected, t);
            // "[SEP]" typed in a candidate stays text, not a separator the candidate could inject
            assertTrue(Arrays.stream(d).noneMatch(x -> x == TinyBertReranker.SEP), Arrays.toString(d));
        }
    }

    @Test
    void scoresAreFiniteDeterministicDistinctAndTheSameBatchedOrOneAtATime() {
        try (LlamaModel m = LlamaModel.load(reranker);
                LlamaContext wide = m.newContext(rank(16));
                LlamaContext three = m.newContext(rank(3));
                LlamaContext narrow = m.newContext(rank(1));
                LlamaContext smallBatch = m.newContext(ContextOptions.defaults().withContextSize(32)
                        .withBatchSize(32).withMaxSequences(16).withThreads(1).withEmbeddings(true, PoolingType.RANK))) {
            RerankerScorer batched = new RerankerScorer(wide);
            double[] s = batched.score(QUERY, CANDIDATES);
            assertEquals(CANDIDATES.size(), s.length);
            for (double x : s) {
                assertTrue(Double.isFinite(x), Arrays.toString(s));
            }
            assertArrayEquals(s, batched.score(QUERY, CANDIDATES), 0.0, "the same call twice");
            assertEquals(CANDIDATES.size(), Arrays.stream(s).map(x -> Math.round(x * 1e4)).distinct().count(),
                    "different candidates score differently: " + Arrays.toString(s));
            assertNotEquals(s[0], batched.score("why is the sky blue?", CANDIDATES)[0], 1e-4,
                    "the query is part of the input");

            double[] single = new double[CANDIDATES.size()];
            RerankerScorer one = new RerankerScorer(narrow);
            for (int i = 0; i < single.length; i++) {
                single[i] = one.score(QUERY, List.of(CANDIDATES.get(i)))[0];
            }
            assertArrayEquals(single, s, 1e-4, "one decode for all vs one decode each");
            // rounds bounded by maxSequences, then by tokens (32 a micro-batch here: 2-3 candidates a decode;
            // llama.cpp raises n_batch to 64 but keeps n_ubatch at 32)
            assertArrayEquals(single, new RerankerScorer(three).score(QUERY, CANDIDATES), 1e-4);
            assertArrayEquals(single, new RerankerScorer(smallBatch).score(QUERY, CANDIDATES), 1e-4);

            double[] pair = batched.asPairRanker().compare(QUERY, CANDIDATES,
                    List.of(new OrderedPair(0, 1), new OrderedPair(1, 0)));
            assertEquals(s[0] - s[1], pair[0], 1e-9);
            assertEquals(-pair[0], pair[1], 1e-9);
            assertEquals(0, batched.score(QUERY, List.of()).length);
        }
    }

    @Test
    void aCandidateLongerThanOneDecodeIsRefusedWithTheLimits() {
        try (LlamaModel m = LlamaModel.load(reranker); LlamaContext ctx = m.newContext(ContextOptions.defaults()
                .withContextSize(32).withBatchSize(32).withMaxSequences(2).withThreads(1)
                .withEmbeddings(true, PoolingType.RANK))) {
            RerankerScorer scorer = new RerankerScorer(ctx);
            String longText = "the cat sat on the mat . ".repeat(8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> scorer.score(QUERY, List.of("paris", longText)));
            assertTrue(e.getMessage().startsWith("candidate 1 "), e.getMessage());
            assertTrue(e.getMessage().contains("more than the 32 one sequence may have"), e.getMessage());
            // the context is still usable afterwards
            assertEquals(1, scorer.score(QUERY, List.of("paris")).length);
        }
    }
}
