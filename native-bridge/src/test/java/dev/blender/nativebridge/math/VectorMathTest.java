package dev.blender.nativebridge.math;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The vector reductions against plain double arithmetic, on lengths that leave a scalar tail. */
class VectorMathTest {

    @Test
    void reductionsMatchDoubleArithmetic() {
        SplittableRandom r = new SplittableRandom(5);
        for (int n : new int[] {1, 3, 7, 8, 9, 31, 1000, 151_936}) {
            float[] v = new float[n + 5];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * 4);
            }
            v[n + 2] = 1e6f; // past n: must be ignored
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, v[i]);
            }
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += Math.exp(v[i] - max);
            }
            assertEquals(max, VectorMath.max(v, n), 0, "max, n=" + n);
            assertEquals(sum, VectorMath.sumExp(v, n, (float) max), sum * 1e-6, "sumExp, n=" + n);
            assertEquals(max + Math.log(sum), VectorMath.logSumExp(v, n), 1e-5, "logSumExp, n=" + n);

            float[] out = new float[n];
            double t = 0.7;
            double expected = 0;
            for (int i = 0; i < n; i++) {
                expected += Math.exp((v[i] - max) * (1 / t));
            }
            assertEquals(expected, VectorMath.expInto(v, n, (float) max, (float) (1 / t), out), expected * 1e-6);
            for (int i = 0; i < n; i++) {
                // the argument is a float: at |x| ~ 20 its rounding alone moves e^x by ~1e-6
                assertEquals(Math.exp((v[i] - max) / t), out[i], Math.exp((v[i] - max) / t) * 1e-5 + 1e-30, "exp " + i);
            }
        }
    }

    @Test
    void minusInfinityWeighsNothing() {
        float[] v = {0f, Float.NEGATIVE_INFINITY, 0f, Float.NEGATIVE_INFINITY, 0f, 0f, 0f, 0f, 0f,
            Float.NEGATIVE_INFINITY};
        assertEquals(Math.log(7), VectorMath.logSumExp(v, v.length), 1e-6);
        float[] none = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        assertEquals(Double.NEGATIVE_INFINITY, VectorMath.logSumExp(none, 2));
    }
}
