package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.Candidate;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Online Bayesian weights with fixed share and the learned gate: the update itself, and what they do to
 * mixing two real models with different vocabularies.
 */
class AdaptiveWeightsTest {

    @Test
    void oneUpdateIsBayesThenTheShare() {
        AdaptiveWeights w = new AdaptiveWeights(CombineOptions.linear(3, 1).adaptive(0.1f));
        // member 0 gave the token probability 0.2, member 1 gave 0.6
        w.observe(new double[] {Math.log(0.2), Math.log(0.6)});
        double post0 = 0.75 * 0.2 / (0.75 * 0.2 + 0.25 * 0.6); // Bayes: 0.5
        assertEquals(0.9 * post0 + 0.1 * 0.75, w.current()[0], 1e-6);
        assertEquals(0.9 * (1 - post0) + 0.1 * 0.25, w.current()[1], 1e-6);
        // a member that gave the token no probability keeps its share of the prior, so it can come back
        w.observe(new double[] {Math.log(0.5), Double.NEGATIVE_INFINITY});
        assertEquals(0.1 * 0.25, w.current()[1], 1e-6);
        w.observe(new double[] {Math.log(0.01), Math.log(0.9)});
        assertTrue(w.current()[1] > 0.2, "it recovers once it predicts better: " + w.current()[1]);
        w.reset();
        assertArrayEquals(new float[] {0.75f, 0.25f}, w.current(), 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.linear(1, 1).adaptive(1f));
        assertThrows(IllegalArgumentException.class,
                () -> CombineOptions.negativeEvidence(2, 1f, 0.1f).adaptive(0.01f));
    }

    @Test
    void mixingLearnsWhichModelKnowsTheText() {
        String[] pieces = {"Once upon a time, there was a little girl named Lily.",
            "She loved to play outside in the park with her friends.",
            "One day, she saw a big red ball under a tree."};
        try (LlamaModel s = LlamaModel.load(TestModels.stories()); LlamaModel d = LlamaModel.load(TestModels.aidreams());
             LlamaContext cs = s.newContext(MixedGeneratorTest.ctx(256));
             LlamaContext cd = d.newContext(MixedGeneratorTest.ctx(256))) {
            TextScorer equal = new TextScorer(List.of(cs, cd), CombineOptions.linear(1, 1),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            TextScorer adaptive = new TextScorer(List.of(cs, cd), CombineOptions.linear(1, 1).adaptive(0.01f),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            TextScorer.Score fixed = TextScorer.Score.ZERO;
            TextScorer.Score learnt = TextScorer.Score.ZERO;
            TextScorer.Score alone = TextScorer.Score.ZERO;
            for (String p : pieces) {
                fixed = fixed.plus(equal.score(p));
                learnt = learnt.plus(adaptive.score(p));
                alone = alone.plus(TextScorer.single(cs, p));
            }
            assertTrue(adaptive.weights()[0] > 0.95, "stories260K knows TinyStories: " + adaptive.weights()[0]);
            assertTrue(learnt.bitsPerByte() < fixed.bitsPerByte() - 0.1, learnt + " vs equal weights " + fixed);
            assertTrue(learnt.bitsPerByte() < alone.bitsPerByte() + 0.05, learnt + " vs stories260K alone " + alone);
            adaptive.resetWeights();
            assertEquals(0.5f, adaptive.weights()[0], 1e-6f);

            // generating, the prompt is the first evidence: aidreams260K finds "Once upon a time" unlikely,
            // so the mix follows stories260K, unlike with equal weights
            MixRequest q = MixRequest.of("Once upon a time").withMaxTokens(24);
            Candidate storiesAlone = new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 0),
                    VocabAlignment.Policy.ALIGN_BY_TEXT).generate(q);
            Candidate learnt2 = new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 1).adaptive(0.01f),
                    VocabAlignment.Policy.ALIGN_BY_TEXT).generate(q);
            Candidate equal2 = new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 1),
                    VocabAlignment.Policy.ALIGN_BY_TEXT).generate(q);
            System.out.println("stories alone: " + storiesAlone.text() + "\nadaptive: " + learnt2.text()
                    + "\nequal: " + equal2.text());
            assertEquals(storiesAlone.text(), learnt2.text());
            assertTrue(!equal2.text().equals(storiesAlone.text()), "equal weights do not: " + equal2.text());
        }
    }

    /** A few hundred tokens of TinyStories, in the pieces `blender perplexity` scores. */
    static List<String> tinyStories(int pieces) throws java.io.IOException {
        String all = java.nio.file.Files.readString(TestModels.sharedFile("data/tinystories/tinystories_val_dev.txt"));
        List<String> out = new java.util.ArrayList<>();
        for (String para : all.split("\\n\\s*\\n")) {
            for (String sentence : para.strip().split("(?<=[.!?])\\s+")) {
                if (out.size() < pieces && !sentence.isBlank() && sentence.length() < 150) {
                    out.add(sentence);
                }
            }
        }
        return out;
    }

    @Test
    void aProductSpeaksTheFirstMembersVocabulary() throws Exception {
        // stories260K alone through a product with aidreams260K (weight 0) must score as stories260K alone:
        // a proxy in its row for the 26 tokens only aidreams260K has (" the" for " t" ...) would copy
        // probability it gives its own tokens (1.54 against 1.11 bits per byte over 100 KB)
        try (LlamaModel s = LlamaModel.load(TestModels.stories()); LlamaModel d = LlamaModel.load(TestModels.aidreams());
             LlamaContext cs = s.newContext(MixedGeneratorTest.ctx(256));
             LlamaContext cd = d.newContext(MixedGeneratorTest.ctx(256))) {
            TextScorer firstOnly = new TextScorer(List.of(cs, cd), CombineOptions.logLinear(1, 0),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            TextScorer secondOnly = new TextScorer(List.of(cs, cd), CombineOptions.logLinear(0, 1),
                    VocabAlignment.Policy.ALIGN_BY_TEXT);
            for (String p : tinyStories(6)) {
                TextScorer.Score alone = TextScorer.single(cs, p);
                TextScorer.Score product = firstOnly.score(p);
                assertEquals(alone.nats(), product.nats(), 1e-3 * alone.nats(), p);
                // the first member at weight 0 has no say, not a veto of NaN (0 times its -infinity)
                double other = secondOnly.score(p).nats();
                assertTrue(Double.isFinite(other) && other > alone.nats(), p + ": " + other);
            }
        }
    }

    @Test
    void aLearnedGateMixesTwoRealModelsBetterThanEqualOrBayesianWeights() throws Exception {
        List<String> text = tinyStories(200);
        try (LlamaModel s = LlamaModel.load(TestModels.stories()); LlamaModel d = LlamaModel.load(TestModels.aidreams());
             LlamaContext cs = s.newContext(MixedGeneratorTest.ctx(256));
             LlamaContext cd = d.newContext(MixedGeneratorTest.ctx(256))) {
            for (CombineOptions equal : List.of(CombineOptions.linear(1, 1), CombineOptions.logLinear(1, 1))) {
                TextScorer fixed = new TextScorer(List.of(cs, cd), equal, VocabAlignment.Policy.ALIGN_BY_TEXT);
                TextScorer bayes = new TextScorer(List.of(cs, cd), equal.adaptive(0.01f), VocabAlignment.Policy.ALIGN_BY_TEXT);
                TextScorer learned = new TextScorer(List.of(cs, cd), equal.learned(0.1f), VocabAlignment.Policy.ALIGN_BY_TEXT);
                TextScorer.Score f = TextScorer.Score.ZERO;
                TextScorer.Score b = TextScorer.Score.ZERO;
                TextScorer.Score l = TextScorer.Score.ZERO;
                for (String p : text) {
                    f = f.plus(fixed.score(p));
                    b = b.plus(bayes.score(p));
                    l = l.plus(learned.score(p));
                }
                String all = equal + ": learned " + l.bitsPerByte() + ", bayes " + b.bitsPerByte() + ", equal "
                        + f.bitsPerByte();
                System.out.println(all);
                assertTrue(l.bitsPerByte() < f.bitsPerByte() - 0.1, all);
                assertTrue(l.bitsPerByte() < b.bitsPerByte(), all);
                assertTrue(learned.weights()[0] > 0.8, "stories260K knows TinyStories: "
                        + java.util.Arrays.toString(learned.weights()));
                learned.resetWeights();
                assertArrayEquals(new float[] {0.5f, 0.5f}, learned.weights(), 1e-6f);
            }

            // generating, the prompt moves the gate's prior as it moves Bayesian weights: after "Once upon a
            // time" the mix follows stories260K, which equal weights do not
            MixRequest q = MixRequest.of("Once upon a time").withMaxTokens(24);
            Candidate storiesAlone = new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 0),
                    VocabAlignment.Policy.ALIGN_BY_TEXT).generate(q);
            Candidate gated = new MixedGenerator(List.of(cs, cd), CombineOptions.linear(1, 1).learned(0.1f),
                    VocabAlignment.Policy.ALIGN_BY_TEXT).generate(q);
            assertEquals(storiesAlone.text(), gated.text());
        }
    }
}
