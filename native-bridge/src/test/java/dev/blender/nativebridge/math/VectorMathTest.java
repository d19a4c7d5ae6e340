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

    /** ln over the normal floats (relative error about 1e-7 against double), 0 and denormals to -infinity. */
    @Test
    void logMatchesDoubleArithmetic() {
        SplittableRandom r = new SplittableRandom(6);
        int lanes = VectorMath.F.length();
        float[] x = new float[lanes * 4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.exp(r.nextDouble(-87, 88));
        }
        // the edges of the range reduction and of the float range
        float[] edges = {1f, 0.5f, 2f, 0.70710677f, 0.7071068f, 1.4142135f, 1.4142137f, Float.MIN_NORMAL,
            Float.MAX_VALUE, 1e-30f, 3.4e38f, 0.99999994f, 1.0000001f};
        System.arraycopy(edges, 0, x, 0, edges.length);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i += lanes) {
            VectorMath.log(jdk.incubator.vector.FloatVector.fromArray(VectorMath.F, x, i)).intoArray(out, i);
        }
        for (int i = 0; i < x.length; i++) {
            double expected = Math.log(x[i]);
            assertEquals(expected, out[i], Math.max(Math.abs(expected), 1) * 3e-7, "log " + x[i]);
        }
        float[] special = new float[lanes];
        special[0] = 0f;
        special[1 % lanes] = Float.MIN_VALUE; // denormal
        VectorMath.log(jdk.incubator.vector.FloatVector.fromArray(VectorMath.F, special, 0)).intoArray(out, 0);
        assertEquals(Float.NEGATIVE_INFINITY, out[0]);
        assertEquals(Float.NEGATIVE_INFINITY, out[1 % lanes]);
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
