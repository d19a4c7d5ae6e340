package dev.blender.nativebridge.gguf;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgmlQuantTest {

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private static byte[] concat(byte[] head, int fill, int count) {
        byte[] out = Arrays.copyOf(head, head.length + count);
        Arrays.fill(out, head.length, out.length, (byte) fill);
        return out;
    }

    @Test
    void q8KnownBlock() {
        float[] x = new float[32];
        float[] head = {127, -127, 1.5f, -1.5f, 0.49f, 2.5f, -2.5f, 126.5f};
        System.arraycopy(head, 0, x, 0, head.length);
        // amax 127 gives d = 1.0 (f16 0x3C00); halves round away from zero like C's roundf
        byte[] expected = concat(bytes(0x00, 0x3C, 0x7F, 0x81, 0x02, 0xFE, 0x00, 0x03, 0xFD, 0x7F), 0, 24);
        assertArrayEquals(expected, GgmlQuant.quantizeRow(GgmlType.Q8_0, x));
    }

    @Test
    void q4KnownBlockWithNegativeMax() {
        float[] x = new float[32];
        float[] lo = {-8, 7, 0, 1, -1, 0.5f, -0.6f, 3.2f, 7.9f};
        System.arraycopy(lo, 0, x, 0, lo.length);
        Arrays.fill(x, 16, 32, 2f);
        x[16] = -7.5f;
        x[31] = -8f;
        // max = -8 (first largest magnitude) so d = 1.0; q = min(15, trunc(x + 8.5))
        byte[] expected = bytes(0x00, 0x3C,
                0x10, 0xAF, 0xA8, 0xA9, 0xA7, 0xA9, 0xA7, 0xAB, 0xAF, 0xA8, 0xA8, 0xA8, 0xA8, 0xA8, 0xA8, 0x08);
        assertArrayEquals(expected, GgmlQuant.quantizeRow(GgmlType.Q4_0, x));
    }

    @Test
    void q4KnownBlockWithPositiveMax() {
        float[] x = new float[32];
        x[0] = 8;
        x[1] = -8;
        x[2] = 4;
        // max = +8 gives d = -1.0 (f16 0xBC00); -8 maps to 16.5 and is clamped to 15
        byte[] expected = concat(bytes(0x00, 0xBC, 0x80, 0x8F, 0x84), 0x88, 13);
        assertArrayEquals(expected, GgmlQuant.quantizeRow(GgmlType.Q4_0, x));
    }

    @Test
    void zeroBlocks() {
        float[] zeros = new float[64];
        assertArrayEquals(new byte[68], GgmlQuant.quantizeRow(GgmlType.Q8_0, zeros));
        byte[] q4 = GgmlQuant.quantizeRow(GgmlType.Q4_0, zeros);
        // 0 / -8 is -0.0, so the scale is f16 0x8000 exactly as ggml writes it
        assertArrayEquals(concat(concat(bytes(0x00, 0x80), 0x88, 16), 0x00, 1), Arrays.copyOf(q4, 19));
        assertEquals(0x88, q4[35] & 0xFF);
        for (float v : GgmlQuant.dequantizeRow(GgmlType.Q4_0, q4, 64)) {
            assertEquals(0.0, v, 0.0);
        }
    }

    @Test
    void roundsLikeCRoundf() {
        assertEquals(3, GgmlQuant.roundHalfAway(2.5f));
        assertEquals(-3, GgmlQuant.roundHalfAway(-2.5f));
        assertEquals(-1, GgmlQuant.roundHalfAway(-0.5f));
        assertEquals(0, GgmlQuant.roundHalfAway(0.49999997f));
        assertEquals(1, GgmlQuant.roundHalfAway(1.4999999f));
    }

    @Test
    void f32AndF16AreExactOrNearestHalf() {
        float[] x = {0f, -0f, 1f, 0.1f, 65504f, 1e-8f, -3.75f, 70000f};
        assertArrayEquals(x, GgmlQuant.dequantizeRow(GgmlType.F32, GgmlQuant.quantizeRow(GgmlType.F32, x), x.length));
        float[] h = GgmlQuant.dequantizeRow(GgmlType.F16, GgmlQuant.quantizeRow(GgmlType.F16, x), x.length);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(x[i])), h[i]);
        }
        assertEquals(Float.POSITIVE_INFINITY, h[7], "f16 overflows to infinity like ggml");
    }

    @Test
    void quantisedRoundTripWithinBounds() {
        SplittableRandom r = new SplittableRandom(42);
        float[] x = new float[32 * 256];
        for (int i = 0; i < x.length; i++) {
            // vary block scale by orders of magnitude to exercise the f16 scale
            x[i] = (float) (r.nextGaussian() * Math.pow(10, (i / 32) % 5 - 3));
        }
        float[] q8 = GgmlQuant.dequantizeRow(GgmlType.Q8_0, GgmlQuant.quantizeRow(GgmlType.Q8_0, x), x.length);
        float[] q4 = GgmlQuant.dequantizeRow(GgmlType.Q4_0, GgmlQuant.quantizeRow(GgmlType.Q4_0, x), x.length);
        double q4Sum = 0;
        double q4Step = 0;
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b + j]));
            }
            // half a step plus the f16 rounding of the scale (relative, or absolute once subnormal) times the code
            double f16Abs = Math.scalb(1.0, -25);
            double q8Bound = (amax / 127.0 * (0.5 + 127.0 / 2048) + 127 * f16Abs) * 1.0001;
            // the end opposite the block maximum is clamped from code 16 to 15: a whole step
            double q4Bound = (amax / 8.0 * (1 + 8.0 / 2048) + 8 * f16Abs) * 1.0001;
            for (int j = 0; j < 32; j++) {
                int i = b + j;
                assertTrue(Math.abs(x[i] - q8[i]) <= q8Bound, "q8 " + i + ": " + x[i] + " vs " + q8[i]);
                assertTrue(Math.abs(x[i] - q4[i]) <= q4Bound, "q4 " + i + ": " + x[i] + " vs " + q4[i]);
                q4Sum += Math.abs(x[i] - q4[i]) / amax;
            }
            q4Step += 1.0 / 8 * 32;
        }
        assertTrue(q4Sum < q4Step * 0.35, "typical Q4_0 error is about a quarter step");
    }

    @Test
    void rejectsUnsupportedTypesAndBadLengths() {
        assertThrows(IllegalArgumentException.class, () -> GgmlQuant.quantizeRow(GgmlType.Q4_K, new float[256]));
        assertThrows(IllegalArgumentException.class, () -> GgmlQuant.quantizeRow(GgmlType.Q8_0, new float[31]));
        assertThrows(IllegalArgumentException.class, () -> GgmlQuant.dequantizeRow(GgmlType.Q4_0, new byte[18], 16));
    }
}
