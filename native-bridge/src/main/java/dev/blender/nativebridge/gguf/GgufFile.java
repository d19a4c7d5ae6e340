package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.gguf.GgufFormatException.Problem;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * The parsed header, metadata and tensor directory of a GGUF file, validated completely so that
 * native code is never handed a file it would abort on. Tensor data is checked for bounds but not loaded.
 */
public final class GgufFile {
    /** The magic "GGUF" read as a little-endian u32. */
    public static final int MAGIC = 0x46554747;
    /** Alignment used when general.alignment is absent. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** Metadata key that overrides the data alignment. */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** llama.cpp keeps tensor names in a 64-byte buffer including the terminator. */
    public static final int MAX_TENSOR_NAME_BYTES = 63;
    /** More tensors or metadata entries than any real model has: beyond this a count is garbage. */
    private static final long PLAUSIBLE_HEADER_COUNT = 1 << 20;
    /** Longer than any real metadata array (vocabularies are ~10^5 to 10^6 entries). */
    private static final long PLAUSIBLE_ARRAY_LENGTH = 1 << 26;

    private final Path path;
    private final int version;
    private final long fileSize;
    private final int alignment;
    private final long dataOffset;
    private final Map<String, GgufValue> metadata;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> tensorsByName;

    private GgufFile(Path path, int version, long fileSize, int alignment, long dataOffset,
                     Map<String, GgufValue> metadata, List<TensorInfo> tensors) {
        this.path = path;
        this.version = version;
        this.fileSize = fileSize;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = List.copyOf(tensors);
        Map<String, TensorInfo> byName = HashMap.newHashMap(tensors.size());
        for (TensorInfo t : tensors) {
            byName.put(t.name(), t);
        }
        this.tensorsByName = byName;
    }

    /**
     * Reads and validates the header, metadata and tensor infos of {@code path}.
     *
     * @throws GgufFormatException if the file is missing, unreadable or malformed in any way
     */
    public static GgufFile read(Path path) {
        Objects.requireNonNull(path, "path");
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new GgufFormatException(path, Problem.NOT_FOUND, "the file does not exist", e);
        } catch (IOException e) {
            throw new GgufFormatException(path, Problem.UNREADABLE, "cannot read its attributes: " + e, e);
        }
        if (!attrs.isRegularFile()) {
            throw new GgufFormatException(path, Problem.NOT_A_REGULAR_FILE, attrs.isDirectory()
                    ? "it is a directory, not a model file" : "it is not a regular file");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
             Arena arena = Arena.ofConfined()) {
            long size = ch.size();
            if (size == 0) {
                throw new GgufFormatException(path, Problem.EMPTY, "the file is empty (0 bytes)");
            }
            // Mapping is lazy, so even a multi-GB file only pages in the header we actually touch.
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new Parser(path, seg).parse();
        } catch (AccessDeniedException e) {
            throw new GgufFormatException(path, Problem.UNREADABLE, "permission denied", e);
        } catch (IOException e) {
            throw new GgufFormatException(path, Problem.UNREADABLE, "I/O error: " + e.getMessage(), e);
        }
    }

    /** The file this was read from. */
    public Path path() {
        return path;
    }

    /** GGUF version (2 or 3). */
    public int version() {
        return version;
    }

    /** Size of the file in bytes when it was read. */
    public long fileSize() {
        return fileSize;
    }

    /** Alignment of the data section and of every tensor offset. */
    public int alignment() {
        return alignment;
    }

    /** Absolute file offset where tensor data begins. */
    public long dataOffset() {
        return dataOffset;
    }

    /** All metadata in file order. */
    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    /** All tensor infos in file order. */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** The tensor with this name. */
    public Optional<TensorInfo> tensor(String name) {
        return Optional.ofNullable(tensorsByName.get(name));
    }

    /** Absolute file offset of a tensor's first byte. */
    public long absoluteOffset(TensorInfo tensor) {
        return dataOffset + tensor.offset();
    }

    /** The raw value of a key. */
    public Optional<GgufValue> value(String key) {
        return Optional.ofNullable(metadata.get(key));
    }

    /** A {@code STRING} value; empty if absent or of another type. */
    public Optional<String> string(String key) {
        return metadata.get(key) instanceof GgufValue.Str(String s) ? Optional.of(s) : Optional.empty();
    }

    /** An integer value of any width; empty if absent or not an integer. */
    public OptionalLong integer(String key) {
        return metadata.get(key) instanceof GgufValue.Int i ? OptionalLong.of(i.value()) : OptionalLong.empty();
    }

    /** A {@code FLOAT32} or {@code FLOAT64} value; empty if absent or of another type. */
    public OptionalDouble real(String key) {
        return metadata.get(key) instanceof GgufValue.Real r ? OptionalDouble.of(r.value()) : OptionalDouble.empty();
    }

    /** A {@code BOOL} value; empty if absent or of another type. */
    public Optional<Boolean> bool(String key) {
        return metadata.get(key) instanceof GgufValue.Bool(boolean b) ? Optional.of(b) : Optional.empty();
    }

    /** An array of strings; empty if absent or not an array of strings. */
    public List<String> stringArray(String key) {
        if (metadata.get(key) instanceof GgufValue.Array(GgufValueType t, List<GgufValue> elements)
                && t == GgufValueType.STRING) {
            List<String> out = new ArrayList<>(elements.size());
            if (elements instanceof PackedValues p) {
                for (int i = 0; i < p.size(); i++) {
                    out.add(p.string(i));
                }
                return Collections.unmodifiableList(out);
            }
            for (GgufValue e : elements) {
                out.add(((GgufValue.Str) e).value());
            }
            return Collections.unmodifiableList(out);
        }
        return List.of();
    }

    /** An array of integers of any width; empty if absent or not an integer array. */
    public long[] intArray(String key) {
        if (metadata.get(key) instanceof GgufValue.Array(GgufValueType t, List<GgufValue> elements)
                && t.isInteger()) {
            long[] out = new long[elements.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = elements instanceof PackedValues p ? p.longValue(i) : ((GgufValue.Int) elements.get(i)).value();
            }
            return out;
        }
        return new long[0];
    }

    /** An array of {@code FLOAT32} or {@code FLOAT64}; empty if absent or not a float array. */
    public double[] floatArray(String key) {
        if (metadata.get(key) instanceof GgufValue.Array(GgufValueType t, List<GgufValue> elements)
                && t.isReal()) {
            double[] out = new double[elements.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = elements instanceof PackedValues p ? p.doubleValue(i) : ((GgufValue.Real) elements.get(i)).value();
            }
            return out;
        }
        return new double[0];
    }

    /** {@code general.architecture}, e.g. "llama". */
    public Optional<String> architecture() {
        return string("general.architecture");
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size()
                + " tensors]";
    }

    /** Cursor over the mapped file; every read is bounds-checked so no low-level exception escapes. */
    private static final class Parser {
        private static final ValueLayout.OfShort U16 =
                ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfInt U32 =
                ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 =
                ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final int KV_MIN_BYTES = 8 + 4 + 1;
        private static final int TENSOR_INFO_MIN_BYTES = 8 + 4 + 4 + 8;
        // Real files nest at most one level; the cap keeps a hostile file from exhausting the stack.
        private static final int MAX_ARRAY_DEPTH = 16;

        private final Path path;
        private final MemorySegment seg;
        private final long size;
        private long pos;

        Parser(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        private GgufFormatException fail(Problem problem, String detail) {
            return new GgufFormatException(path, problem, detail);
        }

        private long remaining() {
            return size - pos;
        }

        private void need(long n, String what) {
            if (n > remaining()) {
                throw fail(Problem.TRUNCATED, "the file ends (at byte " + size + ") in the middle of " + what
                        + " at byte " + pos + "; it is probably an incomplete copy or download");
            }
        }

        private int u8(String what) {
            need(1, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        private int u16(String what) {
            need(2, what);
            int v = seg.get(U16, pos) & 0xFFFF;
            pos += 2;
            return v;
        }

        private int u32(String what) {
            need(4, what);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        private String string(String what) {
            return string("", what);
        }

        /** A string whose description is {@code prefix + what}, put together only for an error. */
        private String string(String prefix, String what) {
            int len = stringLength(prefix, what);
            byte[] bytes = new byte[len];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, bytes, 0, len);
            pos += len;
            return new String(bytes, StandardCharsets.UTF_8);
        }

        /** Reads a string's length and checks that its bytes follow; {@code pos} is then at the bytes. */
        private int stringLength(String prefix, String what) {
            if (8 > remaining()) {
                need(8, "the length of " + prefix + what);
            }
            long len = seg.get(U64, pos);
            pos += 8;
            if (len < 0 || len > remaining()) {
                throw fail(Problem.STRING_TOO_LONG, prefix + what + " at byte " + (pos - 8) + " claims a length of "
                        + Long.toUnsignedString(len) + " bytes but only " + remaining()
                        + " bytes follow; the file is corrupt or truncated");
            }
            if (len > Integer.MAX_VALUE - 16) {
                throw fail(Problem.STRING_TOO_LONG, prefix + what + " at byte " + (pos - 8) + " is " + len
                        + " bytes long; strings over 2 GiB are not supported");
            }
            return (int) len;
        }

        private GgufValueType valueType(String where) {
            long id = Integer.toUnsignedLong(u32("the value type of " + where));
            return GgufValueType.byId(id).orElseThrow(() -> fail(Problem.BAD_VALUE_TYPE, where
                    + " has value type " + id + ", which GGUF does not define (valid: 0..12); the file is corrupt"
                    + " or written by an incompatible tool"));
        }

        GgufFile parse() {
            if (size < 4) {
                byte[] head = new byte[(int) size];
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, head, 0, head.length);
                if (!new String(head, StandardCharsets.ISO_8859_1).equals("GGUF".substring(0, head.length))) {
                    throw fail(Problem.BAD_MAGIC, "it does not start with \"GGUF\"; it is not a GGUF model");
                }
            }
            int magic = u32("the magic number");
            if (magic != MAGIC) {
                throw fail(Problem.BAD_MAGIC, "it does not start with \"GGUF\" (found bytes "
                        + String.format("%08X", Integer.reverseBytes(magic))
                        + "); it is not a GGUF model (a PyTorch/safetensors/old GGML file must be converted first)");
            }
            int version = u32("the version");
            if (version != 2 && version != 3) {
                String hint = Integer.compareUnsigned(version, 2) < 0
                        ? "this old format is no longer supported; re-convert the model with current llama.cpp tools"
                        : "it is newer than this software supports; use a file converted to GGUF v3";
                throw fail(Problem.UNSUPPORTED_VERSION, "GGUF version " + Integer.toUnsignedString(version)
                        + " (supported: 2 and 3); " + hint);
            }
            long tensorCount = u64("the tensor count");
            long kvCount = u64("the metadata count");
            if (tensorCount < 0 || tensorCount > remaining() / TENSOR_INFO_MIN_BYTES) {
                throw fail(countProblem(tensorCount, PLAUSIBLE_HEADER_COUNT), "the header claims "
                        + Long.toUnsignedString(tensorCount) + " tensors, which cannot fit in a file of " + size
                        + " bytes; " + countHint(tensorCount, PLAUSIBLE_HEADER_COUNT));
            }
            long afterTensorInfos = remaining() - tensorCount * TENSOR_INFO_MIN_BYTES;
            if (kvCount < 0 || kvCount > afterTensorInfos / KV_MIN_BYTES) {
                throw fail(countProblem(kvCount, PLAUSIBLE_HEADER_COUNT), "the header claims "
                        + Long.toUnsignedString(kvCount) + " metadata entries, which cannot fit in a file of " + size
                        + " bytes; " + countHint(kvCount, PLAUSIBLE_HEADER_COUNT));
            }

            Map<String, GgufValue> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                long keyAt = pos;
                String key = string("metadata key #" + i);
                GgufValueType type = valueType("metadata key '" + key + "'");
                GgufValue value = value(type, "metadata key '" + key + "'", 0);
                if (metadata.putIfAbsent(key, value) != null) {
                    throw fail(Problem.DUPLICATE_KEY, "metadata key '" + key + "' appears twice (again at byte "
                            + keyAt + "); the file is corrupt");
                }
            }
            int alignment = alignment(metadata.get(ALIGNMENT_KEY));

            List<TensorInfo> tensors = new ArrayList<>();
            Map<String, Long> sizes = new HashMap<>();
            for (long i = 0; i < tensorCount; i++) {
                tensors.add(tensorInfo(i, sizes));
            }
            long dataOffset = alignUp(pos, alignment);
            checkLayout(tensors, sizes, alignment, dataOffset);
            return new GgufFile(path, version, size, alignment, dataOffset, metadata, tensors);
        }

        private GgufValue value(GgufValueType type, String where, int depth) {
            return switch (type) {
                case UINT8 -> new GgufValue.Int(type, u8(where));
                case INT8 -> new GgufValue.Int(type, (byte) u8(where));
                case UINT16 -> new GgufValue.Int(type, u16(where));
                case INT16 -> new GgufValue.Int(type, (short) u16(where));
                case UINT32 -> new GgufValue.Int(type, Integer.toUnsignedLong(u32(where)));
                case INT32 -> new GgufValue.Int(type, u32(where));
                case UINT64, INT64 -> new GgufValue.Int(type, u64(where));
                case FLOAT32 -> new GgufValue.Real(type, Float.intBitsToFloat(u32(where)));
                case FLOAT64 -> new GgufValue.Real(type, Double.longBitsToDouble(u64(where)));
                case BOOL -> new GgufValue.Bool(u8(where) != 0);
                case STRING -> new GgufValue.Str(string("the string value of ", where));
                case ARRAY -> array(where, depth);
            };
        }

        /**
         * A count that overruns the file is TRUNCATED when a real model could have it (the file was
         * cut short), ABSURD_COUNT when no real model could (the header is garbage).
         */
        private static Problem countProblem(long count, long plausible) {
            return count >= 0 && count <= plausible ? Problem.TRUNCATED : Problem.ABSURD_COUNT;
        }

        private static String countHint(long count, long plausible) {
            return count >= 0 && count <= plausible ? "the file is truncated (copy or download it again)"
                    : "the header is corrupt";
        }

        private GgufValue array(String where, int depth) {
            if (depth >= MAX_ARRAY_DEPTH) {
                throw fail(Problem.ABSURD_COUNT, where + " nests arrays more than " + MAX_ARRAY_DEPTH
                        + " levels deep; the file is corrupt");
            }
            GgufValueType elementType = valueType("the elements of " + where);
            long count = u64("the array length of " + where);
            if (count < 0 || count > remaining() / elementType.minEncodedSize()) {
                throw fail(countProblem(count, PLAUSIBLE_ARRAY_LENGTH), where + " claims an array of "
                        + Long.toUnsignedString(count) + " " + elementType + " elements, which cannot fit in the "
                        + remaining() + " bytes left in the file; " + countHint(count, PLAUSIBLE_ARRAY_LENGTH));
            }
            if (count > Integer.MAX_VALUE - 16) {
                throw fail(Problem.ABSURD_COUNT, where + " claims an array of " + count + " elements; arrays over"
                        + " 2^31 elements are not supported");
            }
            if (elementType != GgufValueType.ARRAY) {
                return new GgufValue.Array(elementType, packed(elementType, (int) count, where));
            }
            // count is now bounded by the file size, so the list cannot be made absurdly large
            List<GgufValue> elements = new ArrayList<>((int) Math.min(count, 1 << 20));
            for (long i = 0; i < count; i++) {
                elements.add(value(elementType, where, depth + 1));
            }
            return new GgufValue.Array(elementType, elements);
        }

        /**
         * {@code count} scalars of {@code type} straight into primitive arrays ({@link PackedValues}), with
         * the checks and messages of reading them one by one.
         */
        private PackedValues packed(GgufValueType type, int count, String where) {
            switch (type) {
                case STRING -> {
                    int[] offsets = new int[count + 1];
                    byte[] bytes = new byte[(int) Math.min(Math.max(16, remaining()), Math.max(16L, 8L * count))];
                    int used = 0;
                    for (int i = 0; i < count; i++) {
                        int len = stringLength("the string value of ", where);
                        if (used + (long) len > Integer.MAX_VALUE - 16) {
                            throw fail(Problem.STRING_TOO_LONG, where + " holds more than 2 GiB of text, which is not"
                                    + " supported");
                        }
                        if (used + len > bytes.length) {
                            bytes = java.util.Arrays.copyOf(bytes, (int) Math.min(Integer.MAX_VALUE - 16,
                                    Math.max(used + (long) len, 2L * bytes.length)));
                        }
                        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, bytes, used, len);
                        pos += len;
                        used += len;
                        offsets[i + 1] = used;
                    }
                    return PackedValues.strings(count, java.util.Arrays.copyOf(bytes, used), offsets);
                }
                case FLOAT32, FLOAT64 -> {
                    double[] values = new double[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = type == GgufValueType.FLOAT32 ? Float.intBitsToFloat(u32(where))
                                : Double.longBitsToDouble(u64(where));
                    }
                    return PackedValues.reals(type, values);
                }
                default -> {
                    long[] values = new long[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = switch (type) {
                            case UINT8 -> u8(where);
                            case INT8 -> (byte) u8(where);
                            case UINT16 -> u16(where);
                            case INT16 -> (short) u16(where);
                            case UINT32 -> Integer.toUnsignedLong(u32(where));
                            case INT32 -> u32(where);
                            case BOOL -> u8(where) != 0 ? 1 : 0;
                            default -> u64(where); // UINT64, INT64
                        };
                    }
                    return PackedValues.longs(type, values);
                }
            }
        }

        private int alignment(GgufValue v) {
            if (v == null) {
                return DEFAULT_ALIGNMENT;
            }
            if (!(v instanceof GgufValue.Int i) || i.type() != GgufValueType.UINT32) {
                throw fail(Problem.MISALIGNED, ALIGNMENT_KEY + " must be a UINT32 but is a " + v.type()
                        + " (llama.cpp would abort on this file)");
            }
            long a = i.value();
            if (a == 0 || Long.bitCount(a) != 1) {
                throw fail(Problem.MISALIGNED, ALIGNMENT_KEY + " is " + a + ", which is not a power of two");
            }
            if (a > (1 << 30)) {
                throw fail(Problem.MISALIGNED, ALIGNMENT_KEY + " is " + a + ", which is unreasonably large");
            }
            return (int) a;
        }

        private TensorInfo tensorInfo(long index, Map<String, Long> sizes) {
            String name = string("the name of tensor #" + index);
            String where = "tensor '" + name + "'";
            if (name.getBytes(StandardCharsets.UTF_8).length > MAX_TENSOR_NAME_BYTES) {
                throw fail(Problem.BAD_TENSOR_NAME, where + " has a name longer than " + MAX_TENSOR_NAME_BYTES
                        + " bytes, which llama.cpp cannot load");
            }
            long nDims = Integer.toUnsignedLong(u32("the dimension count of " + where));
            if (nDims > 4) {
                throw fail(Problem.ABSURD_COUNT, where + " has " + nDims + " dimensions; ggml supports at most 4");
            }
            long[] dims = new long[(int) nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = u64("dimension " + d + " of " + where);
                if (dims[d] <= 0) {
                    throw fail(Problem.ABSURD_COUNT, where + " has dimension " + d + " = "
                            + Long.toUnsignedString(dims[d]) + "; every dimension must be at least 1");
                }
                try {
                    elements = Math.multiplyExact(elements, dims[d]);
                } catch (ArithmeticException e) {
                    throw fail(Problem.ABSURD_COUNT, where + " has more elements than fit in 64 bits");
                }
            }
            long typeId = Integer.toUnsignedLong(u32("the type of " + where));
            GgmlType type = GgmlType.byId(typeId).orElseThrow(() -> fail(Problem.UNKNOWN_TENSOR_TYPE, where
                    + " has tensor type " + typeId + ", which this llama.cpp does not support; re-quantise"
                    + " the model with a matching llama.cpp version"));
            long ne0 = nDims == 0 ? 1 : dims[0];
            if (ne0 % type.blockSize() != 0) {
                throw fail(Problem.BAD_SHAPE, where + " is " + type + " with rows of " + ne0
                        + " elements, but " + type + " needs a multiple of " + type.blockSize());
            }
            long bytes;
            try {
                bytes = type.byteSize(elements);
            } catch (ArithmeticException e) {
                throw fail(Problem.ABSURD_COUNT, where + " is larger than 2^63 bytes");
            }
            long offset = u64("the data offset of " + where);
            if (sizes.putIfAbsent(name, bytes) != null) {
                throw fail(Problem.DUPLICATE_TENSOR, where + " is declared twice; the file is corrupt");
            }
            if (offset < 0) {
                throw fail(Problem.TENSOR_OUT_OF_BOUNDS, where + " has data offset "
                        + Long.toUnsignedString(offset) + ", far past the end of the file");
            }
            return new TensorInfo(name, type, dims, offset);
        }

        private long alignUp(long v, int alignment) {
            if (v > Long.MAX_VALUE - alignment) {
                throw fail(Problem.ABSURD_COUNT, "the header is too large");
            }
            return (v + alignment - 1) & -(long) alignment;
        }

        private void checkLayout(List<TensorInfo> tensors, Map<String, Long> sizes, int alignment, long dataOffset) {
            long available = size - dataOffset;
            long expected = 0;
            for (TensorInfo t : tensors) {
                String where = "tensor '" + t.name() + "'";
                long bytes = sizes.get(t.name());
                if (t.offset() % alignment != 0) {
                    throw fail(Problem.MISALIGNED, where + " starts at data offset " + t.offset()
                            + ", which is not a multiple of the alignment " + alignment);
                }
                if (available < 0 || t.offset() > available || bytes > available - t.offset()) {
                    throw fail(Problem.TENSOR_OUT_OF_BOUNDS, where + " needs bytes " + (dataOffset + t.offset())
                            + ".." + (dataOffset + t.offset() + bytes) + " but the file has only " + size
                            + " bytes; the file is truncated (incomplete download?) or corrupt");
                }
                if (t.offset() != expected) {
                    throw fail(Problem.UNEXPECTED_OFFSET, where + " starts at data offset " + t.offset()
                            + " but llama.cpp requires tensors packed in order, i.e. at " + expected);
                }
                // bytes <= available < 2^63 and alignment is small, so this cannot overflow
                expected = t.offset() + ((bytes + alignment - 1) & -(long) alignment);
            }
        }
    }
}
