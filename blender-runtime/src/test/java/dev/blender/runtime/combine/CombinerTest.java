package dev.blender.runtime.combine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CombinerTest {
    private static final float TOL = 1e-5f;

    static float[][] randomLogits(int k, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[k][n];
        for (int m = 0; m < k; m++) {
            float shift = (float) r.nextDouble(-20, 20); // raw logits carry arbitrary offsets
            for (int i = 0; i < n; i++) {
                x[m][i] = (float) (r.nextGaussian() * 3 + shift);
            }
        }
        return x;
    }

    static float[] logSoftmax(float[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : x) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : x) {
            sum += Math.exp(v - max);
        }
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (x[i] - max - Math.log(sum));
        }
        return out;
    }

    static void assertAllClose(float[] expected, float[] actual, int n, float tol, String what) {
        for (int i = 0; i < n; i++) {
            if (Float.isInfinite(expected[i]) || Float.isInfinite(actual[i])) {
                assertEquals(expected[i], actual[i], what + " at " + i);
            } else {
                int at = i;
                assertTrue(Math.abs(expected[i] - actual[i]) <= tol,
                        () -> what + " at " + at + ": " + expected[at] + " vs " + actual[at]);
            }
        }
    }

    static CombineOptions options(String method, int k) {
        return switch (method) {
            case "linear" -> CombineOptions.linear(weights(k));
            case "loglinear" -> CombineOptions.logLinear(weights(k));
            default -> CombineOptions.negativeEvidence(Math.min(k, 3), 0.5f, 0.1f);
        };
    }

    static float[] weights(int k) {
        float[] w = new float[k];
        for (int i = 0; i < k; i++) {
            w[i] = i + 1;
        }
        return w;
    }

    /** The combination written from its definition, in double precision, independent of both implementations. */
    static float[] reference(CombineOptions o, float[][] x, int n) {
        int k = x.length;
        double[][] ls = new double[k][];
        for (int m = 0; m < k; m++) {
            float[] l = logSoftmax(x[m]);
            ls[m] = new double[n];
            for (int i = 0; i < n; i++) {
                ls[m][i] = l[i];
            }
        }
        float[] w = o.weights();
        double[] s = new double[n];
        switch (o.method()) {
            case LINEAR -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) {
                    double p = 0;
                    for (int m = 0; m < k; m++) {
                        p += w[m] * Math.exp(ls[m][i]);
                    }
                    out[i] = (float) Math.log(p);
                }
                return out;
            }
            case LOG_LINEAR -> {
                for (int i = 0; i < n; i++) {
                    for (int m = 0; m < k; m++) {
                        s[i] += w[m] * ls[m][i];
                    }
                }
            }
            case NEGATIVE_EVIDENCE -> {
                double top = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    top = Math.max(top, Math.exp(ls[0][i]));
                }
                for (int i = 0; i < n; i++) {
                    double pos = k == 3 ? ls[1][i] : ls[0][i];
                    s[i] = Math.exp(ls[0][i]) >= o.alpha() * top
                            ? ls[0][i] + o.lambda() * (pos - ls[k - 1][i]) : Double.NEGATIVE_INFINITY;
                }
            }
        }
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) s[i];
        }
        return logSoftmax(f);
    }

    @ParameterizedTest(name = "{0} K={1} V={2}")
    @CsvSource({
        "linear,2,512", "linear,3,32000", "linear,4,151936", "linear,3,1001",
        "loglinear,2,512", "loglinear,3,32000", "loglinear,4,151936", "loglinear,3,1001",
        "negative,2,512", "negative,3,32000", "negative,3,151936", "negative,2,1001"})
    void bothImplementationsMatchTheDefinition(String method, int k, int n) {
        CombineOptions o = options(method, k);
        float[][] x = randomLogits(o.members(), n, 31L * n + k);
        float[] expected = reference(o, x, n);
        for (Combiner c : new Combiner[] {Combiner.scalar(o), Combiner.vectorized(o)}) {
            float[] out = new float[n];
            c.combine(x, n, out);
            assertAllClose(expected, out, n, TOL, o + " " + c.getClass().getSimpleName());
            // the same instance again: scratch state must not leak between calls
            c.combine(x, n, out);
            assertAllClose(expected, out, n, TOL, o + " " + c.getClass().getSimpleName() + " second call");
            double total = 0;
            for (int i = 0; i < n; i++) {
                total += Math.exp(out[i]);
            }
            assertEquals(1.0, total, 1e-4, "a distribution");
        }
    }

    /**
     * A row split over cores normalises each part against its own maximum; whatever the split, the result is
     * the definition's, also where a member rules out a whole part and where the parts' maxima differ widely.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"linear", "loglinear"})
    void rowsSplitIntoPartsMatchTheDefinition(String method) {
        int n = 4 * VectorCombiner.MIN_PART + 13;
        CombineOptions o = options(method, 3);
        float[][] x = randomLogits(3, n, 77);
        for (int i = 0; i < n / 2; i++) {
            x[1][i] = Float.NEGATIVE_INFINITY;
        }
        x[2][n - 1] += 40;
        float[] expected = reference(o, x, n);
        for (int parts = 1; parts <= 5; parts++) {
            Combiner c = new VectorCombiner(o, parts);
            float[] out = new float[n];
            c.combine(x, n, out);
            assertAllClose(expected, out, n, TOL, o + " in up to " + parts + " parts");
        }
    }

    /** Rows in a confined arena may be read by the calling thread only: they are combined there, in one part. */
    @Test
    void rowsOfAConfinedArenaAreCombinedOnTheCallingThread() {
        int n = 151_936;
        CombineOptions o = options("linear", 3);
        float[][] x = randomLogits(3, n, 79);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment[] rows = new java.lang.foreign.MemorySegment[3];
            for (int m = 0; m < 3; m++) {
                rows[m] = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, x[m]);
            }
            for (CombineOptions each : List.of(o, options("loglinear", 3))) {
                float[] out = new float[n];
                new VectorCombiner(each, 4).combine(rows, n, out);
                assertAllClose(reference(each, x, n), out, n, TOL, each + " confined");
            }
        }
    }

    /** Combiners on different threads share the pool that splits their rows, and each stays exact. */
    @Test
    void combinersOnManyThreadsAtOnceStayExact() throws Exception {
        int n = 151_936;
        CombineOptions o = options("linear", 3);
        float[][] x = randomLogits(3, n, 78);
        float[] expected = reference(o, x, n);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<float[]>> results = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                results.add(pool.submit(() -> {
                    Combiner c = new VectorCombiner(o, 3);
                    float[] out = new float[n];
                    for (int r = 0; r < 5; r++) {
                        c.combine(x, n, out);
                    }
                    return out;
                }));
            }
            for (var f : results) {
                assertAllClose(expected, f.get(), n, TOL, "concurrent");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"linear", "loglinear"})
    void aModelCombinedWithItselfIsItself(String method) {
        float[][] one = randomLogits(1, 777, 5);
        float[] expected = logSoftmax(one[0]);
        for (float[] w : new float[][] {{1, 1}, {0.1f, 0.9f}, {5, 0.01f}}) {
            CombineOptions o = method.equals("linear") ? CombineOptions.linear(w) : CombineOptions.logLinear(w);
            for (Combiner c : new Combiner[] {Combiner.scalar(o), Combiner.vectorized(o)}) {
                float[] out = new float[777];
                // the second copy is shifted: raw logits of the same model may differ by a constant
                float[] shifted = one[0].clone();
                for (int i = 0; i < shifted.length; i++) {
                    shifted[i] += 3.5f;
                }
                c.combine(new float[][] {one[0], shifted}, 777, out);
                assertAllClose(expected, out, 777, TOL, o + " " + c.getClass().getSimpleName());
            }
        }
    }

    @Test
    void handComputedMixtures() {
        // p1 = (0.5, 0.25, 0.25), p2 = (0.25, 0.25, 0.5)
        float[][] x = {
            {(float) Math.log(0.5), (float) Math.log(0.25), (float) Math.log(0.25)},
            {(float) Math.log(0.25), (float) Math.log(0.25), (float) Math.log(0.5)}};
        float[] out = new float[3];
        Combiner.vectorized(CombineOptions.linear(1, 1)).combine(x, 3, out);
        assertAllClose(new float[] {(float) Math.log(0.375), (float) Math.log(0.25), (float) Math.log(0.375)}, out, 3,
                TOL, "linear");
        // geometric mean: sqrt(p1 p2) = (0.3536, 0.25, 0.3536), normalised by 0.9571
        Combiner.vectorized(CombineOptions.logLinear(1, 1)).combine(x, 3, out);
        double z = 2 * Math.sqrt(0.125) + 0.25;
        assertAllClose(new float[] {(float) Math.log(Math.sqrt(0.125) / z), (float) Math.log(0.25 / z),
            (float) Math.log(Math.sqrt(0.125) / z)}, out, 3, TOL, "log-linear");
    }

    @Test
    void aMemberOfWeightZeroHasNoSayEvenWhereItRulesATokenOut() {
        // a product's first member rules out tokens it lacks (-infinity); at weight 0, 0 * -infinity must not
        // turn the product into NaN: the result is the other member alone, in both implementations
        int n = 777;
        float[][] x = randomLogits(2, n, 5);
        for (int i = 0; i < n; i += 3) {
            x[0][i] = Float.NEGATIVE_INFINITY;
        }
        float[] expected = logSoftmax(x[1]);
        for (Combiner c : List.of(Combiner.vectorized(CombineOptions.logLinear(0, 1)),
                Combiner.scalar(CombineOptions.logLinear(0, 1)))) {
            float[] out = new float[n];
            c.combine(x, n, out);
            assertAllClose(expected, out, n, TOL, c.getClass().getSimpleName());
        }
        // at any weight above 0 the first member's -infinity is a veto
        float[] out = new float[n];
        Combiner.vectorized(CombineOptions.logLinear(0.01f, 1)).combine(x, n, out);
        assertEquals(Float.NEGATIVE_INFINITY, out[3]);
        assertTrue(Float.isFinite(out[4]));
    }

    @Test
    void negativeEvidenceRespectsThePlausibilityMask() {
        int n = 4096;
        float[][] x = randomLogits(3, n, 11);
        CombineOptions o = CombineOptions.negativeEvidence(3, 1.0f, 0.2f);
        float[] out = new float[n];
        Combiner.vectorized(o).combine(x, n, out);
        float[] core = logSoftmax(x[0]);
        float top = Float.NEGATIVE_INFINITY;
        for (float v : core) {
            top = Math.max(top, v);
        }
        int plausible = 0;
        for (int i = 0; i < n; i++) {
            boolean allowed = core[i] >= top + Math.log(0.2);
            assertEquals(allowed, Float.isFinite(out[i]), "token " + i);
            plausible += allowed ? 1 : 0;
        }
        assertTrue(plausible >= 1 && plausible < n, "the mask must keep the top token and drop some: " + plausible);
        // and among plausible tokens it is core + lambda * (pos - neg), renormalised
        float[] pos = logSoftmax(x[1]);
        float[] neg = logSoftmax(x[2]);
        int a = -1;
        int b = -1;
        for (int i = 0; i < n; i++) {
            if (Float.isFinite(out[i])) {
                if (a < 0) {
                    a = i;
                } else if (b < 0) {
                    b = i;
                }
            }
        }
        if (b >= 0) {
            float expectedDiff = (core[a] + pos[a] - neg[a]) - (core[b] + pos[b] - neg[b]);
            assertEquals(expectedDiff, out[a] - out[b], 1e-4f);
        }
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.linear(-1, 1));
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.linear(0, 0));
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.negativeEvidence(4, 1, 0.1f));
        assertThrows(IllegalArgumentException.class, () -> CombineOptions.negativeEvidence(2, 1, 0f));
        Combiner c = Combiner.vectorized(CombineOptions.linear(1, 1));
        assertThrows(IllegalArgumentException.class, () -> c.combine(new float[3][10], 10, new float[10]));
        assertThrows(IllegalArgumentException.class, () -> c.combine(new float[2][10], 20, new float[20]));
    }
}
