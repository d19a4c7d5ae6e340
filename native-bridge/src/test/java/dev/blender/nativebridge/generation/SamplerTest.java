package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SamplerTest {
    /** Logits of probabilities 0.5, 0.3, 0.15, 0.05 (plus an arbitrary shift). */
    private static final float[] LOGITS = {
        (float) Math.log(0.5) + 7, (float) Math.log(0.3) + 7, (float) Math.log(0.15) + 7, (float) Math.log(0.05) + 7};

    private static int[] histogram(SamplerOptions o, long seed, int draws) {
        Sampler s = Sampler.of(o, seed);
        int[] h = new int[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            h[s.sample(LOGITS.clone(), LOGITS.length, null, 0)]++;
        }
        return h;
    }

    /**
     * Speculative sampling against its definition: with a guess (inside the kept set, outside it, the likeliest),
     * every token still comes out with the probability of the transformed distribution (top-p 0.9 keeps 0.5, 0.3,
     * 0.15; temperature 0.7 then gives q ~ p^(1/0.7)). A chi-square bound with 2 degrees of freedom at 30 fails
     * about once in 3 million runs; accepting every guess, or rejecting it into a plain draw, lands in the thousands.
     */
    @Test
    void aGuessedTokenLeavesTheDistributionAsItWas() {
        SamplerOptions o = new SamplerOptions(0.7f, 0, 0.9f, 0f, 1f, 64);
        double[] q = new double[4];
        double z = 0;
        for (int i = 0; i < 3; i++) {
            q[i] = Math.pow(new double[] {0.5, 0.3, 0.15}[i], 1 / 0.7);
            z += q[i];
        }
        for (int i = 0; i < 3; i++) {
            q[i] /= z;
        }
        int draws = 40_000;
        for (int guess : new int[] {1, 2, 3, 0}) {
            Sampler s = Sampler.of(o, 11 + guess);
            int[] h = new int[4];
            for (int i = 0; i < draws; i++) {
                h[s.sample(LOGITS.clone(), LOGITS.length, null, 0, guess)]++;
            }
            assertEquals(0, h[3], "top-p leaves token 3 out whatever is guessed: " + Arrays.toString(h));
            double chi2 = 0;
            for (int i = 0; i < 3; i++) {
                double e = q[i] * draws;
                chi2 += (h[i] - e) * (h[i] - e) / e;
            }
            assertTrue(chi2 < 30, "guess " + guess + ": " + Arrays.toString(h) + " against q " + Arrays.toString(q)
                    + ", chi2 " + chi2);
        }
        // greedy keeps the argmax, whatever is guessed
        assertEquals(0, Sampler.of(SamplerOptions.greedy(), 1).sample(LOGITS.clone(), 4, null, 0, 2));
    }

    @Test
    void greedyIsArgmaxAndTiesGoToTheLowestId() {
        assertEquals(0, Sampler.of(SamplerOptions.greedy(), 1).sample(LOGITS.clone(), 4, null, 0));
        assertEquals(1, Sampler.argmax(new float[] {1, 3, 3, 2}, 4));
    }

    @Test
    void unfilteredSamplingFollowsTheSoftmax() {
        int draws = 40_000;
        int[] h = histogram(new SamplerOptions(1f, 0, 1f, 0f, 1f, 64), 3, draws);
        double[] p = {0.5, 0.3, 0.15, 0.05};
        for (int i = 0; i < 4; i++) {
            assertEquals(p[i], h[i] / (double) draws, 0.01, "token " + i + ": " + Arrays.toString(h));
        }
    }

    @Test
    void temperatureSharpensAndFlattens() {
        int[] cold = histogram(new SamplerOptions(0.3f, 0, 1f, 0f, 1f, 64), 3, 20_000);
        int[] hot = histogram(new SamplerOptions(3f, 0, 1f, 0f, 1f, 64), 3, 20_000);
        assertTrue(cold[0] > 15_000, Arrays.toString(cold));
        assertTrue(hot[3] > 2_500, Arrays.toString(hot));
    }

    @Test
    void filtersRestrictTheCandidates() {
        int[] topK = histogram(new SamplerOptions(1f, 2, 1f, 0f, 1f, 64), 5, 5_000);
        assertEquals(0, topK[2] + topK[3], Arrays.toString(topK));
        int[] topP = histogram(new SamplerOptions(1f, 0, 0.75f, 0f, 1f, 64), 5, 5_000);
        assertEquals(0, topP[2] + topP[3], "0.5 + 0.3 reaches 0.75: " + Arrays.toString(topP));
        int[] minP = histogram(new SamplerOptions(1f, 0, 1f, 0.4f, 1f, 64), 5, 5_000);
        assertEquals(0, minP[2] + minP[3], "only p >= 0.4 * 0.5: " + Arrays.toString(minP));
        assertTrue(minP[0] > 0 && minP[1] > 0);
        int[] topK1 = histogram(new SamplerOptions(2f, 1, 1f, 0f, 1f, 64), 5, 1_000);
        assertEquals(1_000, topK1[0]);
    }

    @Test
    void sameSeedSameDrawsOtherSeedOtherDraws() {
        SamplerOptions o = SamplerOptions.defaults().withTemperature(1.5f).withMinP(0);
        assertEquals(Arrays.toString(histogram(o, 42, 500)), Arrays.toString(histogram(o, 42, 500)));
        int[] seq1 = new int[50];
        int[] seq2 = new int[50];
        Sampler a = Sampler.of(o, 1);
        Sampler b = Sampler.of(o, 2);
        for (int i = 0; i < 50; i++) {
            seq1[i] = a.sample(LOGITS.clone(), 4, null, 0);
            seq2[i] = b.sample(LOGITS.clone(), 4, null, 0);
        }
        assertNotEquals(Arrays.toString(seq1), Arrays.toString(seq2));
    }

    @Test
    void repetitionPenaltyDemotesRecentTokens() {
        Sampler s = Sampler.of(SamplerOptions.greedy().withRepeatPenalty(1.5f, 4), 1);
        float[] logits = {4f, 3f, -1f, -2f};
        // token 0 was just generated: 4 / 1.5 = 2.67 < 3, so greedy now picks token 1
        assertEquals(1, s.sample(logits.clone(), 4, new int[] {9, 0}, 2));
        // outside the last-N window the penalty does not apply
        assertEquals(0, s.sample(logits.clone(), 4, new int[] {0, 7, 7, 7, 7}, 5));
    }

    @Test
    void badOptionsNameTheField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SamplerOptions.defaults().withTemperature(-1));
        assertTrue(e.getMessage().startsWith("temperature"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplerOptions.defaults().withTopP(0))
                .getMessage().startsWith("topP"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplerOptions.defaults().withMinP(1))
                .getMessage().startsWith("minP"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplerOptions.defaults().withTopK(-1))
                .getMessage().startsWith("topK"));
    }

    @Test
    void topPWithoutTopKDrawsExactlyWhatAFullSortDraws() {
        int n = 20_000;
        java.util.SplittableRandom data = new java.util.SplittableRandom(5);
        float[] logits = new float[n];
        for (int i = 0; i < n; i++) {
            logits[i] = (float) (data.nextGaussian() * 2.5);
        }
        SamplerOptions o = new SamplerOptions(0.7f, 0, 0.9f, 0f, 1f, 64);
        Sampler sampler = Sampler.of(o, 11);
        java.util.SplittableRandom reference = new java.util.SplittableRandom(11);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]) != 0
                ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        float max = logits[order[0]];
        double sum = 0;
        for (float f : logits) {
            sum += Math.exp(f - max);
        }
        int keep = n;
        double cumulative = 0;
        for (int i = 0; i < n; i++) {
            cumulative += Math.exp(logits[order[i]] - max) / sum;
            if (cumulative >= 0.9) {
                keep = i + 1;
                break;
            }
        }
        for (int draw = 0; draw < 200; draw++) {
            double total = 0;
            double[] w = new double[keep];
            for (int i = 0; i < keep; i++) {
                w[i] = (float) Math.exp((logits[order[i]] - max) * (1f / 0.7f));
                total += w[i];
            }
            double r = reference.nextDouble() * total;
            double acc = 0;
            int expected = order[keep - 1];
            for (int i = 0; i < keep; i++) {
                acc += w[i];
                if (r < acc) {
                    expected = order[i];
                    break;
                }
            }
            assertEquals(expected, sampler.sample(logits.clone(), n, null, 0), "draw " + draw);
        }
    }
}
