package dev.blender.nativebridge.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Builds a GGUF v3 file: collect metadata and tensor declarations, then {@link #write(Path)} streams
 * tensor data row by row from each {@link TensorSource}, so models far larger than the heap can be written.
 * Tensors are packed in declaration order, each padded to the alignment, exactly as llama.cpp expects.
 */
public final class GgufWriter {

    /** Supplies a tensor's values one row ({@code ne[0]} values) at a time. */
    @FunctionalInterface
    public interface TensorSource {
        /**
         * Fills {@code out} (length {@code ne[0]}) with row {@code rowIndex}, where rows are numbered
         * over the remaining dimensions with {@code ne[1]} varying fastest.
         */
        void row(long rowIndex, float[] out);
    }

    private record PendingTensor(TensorInfo info, TensorSource source) {
    }

    private static final int BUFFER_BYTES = 1 << 20;

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;
    private long nextOffset;

    /** Creates an empty writer. */
    public GgufWriter() {
    }

    /**
     * Sets the data alignment, recorded as {@code general.alignment}. Call before declaring tensors.
     *
     * @throws IllegalArgumentException if not a power of two, or tensors were already declared
     */
    public GgufWriter alignment(int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        }
        if (!tensors.isEmpty()) {
            throw new IllegalArgumentException("alignment must be set before tensors are declared");
        }
        this.alignment = alignment;
        metadata.put(GgufFile.ALIGNMENT_KEY, GgufValue.u32(alignment));
        return this;
    }

    /** The data alignment in use. */
    public int alignment() {
        return alignment;
    }

    /**
     * Adds a metadata entry.
     *
     * @throws IllegalArgumentException if the key was already added, or it is general.alignment (use
     *     {@link #alignment(int)})
     */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (key.equals(GgufFile.ALIGNMENT_KEY)) {
            throw new IllegalArgumentException("set " + GgufFile.ALIGNMENT_KEY + " with alignment(int)");
        }
        if (metadata.putIfAbsent(key, value) != null) {
            throw new IllegalArgumentException("metadata key '" + key + "' was already added");
        }
        return this;
    }

    /** Adds a {@code STRING}. */
    public GgufWriter putString(String key, String value) {
        return put(key, GgufValue.string(value));
    }

    /** Adds a {@code UINT8} (0..255). */
    public GgufWriter putU8(String key, int value) {
        return put(key, GgufValue.u8(value));
    }

    /** Adds an {@code INT8}. */
    public GgufWriter putI8(String key, int value) {
        return put(key, GgufValue.i8(value));
    }

    /** Adds a {@code UINT16}. */
    public GgufWriter putU16(String key, int value) {
        return put(key, GgufValue.u16(value));
    }

    /** Adds an {@code INT16}. */
    public GgufWriter putI16(String key, int value) {
        return put(key, GgufValue.i16(value));
    }

    /** Adds a {@code UINT32} (0..2^32-1). */
    public GgufWriter putU32(String key, long value) {
        return put(key, GgufValue.u32(value));
    }

    /** Adds an {@code INT32}. */
    public GgufWriter putI32(String key, int value) {
        return put(key, GgufValue.i32(value));
    }

    /** Adds a {@code UINT64} given as its bit pattern. */
    public GgufWriter putU64(String key, long value) {
        return put(key, GgufValue.u64(value));
    }

    /** Adds an {@code INT64}. */
    public GgufWriter putI64(String key, long value) {
        return put(key, GgufValue.i64(value));
    }

    /** Adds a {@code FLOAT32}. */
    public GgufWriter putF32(String key, float value) {
        return put(key, GgufValue.f32(value));
    }

    /** Adds a {@code FLOAT64}. */
    public GgufWriter putF64(String key, double value) {
        return put(key, GgufValue.f64(value));
    }

    /** Adds a {@code BOOL}. */
    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.bool(value));
    }

    /** Adds an array of strings. */
    public GgufWriter putStringArray(String key, List<String> values) {
        return put(key, GgufValue.stringArray(values));
    }

    /** Adds an array of {@code FLOAT32}. */
    public GgufWriter putF32Array(String key, float[] values) {
        return put(key, GgufValue.f32Array(values));
    }

    /** Adds an array of {@code INT32}. */
    public GgufWriter putI32Array(String key, int[] values) {
        return put(key, GgufValue.i32Array(values));
    }

    /** Adds an array of {@code UINT32}. */
    public GgufWriter putU32Array(String key, long[] values) {
        return put(key, GgufValue.intArray(GgufValueType.UINT32, values));
    }

    /** Metadata added so far, in order. */
    public Map<String, GgufValue> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /**
     * Declares a tensor whose data will be pulled from {@code source} during {@link #write(Path)}.
     *
     * @param dims GGUF order, {@code ne[0]} (the row length) first; 1 to 4 positive values
     * @throws IllegalArgumentException for a duplicate or over-long name, an unsupported type, bad dims,
     *     or a row length that is not a multiple of the type's block size
     */
    public GgufWriter tensor(String name, GgmlType type, long[] dims, TensorSource source) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(source, "source");
        if (!GgmlQuant.supports(type)) {
            throw new IllegalArgumentException("tensor '" + name + "': cannot write " + type
                    + "; supported: " + GgmlQuant.SUPPORTED);
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > GgufFile.MAX_TENSOR_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name longer than " + GgufFile.MAX_TENSOR_NAME_BYTES
                    + " bytes: " + name);
        }
        if (dims.length == 0) {
            throw new IllegalArgumentException("tensor '" + name + "' needs at least one dimension");
        }
        if (dims[0] > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + dims[0] + " values are too long");
        }
        if (tensorNames.contains(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' was already declared");
        }
        TensorInfo info = new TensorInfo(name, type, dims, nextOffset);
        nextOffset = Math.addExact(nextOffset, padded(info.byteSize()));
        tensorNames.add(name);
        tensors.add(new PendingTensor(info, source));
        return this;
    }

    /** Tensor infos declared so far, with the offsets they will have in the file. */
    public List<TensorInfo> tensors() {
        return tensors.stream().map(PendingTensor::info).toList();
    }

    /** Size in bytes of the file {@link #write(Path)} would produce now. */
    public long fileSize() {
        return Math.addExact(padded(headerSize()), nextOffset);
    }

    /**
     * Writes the file atomically: data goes to a temporary file in the target's directory, which is then
     * moved over {@code target}, so readers never see a half-written model.
     *
     * @throws IOException on I/O failure; any exception from a {@link TensorSource} propagates unchanged.
     *     Either way the temporary file is removed and {@code target} is untouched.
     */
    public void write(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Path tmp = Files.createTempFile(dir, "." + absolute.getFileName() + ".", ".tmp");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                Output out = new Output(ch);
                writeHeader(out);
                out.pad(alignment);
                for (PendingTensor t : tensors) {
                    writeTensor(out, t);
                    out.pad(alignment);
                }
                out.flush();
                ch.force(false);
            }
            relaxPermissions(tmp);
            try {
                Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, absolute, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static void relaxPermissions(Path file) {
        // createTempFile makes owner-only files; a model is not a secret and other users may need to load it
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException | IOException ignored) {
            // non-POSIX file systems keep their default permissions
        }
    }

    private long padded(long n) {
        return Math.addExact(n, alignment - 1) & -(long) alignment;
    }

    private long headerSize() {
        long n = 4 + 4 + 8 + 8;
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            n += stringSize(e.getKey()) + 4 + valueSize(e.getValue());
        }
        for (PendingTensor t : tensors) {
            n += stringSize(t.info().name()) + 4 + 8L * t.info().rank() + 4 + 8;
        }
        return n;
    }

    private static long stringSize(String s) {
        return 8 + (long) s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static long valueSize(GgufValue v) {
        return switch (v) {
            case GgufValue.Str s -> stringSize(s.value());
            case GgufValue.Array a -> {
                long n = 4 + 8;
                for (GgufValue e : a.elements()) {
                    n += valueSize(e);
                }
                yield n;
            }
            case GgufValue.Bool b -> 1;
            case GgufValue.Int i -> switch (i.type()) {
                case UINT8, INT8 -> 1;
                case UINT16, INT16 -> 2;
                case UINT32, INT32 -> 4;
                default -> 8;
            };
            case GgufValue.Real r -> r.type() == GgufValueType.FLOAT32 ? 4 : 8;
        };
    }

    private void writeHeader(Output out) throws IOException {
        out.ensure(24);
        out.buf.putInt(GgufFile.MAGIC).putInt(3).putLong(tensors.size()).putLong(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            out.string(e.getKey());
            out.ensure(4);
            out.buf.putInt(e.getValue().type().id());
            writeValue(out, e.getValue());
        }
        for (PendingTensor t : tensors) {
            TensorInfo info = t.info();
            out.string(info.name());
            out.ensure(4 + 8 * 4 + 4 + 8);
            out.buf.putInt(info.rank());
            for (long d : info.dims()) {
                out.buf.putLong(d);
            }
            out.buf.putInt(info.type().id());
            out.buf.putLong(info.offset());
        }
    }

    private static void writeValue(Output out, GgufValue v) throws IOException {
        out.ensure(12);
        switch (v) {
            case GgufValue.Str s -> out.string(s.value());
            case GgufValue.Bool b -> out.buf.put((byte) (b.value() ? 1 : 0));
            case GgufValue.Real r -> {
                if (r.type() == GgufValueType.FLOAT32) {
                    out.buf.putFloat((float) r.value());
                } else {
                    out.buf.putDouble(r.value());
                }
            }
            case GgufValue.Int i -> {
                switch (i.type()) {
                    case UINT8, INT8 -> out.buf.put((byte) i.value());
                    case UINT16, INT16 -> out.buf.putShort((short) i.value());
                    case UINT32, INT32 -> out.buf.putInt((int) i.value());
                    default -> out.buf.putLong(i.value());
                }
            }
            case GgufValue.Array a -> {
                out.buf.putInt(a.elementType().id());
                out.buf.putLong(a.elements().size());
                for (GgufValue e : a.elements()) {
                    writeValue(out, e);
                }
            }
        }
    }

    private static void writeTensor(Output out, PendingTensor t) throws IOException {
        TensorInfo info = t.info();
        int ne0 = (int) info.dim(0);
        long rows = info.rowCount();
        float[] row = new float[ne0];
        int rowBytes = Math.toIntExact(info.type().byteSize(ne0));
        // rows that fit are quantised straight into the output buffer; longer ones go through a scratch buffer
        ByteBuffer scratch = rowBytes > BUFFER_BYTES
                ? ByteBuffer.allocate(rowBytes).order(ByteOrder.LITTLE_ENDIAN) : null;
        for (long r = 0; r < rows; r++) {
            t.source().row(r, row);
            if (scratch == null) {
                out.ensure(rowBytes);
                GgmlQuant.quantizeRow(info.type(), row, out.buf);
            } else {
                scratch.clear();
                GgmlQuant.quantizeRow(info.type(), row, scratch);
                out.bytes(scratch.array(), 0, rowBytes);
            }
        }
    }

    /** A little-endian buffer in front of a channel that tracks the absolute position. */
    private static final class Output {
        final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private final FileChannel ch;
        private long flushed;

        Output(FileChannel ch) {
            this.ch = ch;
        }

        void ensure(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                flushed += ch.write(buf);
            }
            buf.clear();
        }

        long position() {
            return flushed + buf.position();
        }

        void bytes(byte[] b, int from, int len) throws IOException {
            while (len > 0) {
                ensure(1);
                int n = Math.min(len, buf.remaining());
                buf.put(b, from, n);
                from += n;
                len -= n;
            }
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            ensure(8);
            buf.putLong(b.length);
            bytes(b, 0, b.length);
        }

        void pad(int alignment) throws IOException {
            long n = -position() & (alignment - 1);
            for (long i = 0; i < n; i++) {
                ensure(1);
                buf.put((byte) 0);
            }
        }
    }
}
