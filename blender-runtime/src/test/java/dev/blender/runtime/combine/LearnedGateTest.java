package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The learned gate on synthetic streams, where what it should learn is known. */
class LearnedGateTest {
    private static final int N = 16;

    /**
     * A stream where, token by token at random, one member knows the next token (80% on it, the rest
     * spread) and the other guesses (random logits, nothing to do with the token): whichever knows is the
     * one whose distribution is peaked. Fixed weights cannot follow a switch at every token, and Bayesian
     * weights, which learn from the past tokens only, cannot either; a gate reading each member's
     * entropy at the step can.
     */
    private static double meanLoss(CombineOptions options, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        AdaptiveCombiner mixer = new AdaptiveCombiner(options);
        float[][] rows = new float[2][N];
        MemorySegment[] view = {MemorySegment.ofArray(rows[0]), MemorySegment.ofArray(rows[1])};
        float[] out = new float[N];
        int steps = 4000;
        double nats = 0;
        for (int t = 0; t < steps; t++) {
            int knows = r.nextInt(2);
            int top = r.nextInt(N);
            // p(top) = 0.8, every other token 0.2 / 15
            Arrays.fill(rows[knows], (float) Math.log(0.2 / (N - 1)));
            rows[knows][top] = (float) Math.log(0.8);
            for (int i = 0; i < N; i++) {
                rows[1 - knows][i] = (float) (r.nextGaussian() * 1.5);
            }
            int token = r.nextDouble() < 0.8 ? top : (top + 1 + r.nextInt(N - 1)) % N;
            mixer.combine(view, N, 1 + t % 40, out);
            nats -= out[token];
            mixer.observe(view, N, out, token);
        }
        return nats / steps;
    }

    @Test
    void aGateReadingTheStepBeatsEachMemberFixedAndBayesianWeights() {
        for (CombineMethod method : new CombineMethod[] {CombineMethod.LINEAR, CombineMethod.LOG_LINEAR}) {
            CombineOptions equal = CombineOptions.equal(method, 2);
            double learned = meanLoss(equal.learned(CombineOptions.DEFAULT_LEARNING_RATE), 7);
            double fixed = meanLoss(equal, 7);
            double bayes = meanLoss(equal.adaptive(CombineOptions.DEFAULT_SWITCH_RATE), 7);
            double first = meanLoss(equal.withWeights(1, 0), 7);
            double second = meanLoss(equal.withWeights(0, 1), 7);
            String all = method + ": learned " + learned + ", equal " + fixed + ", bayes " + bayes + ", first " + first
                    + ", second " + second;
            // the member that knows gives the token 0.8 (0.22 nats) 80% of the time: about 0.90 nats a token
            assertTrue(learned < fixed - 0.2 && learned < bayes - 0.2, all);
            assertTrue(learned < first - 0.5 && learned < second - 0.5, all);
            assertTrue(learned < 1.2, all);
        }
    }

    @Test
    void withoutEvidenceTheGateIsItsPrior() {
        CombineOptions o = CombineOptions.linear(3, 1).learned(0.1f);
        LearnedGate gate = new LearnedGate(o);
        float[][] rows = {{0, 1, 2, 3}, {5, 0, 0, 0}};
        MemorySegment[] view = {MemorySegment.ofArray(rows[0]), MemorySegment.ofArray(rows[1])};
        assertArrayEquals(new float[] {0.75f, 0.25f}, gate.weigh(view, 4, 1), 1e-6f);
        assertArrayEquals(new float[] {0.75f, 0.25f}, gate.weigh(view, 4, 30), 1e-6f);

        // at learning rate 0 it never moves, whatever it sees
        LearnedGate frozen = new LearnedGate(CombineOptions.logLinear(3, 1).learned(0));
        float[] out = new float[4];
        Combiner c = Combiner.vectorized(CombineOptions.logLinear(3, 1));
        for (int t = 0; t < 100; t++) {
            c.reweight(frozen.weigh(view, 4, t + 1));
            c.combine(view, 4, out);
            frozen.observe(view, 4, out, t % 4);
        }
        assertArrayEquals(new float[] {0.75f, 0.25f}, frozen.weigh(view, 4, 7), 1e-6f);

        // learning moves it; reset brings the prior back
        for (int t = 0; t < 50; t++) {
            gate.weigh(view, 4, 5);
            gate.observe(view, 4, out, 0); // member 1 is sure of token 0, member 0 finds it unlikely
        }
        assertTrue(gate.weigh(view, 4, 5)[1] > 0.5, Arrays.toString(gate.current()));
        gate.reset();
        assertArrayEquals(new float[] {0.75f, 0.25f}, gate.weigh(view, 4, 5), 1e-6f);
    }

    @Test
    void aPromptMovesTheGateAsOneBayesianStepWould() {
        CombineOptions o = CombineOptions.linear(1, 1).learned(0.1f);
        LearnedGate gate = new LearnedGate(o);
        AdaptiveWeights bayes = new AdaptiveWeights(o.weights(), CombineOptions.DEFAULT_SWITCH_RATE);
        double[] prompt = {-12.0, -30.0};
        gate.observePrompt(prompt);
        bayes.observe(prompt);
        float[][] rows = {{0, 0}, {0, 0}};
        float[] w = gate.weigh(new MemorySegment[] {MemorySegment.ofArray(rows[0]), MemorySegment.ofArray(rows[1])}, 2, 9);
        assertArrayEquals(bayes.current(), w, 1e-6f);
        assertTrue(w[0] > 0.99, Arrays.toString(w));
    }

    @Test
    void weightsStayFiniteAndNormalisedUnderExtremeInputs() {
        for (CombineMethod method : new CombineMethod[] {CombineMethod.LINEAR, CombineMethod.LOG_LINEAR}) {
            LearnedGate gate = new LearnedGate(CombineOptions.equal(method, 3).learned(1000f));
            SplittableRandom r = new SplittableRandom(3);
            float[][] rows = new float[3][N];
            MemorySegment[] view = new MemorySegment[3];
            for (int m = 0; m < 3; m++) {
                view[m] = MemorySegment.ofArray(rows[m]);
            }
            float[] mixed = new float[N];
            for (int t = 0; t < 3000; t++) {
                for (int m = 0; m < 3; m++) {
                    for (int i = 0; i < N; i++) {
                        double u = r.nextDouble();
                        // ruled-out tokens, huge logits of both signs, ordinary ones
                        rows[m][i] = u < 0.3 ? Float.NEGATIVE_INFINITY : u < 0.4 ? 1e30f : u < 0.5 ? -1e30f
                                : (float) (r.nextGaussian() * 50);
                    }
                }
                if (t % 7 == 0) {
                    Arrays.fill(rows[t % 3], Float.NEGATIVE_INFINITY); // a member with nothing to say
                }
                float[] w = gate.weigh(view, N, t == 0 ? 0 : 1 + r.nextInt(100000));
                double sum = 0;
                for (float x : w) {
                    assertTrue(x > 0 && Float.isFinite(x), method + " step " + t + ": " + Arrays.toString(w));
                    sum += x;
                }
                assertEquals(1.0, sum, 1e-5, method + " step " + t + ": " + Arrays.toString(w));
                // a combined distribution with some tokens ruled out, and a token any member may rule out
                for (int i = 0; i < N; i++) {
                    mixed[i] = i % 3 == 0 ? Float.NEGATIVE_INFINITY : (float) Math.log(1.0 / (N - 6));
                }
                gate.observe(view, N, mixed, r.nextInt(N));
            }
        }
    }

    @Test
    void aLearningRateMustBeFiniteAndAtLeastZero() {
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.linear(1, 1).learned(-0.1f));
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.linear(1, 1).learned(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.linear(1, 1).learned(Float.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.negativeEvidence(2, 1f, 0.1f).learned(0.1f));
        assertEquals(CombineOptions.Adaptation.LEARNED, CombineOptions.linear(1, 1).adapting(CombineOptions.Adaptation.LEARNED)
                .adaptation());
        assertEquals(CombineOptions.DEFAULT_LEARNING_RATE,
                CombineOptions.linear(1, 1).adapting(CombineOptions.Adaptation.LEARNED, null).rate());
    }
}
