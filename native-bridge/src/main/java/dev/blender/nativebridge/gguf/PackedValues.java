package dev.blender.nativebridge.gguf;

import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * The elements of a scalar metadata array as the file stores them, in primitive arrays: a vocabulary of
 * 152k tokens and its merges take a few MB this way instead of about 24 MB of element objects, and parsing
 * it allocates little more than what it keeps. Elements are made on {@link #get}. Immutable.
 */
final class PackedValues extends AbstractList<GgufValue> implements RandomAccess {
    private final GgufValueType type;
    private final int size;
    /** STRING: UTF-8 bytes of every element, element i at {@code [offsets[i], offsets[i + 1])}. */
    private final byte[] bytes;
    private final int[] offsets;
    /** Integers (as {@link GgufValue.Int} holds them) and BOOL (0/1). */
    private final long[] longs;
    private final double[] doubles;

    private PackedValues(GgufValueType type, int size, byte[] bytes, int[] offsets, long[] longs, double[] doubles) {
        this.type = type;
        this.size = size;
        this.bytes = bytes;
        this.offsets = offsets;
        this.longs = longs;
        this.doubles = doubles;
    }

    static PackedValues strings(int size, byte[] bytes, int[] offsets) {
        return new PackedValues(GgufValueType.STRING, size, bytes, offsets, null, null);
    }

    /** Integers of {@code type}, or BOOL as 0/1. */
    static PackedValues longs(GgufValueType type, long[] values) {
        return new PackedValues(type, values.length, null, null, values, null);
    }

    static PackedValues reals(GgufValueType type, double[] values) {
        return new PackedValues(type, values.length, null, null, null, values);
    }

    GgufValueType elementType() {
        return type;
    }

    /** Element i's text without making its value object. */
    String string(int i) {
        return new String(bytes, offsets[i], offsets[i + 1] - offsets[i], StandardCharsets.UTF_8);
    }

    long longValue(int i) {
        return longs[i];
    }

    double doubleValue(int i) {
        return doubles[i];
    }

    @Override
    public GgufValue get(int i) {
        java.util.Objects.checkIndex(i, size);
        return switch (type) {
            case STRING -> new GgufValue.Str(string(i));
            case BOOL -> new GgufValue.Bool(longs[i] != 0);
            case FLOAT32, FLOAT64 -> new GgufValue.Real(type, doubles[i]);
            default -> new GgufValue.Int(type, longs[i]);
        };
    }

    @Override
    public int size() {
        return size;
    }
}
