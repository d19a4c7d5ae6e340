package dev.blender.nativebridge.math;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp and log over float vectors, built from lane-wise arithmetic that C2 compiles to SIMD on every
 * CPU (Cephes' single-precision range reduction and polynomials; relative error about 2e-7), because
 * the Vector API's own transcendental operators are not intrinsified everywhere; and the whole-vocabulary
 * reductions of the per-token paths (max, sum of exponentials, log-sum-exp) built on them. A scalar
 * {@link Math#exp} costs tens of nanoseconds, so at a 152k-token vocabulary one scalar pass costs
 * milliseconds per token, a large part of a small model's decode step. Stateless and thread-safe.
 */
public final class VectorMath {
    private VectorMath() {}

    /** The preferred float species: what every loop here steps by. */
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND_MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_MIN = -87.3f; // below this e^x is under FLT_MIN; treated as 0 after scaling
    private static final float EXP_MAX = 88.3f;
    private static final int SQRT_HALF_BITS = Float.floatToRawIntBits(0.707106781186547524f);
    /**
     * Whether the JVM uses the CPU's fused multiply-add. Without it a vector {@code fma} falls back to an
     * exact software path that is orders of magnitude slower, so the polynomials then multiply and add.
     */
    private static final boolean FMA = hardwareFma();

    private static boolean hardwareFma() {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(
                    com.sun.management.HotSpotDiagnosticMXBean.class);
            return bean == null || Boolean.parseBoolean(bean.getVMOption("UseFMA").getValue());
        } catch (RuntimeException | LinkageError e) {
            return true; // not HotSpot: its compilers use FMA where the CPU has it
        }
    }

    /** {@code a * b + c}, fused where the CPU has FMA. */
    private static FloatVector madd(FloatVector a, FloatVector b, FloatVector c) {
        return FMA ? a.fma(b, c) : a.mul(b).add(c);
    }

    private static FloatVector madd(FloatVector a, FloatVector b, float c) {
        return madd(a, b, FloatVector.broadcast(F, c));
    }

    private static FloatVector madd(FloatVector a, float b, FloatVector c) {
        return madd(a, FloatVector.broadcast(F, b), c);
    }

    /** e^x lane-wise; lanes below -87.3 give 0. */
    public static FloatVector exp(FloatVector x) {
        VectorMask<Float> tiny = x.compare(VectorOperators.LT, EXP_MIN);
        x = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector n = madd(x, LOG2E, FloatVector.broadcast(F, ROUND_MAGIC)).sub(ROUND_MAGIC);
        FloatVector r = madd(n, -LN2_HI, x);
        r = madd(n, -LN2_LO, r);
        // Horner steps as fused multiply-adds: one instruction each, and one rounding
        FloatVector p = FloatVector.broadcast(F, 1.9875691500e-4f);
        p = madd(p, r, 1.3981999507e-3f);
        p = madd(p, r, 8.3334519073e-3f);
        p = madd(p, r, 4.1665795894e-2f);
        p = madd(p, r, 1.6666665459e-1f);
        p = madd(p, r, 5.0000001201e-1f);
        p = madd(p, r.mul(r), r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector scale = bits.reinterpretAsFloats();
        return p.mul(scale).blend(0f, tiny);
    }

    /** ln(x) lane-wise for x >= 0; lanes equal to 0 (or denormal) give -infinity. */
    public static FloatVector log(FloatVector x) {
        VectorMask<Float> zero = x.compare(VectorOperators.LT, Float.MIN_NORMAL);
        // x = 2^e * (1 + m) with 1 + m in [sqrt(1/2), sqrt(2)), in integer arithmetic alone: shifting the bits
        // by those of sqrt(1/2) first makes the exponent field e and leaves the mantissa to rebuild 1 + m.
        // No masks, so the method stays small enough for C2 to inline into the loops that call it.
        IntVector shifted = x.reinterpretAsInts().sub(SQRT_HALF_BITS);
        FloatVector e = (FloatVector) shifted.lanewise(VectorOperators.ASHR, 23).convert(VectorOperators.I2F, 0);
        FloatVector m = shifted.and(0x007fffff).add(SQRT_HALF_BITS).reinterpretAsFloats().sub(1f);
        FloatVector z = m.mul(m);
        FloatVector y = FloatVector.broadcast(F, 7.0376836292e-2f);
        y = madd(y, m, -1.1514610310e-1f);
        y = madd(y, m, 1.1676998740e-1f);
        y = madd(y, m, -1.2420140846e-1f);
        y = madd(y, m, 1.4249322787e-1f);
        y = madd(y, m, -1.6668057665e-1f);
        y = madd(y, m, 2.0000714765e-1f);
        y = madd(y, m, -2.4999993993e-1f);
        y = madd(y, m, 3.3333331174e-1f);
        y = y.mul(m).mul(z);
        y = madd(e, LN2_LO, y);
        y = madd(z, -0.5f, y);
        FloatVector result = m.add(y).add(e.mul(LN2_HI));
        return result.blend(Float.NEGATIVE_INFINITY, zero);
    }

    /** The largest of {@code v[0..n)}, {@code n >= 1}. */
    public static float max(float[] v, int n) {
        int bound = F.loopBound(n);
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (bound > 0) {
            FloatVector acc = FloatVector.fromArray(F, v, 0);
            for (i = F.length(); i < bound; i += F.length()) {
                acc = acc.max(FloatVector.fromArray(F, v, i));
            }
            max = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            max = Math.max(max, v[i]);
        }
        return max;
    }

    /** {@code sum_i exp(v_i - shift)} over {@code v[0..n)}, summed in double a vector at a time. */
    public static double sumExp(float[] v, int n, float shift) {
        int bound = F.loopBound(n);
        double sum = 0;
        int i = 0;
        for (; i < bound; i += F.length()) {
            sum += exp(FloatVector.fromArray(F, v, i).sub(shift)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            sum += Math.exp(v[i] - shift);
        }
        return sum;
    }

    /**
     * Writes {@code exp((v_i - shift) * scale)} over {@code v[0..n)} into {@code out} (which may be
     * {@code v}) and returns their sum: softmax weights at a temperature, unnormalised.
     */
    public static double expInto(float[] v, int n, float shift, float scale, float[] out) {
        int bound = F.loopBound(n);
        double sum = 0;
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector e = exp(FloatVector.fromArray(F, v, i).sub(shift).mul(scale));
            e.intoArray(out, i);
            sum += e.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            out[i] = (float) Math.exp((v[i] - shift) * scale);
            sum += out[i];
        }
        return sum;
    }

    /** {@code log sum_i exp(v_i)} over {@code v[0..n)}, computed stably ({@code n >= 1}). */
    public static double logSumExp(float[] v, int n) {
        float max = max(v, n);
        if (max == Float.NEGATIVE_INFINITY || max == Float.POSITIVE_INFINITY || Float.isNaN(max)) {
            return max;
        }
        return max + Math.log(sumExp(v, n, max));
    }
}
