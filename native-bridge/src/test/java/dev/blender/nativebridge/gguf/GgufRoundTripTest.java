package dev.blender.nativebridge.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufRoundTripTest {
    @TempDir
    Path dir;

    /** Deterministic, non-trivial values so every quantiser sees varied input. */
    static GgufWriter.TensorSource wave(double scale) {
        return (row, out) -> {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (scale * Math.sin(row * 31.0 + i * 0.7) * (1 + (i % 5)));
            }
        };
    }

    static GgufWriter everyTypeWriter() {
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "test")
                .putU8("t.u8", 255)
                .putI8("t.i8", -128)
                .putU16("t.u16", 65535)
                .putI16("t.i16", -32768)
                .putU32("t.u32", 0xFFFF_FFFFL)
                .putI32("t.i32", Integer.MIN_VALUE)
                .putF32("t.f32", 0.1f)
                .putBool("t.bool.true", true)
                .putBool("t.bool.false", false)
                .putString("t.string", "h\u00e9llo \u2581 \uD83D\uDE00")
                .putString("t.empty", "")
                .putU64("t.u64", -1L)
                .putI64("t.i64", Long.MIN_VALUE)
                .putF64("t.f64", Math.PI)
                .putStringArray("t.strings", List.of("a", "", "\u2581b"))
                .putF32Array("t.floats", new float[] {1.5f, -2f, Float.MIN_VALUE})
                .putI32Array("t.ints", new int[] {1, -2, 3})
                .putU32Array("t.u32s", new long[] {0, 0xFFFF_FFFFL})
                .put("t.nested", new GgufValue.Array(GgufValueType.ARRAY, List.of(
                        GgufValue.i32Array(new int[] {1, 2}), GgufValue.i32Array(new int[0]))))
                .put("t.empty.array", new GgufValue.Array(GgufValueType.UINT8, List.of()))
                // every scalar element type, as the reader packs each kind
                .put("t.bools", new GgufValue.Array(GgufValueType.BOOL, List.of(GgufValue.bool(true), GgufValue.bool(false))))
                .put("t.i8s", GgufValue.intArray(GgufValueType.INT8, new long[] {-128, 127}))
                .put("t.u8s", GgufValue.intArray(GgufValueType.UINT8, new long[] {0, 255}))
                .put("t.i16s", GgufValue.intArray(GgufValueType.INT16, new long[] {-32768, 5}))
                .put("t.u16s", GgufValue.intArray(GgufValueType.UINT16, new long[] {65535}))
                .put("t.i64s", GgufValue.intArray(GgufValueType.INT64, new long[] {Long.MIN_VALUE, 1}))
                .put("t.u64s", GgufValue.intArray(GgufValueType.UINT64, new long[] {-1L}))
                .put("t.f64s", new GgufValue.Array(GgufValueType.FLOAT64, List.of(GgufValue.f64(Math.E),
                        GgufValue.f64(-0.0))));
        w.tensor("w.f32", GgmlType.F32, new long[] {5, 3}, wave(1));
        w.tensor("w.f16", GgmlType.F16, new long[] {7, 2, 3}, wave(2));
        w.tensor("w.q8", GgmlType.Q8_0, new long[] {64, 5}, wave(0.3));
        w.tensor("w.q4", GgmlType.Q4_0, new long[] {96, 2, 1, 2}, wave(0.05));
        return w;
    }

    @Test
    void metadataAndTensorInfosRoundTrip() throws IOException {
        GgufWriter w = everyTypeWriter();
        Path file = dir.resolve("every.gguf");
        w.write(file);
        GgufFile g = GgufFile.read(file);

        assertEquals(3, g.version());
        assertEquals(file, g.path());
        assertEquals(List.copyOf(w.metadata().keySet()), List.copyOf(g.metadata().keySet()), "key order");
        assertEquals(w.metadata(), g.metadata());
        assertEquals(w.tensors(), g.tensors());
        assertEquals(Files.size(file), g.fileSize());
        assertEquals(w.fileSize(), g.fileSize());
        checkLayout(g);

        assertEquals("test", g.architecture().orElseThrow());
        assertEquals(255, g.integer("t.u8").orElseThrow());
        assertEquals(-128, g.integer("t.i8").orElseThrow());
        assertEquals(0xFFFF_FFFFL, g.integer("t.u32").orElseThrow());
        assertEquals(-1L, g.integer("t.u64").orElseThrow());
        assertEquals(0.1f, (float) g.real("t.f32").orElseThrow());
        assertEquals(Math.PI, g.real("t.f64").orElseThrow());
        assertEquals(true, g.bool("t.bool.true").orElseThrow());
        assertEquals(false, g.bool("t.bool.false").orElseThrow());
        assertEquals("h\u00e9llo \u2581 \uD83D\uDE00", g.string("t.string").orElseThrow());
        assertEquals(List.of("a", "", "\u2581b"), g.stringArray("t.strings"));
        assertArrayEquals(new double[] {1.5, -2, Float.MIN_VALUE}, g.floatArray("t.floats"));
        assertArrayEquals(new long[] {1, -2, 3}, g.intArray("t.ints"));
        assertArrayEquals(new long[] {0, 0xFFFF_FFFFL}, g.intArray("t.u32s"));
        assertArrayEquals(new long[] {Long.MIN_VALUE, 1}, g.intArray("t.i64s"));
        assertArrayEquals(new double[] {Math.E, -0.0}, g.floatArray("t.f64s"));
        assertEquals(List.of(GgufValue.bool(true), GgufValue.bool(false)),
                ((GgufValue.Array) g.value("t.bools").orElseThrow()).elements());
        assertEquals(w.metadata().get("t.strings").hashCode(), g.metadata().get("t.strings").hashCode());
        assertTrue(g.string("t.u8").isEmpty(), "typed accessor ignores other types");
        assertTrue(g.integer("missing").isEmpty());
        assertEquals(List.of(), g.stringArray("t.ints"));
        assertEquals(GgufValueType.UINT16, g.value("t.u16").orElseThrow().type());
        assertEquals(GgufValueType.INT16, g.value("t.i16").orElseThrow().type());

        TensorInfo q4 = g.tensor("w.q4").orElseThrow();
        assertArrayEquals(new long[] {96, 2, 1, 2}, q4.dims());
        assertEquals(96 * 4, q4.elementCount());
        assertEquals(96 * 4 / 32 * 18, q4.byteSize());
        assertTrue(g.tensor("nope").isEmpty());
    }

    @Test
    void tensorDataMatchesQuantisedSource() throws IOException {
        GgufWriter w = everyTypeWriter();
        Path file = dir.resolve("data.gguf");
        w.write(file);
        GgufFile g = GgufFile.read(file);
        byte[] bytes = Files.readAllBytes(file);
        Map<String, Double> scales = Map.of("w.f32", 1.0, "w.f16", 2.0, "w.q8", 0.3, "w.q4", 0.05);
        for (TensorInfo t : g.tensors()) {
            int ne0 = (int) t.dim(0);
            int rowBytes = (int) t.type().byteSize(ne0);
            float[] row = new float[ne0];
            for (long r = 0; r < t.rowCount(); r++) {
                wave(scales.get(t.name())).row(r, row);
                float[] expected = GgmlQuant.dequantizeRow(t.type(), GgmlQuant.quantizeRow(t.type(), row), ne0);
                ByteBuffer in = ByteBuffer.wrap(bytes, (int) (g.absoluteOffset(t) + r * rowBytes), rowBytes)
                        .order(ByteOrder.LITTLE_ENDIAN);
                float[] actual = new float[ne0];
                GgmlQuant.dequantizeRow(t.type(), in, actual);
                assertArrayEquals(expected, actual, t.name() + " row " + r);
            }
        }
    }

    @Test
    void customAlignmentIsRecordedAndHonoured() throws IOException {
        GgufWriter w = new GgufWriter().alignment(64).putString("general.architecture", "x");
        w.tensor("a", GgmlType.F32, new long[] {3}, wave(1));
        w.tensor("b", GgmlType.F16, new long[] {5, 5}, wave(1));
        Path file = dir.resolve("align.gguf");
        w.write(file);
        GgufFile g = GgufFile.read(file);
        assertEquals(64, g.alignment());
        assertEquals(64, g.integer(GgufFile.ALIGNMENT_KEY).orElseThrow());
        assertEquals(64, g.tensor("b").orElseThrow().offset());
        checkLayout(g);
    }

    @Test
    void emptyModelHasOnlyHeader() throws IOException {
        Path file = dir.resolve("empty-model.gguf");
        new GgufWriter().write(file);
        GgufFile g = GgufFile.read(file);
        assertEquals(Map.of(), g.metadata());
        assertEquals(List.of(), g.tensors());
        assertEquals(32, g.dataOffset());
        assertEquals(32, g.fileSize());
    }

    static void checkLayout(GgufFile g) {
        assertEquals(0, g.dataOffset() % g.alignment(), "data section aligned");
        long expected = 0;
        for (TensorInfo t : g.tensors()) {
            assertEquals(0, t.offset() % g.alignment(), t.name() + " aligned");
            assertEquals(expected, t.offset(), t.name() + " packed in order");
            assertTrue(g.absoluteOffset(t) + t.byteSize() <= g.fileSize(), t.name() + " inside file");
            expected += (t.byteSize() + g.alignment() - 1) / g.alignment() * g.alignment();
        }
        assertEquals(g.dataOffset() + expected, g.fileSize(), "file size = data offset + aligned tensor sizes");
    }

    @Test
    void writerRejectsBadDeclarations() {
        GgufWriter w = new GgufWriter().putU32("k", 1);
        w.tensor("t", GgmlType.F32, new long[] {4}, wave(1));
        assertThrows(IllegalArgumentException.class, () -> w.putU32("k", 2));
        assertThrows(IllegalArgumentException.class, () -> w.putU32(GgufFile.ALIGNMENT_KEY, 64));
        assertThrows(IllegalArgumentException.class, () -> w.putU8("u8", 256));
        assertThrows(IllegalArgumentException.class, () -> w.putU32("neg", -1));
        assertThrows(IllegalArgumentException.class, () -> w.tensor("t", GgmlType.F32, new long[] {4}, wave(1)));
        assertThrows(IllegalArgumentException.class, () -> w.tensor("k4", GgmlType.Q4_K, new long[] {256}, wave(1)));
        assertThrows(IllegalArgumentException.class, () -> w.tensor("q8", GgmlType.Q8_0, new long[] {33}, wave(1)));
        assertThrows(IllegalArgumentException.class,
                () -> w.tensor("d5", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, wave(1)));
        assertThrows(IllegalArgumentException.class, () -> w.tensor("d0", GgmlType.F32, new long[] {4, 0}, wave(1)));
        assertThrows(IllegalArgumentException.class,
                () -> w.tensor("x".repeat(64), GgmlType.F32, new long[] {4}, wave(1)));
        assertThrows(IllegalArgumentException.class, () -> w.alignment(64), "alignment after tensors");
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().alignment(48));
    }

    @Test
    void failedWriteLeavesTargetAndNoTempFile() throws IOException {
        Path file = dir.resolve("keep.gguf");
        Files.writeString(file, "previous");
        GgufWriter w = new GgufWriter();
        w.tensor("boom", GgmlType.F32, new long[] {8, 4}, (row, out) -> {
            if (row == 2) {
                throw new IllegalStateException("source failed");
            }
        });
        assertThrows(IllegalStateException.class, () -> w.write(file));
        assertEquals("previous", Files.readString(file));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList());
        }
        assertFalse(Files.exists(dir.resolve("boom")));
    }
}
