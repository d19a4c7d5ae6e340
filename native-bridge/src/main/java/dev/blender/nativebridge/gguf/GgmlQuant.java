package dev.blender.nativebridge.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Set;

/**
 * Row (de)quantisation for the tensor types {@link GgufWriter} can write, bit-compatible with ggml's
 * reference quantisers so files match what llama.cpp's own tools would produce.
 */
public final class GgmlQuant {
    /** Types that {@link #quantizeRow} and {@link #dequantizeRow} support. */
    public static final Set<GgmlType> SUPPORTED =
            Set.copyOf(EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0));

    private static final int QK = 32;

    private GgmlQuant() {
    }

    /** Whether the type can be quantised and dequantised here. */
    public static boolean supports(GgmlType type) {
        return SUPPORTED.contains(type);
    }

    /**
     * Encodes {@code row} as {@code type} into {@code out} (which must be little-endian and have room
     * for {@code type.byteSize(row.length)} bytes).
     *
     * @throws IllegalArgumentException for an unsupported type or a row length not a multiple of the block size
     */
    public static void quantizeRow(GgmlType type, float[] row, ByteBuffer out) {
        checkArgs(type, row.length);
        if (out.order() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalArgumentException("output buffer must be little-endian");
        }
        switch (type) {
            case F32 -> {
                for (float v : row) {
                    out.putFloat(v);
                }
            }
            case F16 -> {
                for (float v : row) {
                    out.putShort(Float.floatToFloat16(v));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < row.length; b += QK) {
                    q8Block(row, b, out);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < row.length; b += QK) {
                    q4Block(row, b, out);
                }
            }
            default -> throw new AssertionError(type);
        }
    }

    /** Encodes {@code row} as {@code type} into a new byte array. */
    public static byte[] quantizeRow(GgmlType type, float[] row) {
        checkArgs(type, row.length);
        byte[] bytes = new byte[Math.toIntExact(type.byteSize(row.length))];
        quantizeRow(type, row, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
        return bytes;
    }

    /**
     * Decodes {@code out.length} values of {@code type} from {@code in} (little-endian).
     *
     * @throws IllegalArgumentException for an unsupported type or a length not a multiple of the block size
     */
    public static void dequantizeRow(GgmlType type, ByteBuffer in, float[] out) {
        checkArgs(type, out.length);
        if (in.order() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalArgumentException("input buffer must be little-endian");
        }
        switch (type) {
            case F32 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = in.getFloat();
                }
            }
            case F16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.float16ToFloat(in.getShort());
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < out.length; b += QK) {
                    float d = Float.float16ToFloat(in.getShort());
                    for (int j = 0; j < QK; j++) {
                        out[b + j] = in.get() * d;
                    }
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < out.length; b += QK) {
                    float d = Float.float16ToFloat(in.getShort());
                    for (int j = 0; j < QK / 2; j++) {
                        int packed = in.get() & 0xFF;
                        out[b + j] = ((packed & 0x0F) - 8) * d;
                        out[b + j + QK / 2] = ((packed >>> 4) - 8) * d;
                    }
                }
            }
            default -> throw new AssertionError(type);
        }
    }

    /** Decodes {@code elements} values of {@code type} from the start of {@code data}. */
    public static float[] dequantizeRow(GgmlType type, byte[] data, int elements) {
        float[] out = new float[elements];
        dequantizeRow(type, ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN), out);
        return out;
    }

    private static void checkArgs(GgmlType type, int length) {
        if (!supports(type)) {
            throw new IllegalArgumentException(type + " is not supported; use one of " + SUPPORTED);
        }
        if (length % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " rows need a multiple of " + type.blockSize()
                    + " values, got " + length);
        }
    }

    private static void q8Block(float[] x, int from, ByteBuffer out) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            amax = Math.max(amax, Math.abs(x[from + j]));
        }
        float d = amax / 127f;
        // ggml multiplies by the reciprocal rather than dividing; doing the same keeps bytes identical
        float id = d != 0 ? 1f / d : 0f;
        out.putShort(Float.floatToFloat16(d));
        for (int j = 0; j < QK; j++) {
            out.put((byte) roundHalfAway(x[from + j] * id));
        }
    }

    private static void q4Block(float[] x, int from, ByteBuffer out) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[from + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8f;
        float id = d != 0 ? 1f / d : 0f;
        out.putShort(Float.floatToFloat16(d));
        for (int j = 0; j < QK / 2; j++) {
            int lo = Math.min(15, (int) (x[from + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[from + j + QK / 2] * id + 8.5f));
            out.put((byte) (lo | (hi << 4)));
        }
    }

    /** C's roundf: halves go away from zero, unlike {@link Math#round(float)}. */
    static int roundHalfAway(float v) {
        // widening to double makes |v| + 0.5 exact, avoiding the float rounding that plagues floor(v + 0.5f)
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }
}
