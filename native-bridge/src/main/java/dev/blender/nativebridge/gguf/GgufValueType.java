package dev.blender.nativebridge.gguf;

import java.util.Optional;

/** Metadata value types of the GGUF format, with their on-disk ids. */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 8),
    ARRAY(9, 12),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int minSize;

    GgufValueType(int id, int minSize) {
        this.id = id;
        this.minSize = minSize;
    }

    /** The numeric id stored in GGUF files. */
    public int id() {
        return id;
    }

    /**
     * The fewest bytes a value of this type can occupy on disk (the length prefix alone for strings,
     * element type and count for arrays); used to reject counts that cannot fit in a file.
     */
    public int minEncodedSize() {
        return minSize;
    }

    /** Whether values of this type are integers ({@link GgufValue.Int}). */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /** Whether values of this type are floating point ({@link GgufValue.Real}). */
    public boolean isReal() {
        return this == FLOAT32 || this == FLOAT64;
    }

    /** The type with the given id, or empty if the id is not defined. */
    public static Optional<GgufValueType> byId(long id) {
        // ids are dense and equal to the ordinal, so the array doubles as a lookup table
        return id >= 0 && id < BY_ID.length ? Optional.of(BY_ID[(int) id]) : Optional.empty();
    }
}
