package dev.blender.nativebridge.gguf;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One GGUF metadata value. Integers of every width share {@link Int}, both float widths share
 * {@link Real}; the exact on-disk type is kept in {@link #type()} so values round-trip unchanged.
 */
public sealed interface GgufValue permits GgufValue.Int, GgufValue.Real, GgufValue.Bool, GgufValue.Str,
        GgufValue.Array {

    /** The on-disk type of this value. */
    GgufValueType type();

    /**
     * An integer of any GGUF width. Unsigned types hold their unsigned value (a {@code UINT64} above
     * {@link Long#MAX_VALUE} is stored as its two's-complement bit pattern).
     */
    record Int(GgufValueType type, long value) implements GgufValue {
        /** @throws IllegalArgumentException if the type is not an integer type or the value does not fit it */
        public Int {
            Objects.requireNonNull(type, "type");
            long min;
            long max;
            switch (type) {
                case UINT8 -> { min = 0; max = 0xFF; }
                case INT8 -> { min = Byte.MIN_VALUE; max = Byte.MAX_VALUE; }
                case UINT16 -> { min = 0; max = 0xFFFF; }
                case INT16 -> { min = Short.MIN_VALUE; max = Short.MAX_VALUE; }
                case UINT32 -> { min = 0; max = 0xFFFF_FFFFL; }
                case INT32 -> { min = Integer.MIN_VALUE; max = Integer.MAX_VALUE; }
                case UINT64, INT64 -> { min = Long.MIN_VALUE; max = Long.MAX_VALUE; }
                default -> throw new IllegalArgumentException(type + " is not an integer type");
            }
            if (value < min || value > max) {
                throw new IllegalArgumentException(value + " does not fit " + type);
            }
        }
    }

    /** A {@code FLOAT32} or {@code FLOAT64}; a {@code FLOAT32} holds exactly the float's value. */
    record Real(GgufValueType type, double value) implements GgufValue {
        /** @throws IllegalArgumentException if the type is not a float type */
        public Real {
            Objects.requireNonNull(type, "type");
            if (!type.isReal()) {
                throw new IllegalArgumentException(type + " is not a floating point type");
            }
            if (type == GgufValueType.FLOAT32) {
                value = (float) value;
            }
        }
    }

    /** A {@code BOOL}. */
    record Bool(boolean value) implements GgufValue {
        @Override
        public GgufValueType type() {
            return GgufValueType.BOOL;
        }
    }

    /** A UTF-8 {@code STRING}. */
    record Str(String value) implements GgufValue {
        /** Rejects null. */
        public Str {
            Objects.requireNonNull(value, "value");
        }

        @Override
        public GgufValueType type() {
            return GgufValueType.STRING;
        }
    }

    /** An {@code ARRAY} whose elements all have {@code elementType} (which may itself be {@code ARRAY}). */
    record Array(GgufValueType elementType, List<GgufValue> elements) implements GgufValue {
        /** @throws IllegalArgumentException if an element's type differs from {@code elementType} */
        public Array {
            Objects.requireNonNull(elementType, "elementType");
            // a packed list is immutable and holds elements of its type by construction
            if (!(elements instanceof PackedValues p && p.elementType() == elementType)) {
                elements = List.copyOf(elements);
                for (GgufValue e : elements) {
                    if (e.type() != elementType) {
                        throw new IllegalArgumentException(
                                "array of " + elementType + " cannot hold a " + e.type() + " element");
                    }
                }
            }
        }

        @Override
        public GgufValueType type() {
            return GgufValueType.ARRAY;
        }
    }

    /** A {@code UINT8}. */
    static Int u8(int v) {
        return new Int(GgufValueType.UINT8, v);
    }

    /** An {@code INT8}. */
    static Int i8(int v) {
        return new Int(GgufValueType.INT8, v);
    }

    /** A {@code UINT16}. */
    static Int u16(int v) {
        return new Int(GgufValueType.UINT16, v);
    }

    /** An {@code INT16}. */
    static Int i16(int v) {
        return new Int(GgufValueType.INT16, v);
    }

    /** A {@code UINT32} (0 .. 2^32-1). */
    static Int u32(long v) {
        return new Int(GgufValueType.UINT32, v);
    }

    /** An {@code INT32}. */
    static Int i32(int v) {
        return new Int(GgufValueType.INT32, v);
    }

    /** A {@code UINT64} given as its bit pattern. */
    static Int u64(long v) {
        return new Int(GgufValueType.UINT64, v);
    }

    /** An {@code INT64}. */
    static Int i64(long v) {
        return new Int(GgufValueType.INT64, v);
    }

    /** A {@code FLOAT32}. */
    static Real f32(float v) {
        return new Real(GgufValueType.FLOAT32, v);
    }

    /** A {@code FLOAT64}. */
    static Real f64(double v) {
        return new Real(GgufValueType.FLOAT64, v);
    }

    /** A {@code BOOL}. */
    static Bool bool(boolean v) {
        return new Bool(v);
    }

    /** A {@code STRING}. */
    static Str string(String v) {
        return new Str(v);
    }

    /** An array of strings. */
    static Array stringArray(List<String> values) {
        List<GgufValue> out = new ArrayList<>(values.size());
        for (String s : values) {
            out.add(new Str(s));
        }
        return new Array(GgufValueType.STRING, out);
    }

    /** An array of {@code FLOAT32}. */
    static Array f32Array(float[] values) {
        List<GgufValue> out = new ArrayList<>(values.length);
        for (float f : values) {
            out.add(f32(f));
        }
        return new Array(GgufValueType.FLOAT32, out);
    }

    /** An array of {@code INT32}. */
    static Array i32Array(int[] values) {
        List<GgufValue> out = new ArrayList<>(values.length);
        for (int v : values) {
            out.add(i32(v));
        }
        return new Array(GgufValueType.INT32, out);
    }

    /** An array of integers of the given integer type. */
    static Array intArray(GgufValueType elementType, long[] values) {
        List<GgufValue> out = new ArrayList<>(values.length);
        for (long v : values) {
            out.add(new Int(elementType, v));
        }
        return new Array(elementType, out);
    }
}
