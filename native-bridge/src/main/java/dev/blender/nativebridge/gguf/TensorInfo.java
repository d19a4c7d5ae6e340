package dev.blender.nativebridge.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where a tensor lives and what it looks like. {@code dims} are in GGUF order ({@code ne[0]} first,
 * the row length); {@code offset} is relative to the start of the file's data section.
 */
public record TensorInfo(String name, GgmlType type, long[] dims, long offset) {

    /**
     * @throws IllegalArgumentException on a missing name, more than 4 or non-positive dims, a first
     *     dimension that is not a multiple of the block size, a negative offset, or a size overflowing
     *     {@code long}
     */
    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        dims = dims.clone();
        if (dims.length > 4) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + dims.length + " dims; at most 4");
        }
        for (long d : dims) {
            if (d <= 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a non-positive dim " + d);
            }
        }
        if (offset < 0) {
            throw new IllegalArgumentException("tensor '" + name + "' has a negative offset");
        }
        if ((dims.length == 0 ? 1 : dims[0]) % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': ne[0] must be a multiple of "
                    + type.blockSize() + " for " + type);
        }
        try {
            type.byteSize(elementCount(dims));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "' is too large", e);
        }
    }

    /** A copy of the dimensions, {@code ne[0]} first. */
    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** {@code ne[i]}, or 1 past the rank (as ggml treats missing dims). */
    public long dim(int i) {
        return i < dims.length ? dims[i] : 1;
    }

    /** Product of all dimensions. */
    public long elementCount() {
        return elementCount(dims);
    }

    /** Number of rows ({@code elementCount() / ne[0]}). */
    public long rowCount() {
        return elementCount() / dim(0);
    }

    /** Bytes of tensor data, without alignment padding. */
    public long byteSize() {
        return type.byteSize(elementCount());
    }

    static long elementCount(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && type == t.type
                && Arrays.equals(dims, t.dims) && offset == t.offset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type, Arrays.hashCode(dims), offset);
    }

    @Override
    public String toString() {
        return "TensorInfo[" + name + ", " + type + ", " + Arrays.toString(dims) + ", offset=" + offset + "]";
    }
}
