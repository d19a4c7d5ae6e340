package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.gguf.GgufFormatException.Problem;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Valid files corrupted at computed positions, each expecting a specific, well-described problem. */
class GgufCorruptFileTest {
    @TempDir
    Path dir;

    private byte[] base;

    @BeforeEach
    void writeBase() throws IOException {
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.description", "x".repeat(200))
                .putU32("key.a", 7)
                .putU32("key.b", 8)
                .putI32Array("arr.val", new int[] {1, 2, 3})
                .putString("str.val", "hello");
        w.tensor("t.one", GgmlType.F32, new long[] {32, 2}, (r, out) -> Arrays.fill(out, r));
        w.tensor("t.two", GgmlType.F32, new long[] {32, 3}, (r, out) -> Arrays.fill(out, -r));
        Path p = dir.resolve("base.gguf");
        w.write(p);
        base = Files.readAllBytes(p);
        GgufFile.read(p);
    }

    /** Position of the unique occurrence of {@code text} (a key or tensor name) in the file. */
    private int at(String text) {
        byte[] needle = text.getBytes(StandardCharsets.UTF_8);
        int found = -1;
        for (int i = 0; i + needle.length <= base.length; i++) {
            if (Arrays.equals(base, i, i + needle.length, needle, 0, needle.length)) {
                assertEquals(-1, found, "'" + text + "' must occur once");
                found = i;
            }
        }
        assertTrue(found >= 0, "'" + text + "' not found");
        return found;
    }

    /** Position just after the name {@code text}, i.e. the field that follows it. */
    private int after(String text) {
        return at(text) + text.getBytes(StandardCharsets.UTF_8).length;
    }

    private static byte[] withU32(byte[] b, int at, long v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(at, (int) v);
        return c;
    }

    private static byte[] withU64(byte[] b, int at, long v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong(at, v);
        return c;
    }

    private static byte[] withText(byte[] b, int at, String text) {
        byte[] c = b.clone();
        byte[] t = text.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(t, 0, c, at, t.length);
        return c;
    }

    private Path save(String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    private static GgufFormatException expect(Path file, Problem problem) {
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.read(file));
        assertEquals(problem, e.problem(), e.getMessage());
        assertEquals(file, e.path());
        assertTrue(e.getMessage().contains(file.getFileName().toString()), e.getMessage());
        return e;
    }

    private void expect(String name, byte[] content, Problem problem) throws IOException {
        expect(save(name, content), problem);
    }

    @Test
    void missingFile() {
        expect(dir.resolve("missing.gguf"), Problem.NOT_FOUND);
    }

    @Test
    void directory() throws IOException {
        Path d = Files.createDirectory(dir.resolve("model.gguf"));
        assertTrue(expect(d, Problem.NOT_A_REGULAR_FILE).getMessage().contains("directory"));
    }

    @Test
    void emptyFile() throws IOException {
        expect("empty.gguf", new byte[0], Problem.EMPTY);
    }

    @Test
    void wrongMagic() throws IOException {
        expect("magic.gguf", withText(base, 0, "GGUG"), Problem.BAD_MAGIC);
        expect("text.gguf", "{\"not\": \"a model\"}".getBytes(StandardCharsets.UTF_8), Problem.BAD_MAGIC);
        expect("short-bad.gguf", new byte[] {'X'}, Problem.BAD_MAGIC);
    }

    @Test
    void unsupportedVersions() throws IOException {
        assertTrue(expect(save("v1.gguf", withU32(base, 4, 1)), Problem.UNSUPPORTED_VERSION)
                .getMessage().contains("version 1"));
        assertTrue(expect(save("v99.gguf", withU32(base, 4, 99)), Problem.UNSUPPORTED_VERSION)
                .getMessage().contains("version 99"));
        GgufFile v2 = GgufFile.read(save("v2.gguf", withU32(base, 4, 2)));
        assertEquals(2, v2.version());
    }

    @Test
    void truncatedHeader() throws IOException {
        expect("head10.gguf", Arrays.copyOf(base, 10), Problem.TRUNCATED);
        expect("head2.gguf", Arrays.copyOf(base, 2), Problem.TRUNCATED);
    }

    @Test
    void truncatedMetadata() throws IOException {
        // cut inside the length prefix of the last entry's string value, and inside a u32 value
        expect("meta.gguf", Arrays.copyOf(base, after("str.val") + 4 + 3), Problem.TRUNCATED);
        expect("meta2.gguf", Arrays.copyOf(base, after("key.b") + 4 + 2), Problem.TRUNCATED);
    }

    @Test
    void truncatedTensorInfo() throws IOException {
        expect("info.gguf", Arrays.copyOf(base, after("t.two") + 10), Problem.TRUNCATED);
    }

    @Test
    void truncatedTensorData() throws IOException {
        GgufFile g = GgufFile.read(save("ok.gguf", base));
        TensorInfo last = g.tensors().getLast();
        int end = (int) (g.absoluteOffset(last) + last.byteSize());
        expect("data.gguf", Arrays.copyOf(base, end - 1), Problem.TENSOR_OUT_OF_BOUNDS);
        expect("data-half.gguf", Arrays.copyOf(base, (int) g.dataOffset() + 100), Problem.TENSOR_OUT_OF_BOUNDS);
    }

    @Test
    void absurdTensorCountFailsFastWithoutAllocating() throws IOException {
        byte[] tiny = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(GgufFile.MAGIC).putInt(3).putLong(1L << 60).putLong(0).array();
        long start = System.nanoTime();
        expect("tensors40.gguf", tiny, Problem.ABSURD_COUNT);
        assertTrue(System.nanoTime() - start < 1_000_000_000L);
        expect("tensors.gguf", withU64(base, 8, 1L << 60), Problem.ABSURD_COUNT);
        expect("tensors-max.gguf", withU64(base, 8, -1L), Problem.ABSURD_COUNT);
    }

    @Test
    void absurdKvCount() throws IOException {
        expect("kv.gguf", withU64(base, 16, 1L << 60), Problem.ABSURD_COUNT);
        expect("kv-max.gguf", withU64(base, 16, -1L), Problem.ABSURD_COUNT);
    }

    @Test
    void absurdArrayLength() throws IOException {
        // after the key: value type (4), element type (4), then the u64 length
        expect("array.gguf", withU64(base, after("arr.val") + 8, 1L << 59), Problem.ABSURD_COUNT);
        expect("array-max.gguf", withU64(base, after("arr.val") + 8, -1L), Problem.ABSURD_COUNT);
    }

    @Test
    void stringLengthPastEndOfFile() throws IOException {
        expect("string.gguf", withU64(base, after("str.val") + 4, base.length + 100L), Problem.STRING_TOO_LONG);
        // the key of the entry: its length prefix sits right before the key text
        expect("key.gguf", withU64(base, at("key.b") - 8, -5L), Problem.STRING_TOO_LONG);
    }

    @Test
    void unknownValueTypes() throws IOException {
        expect("vtype.gguf", withU32(base, after("key.b"), 13), Problem.BAD_VALUE_TYPE);
        expect("etype.gguf", withU32(base, after("arr.val") + 4, 0xFFFF_FFFFL), Problem.BAD_VALUE_TYPE);
    }

    @Test
    void duplicateKeyAndTensor() throws IOException {
        assertTrue(expect(save("dupkey.gguf", withText(base, at("key.b"), "key.a")), Problem.DUPLICATE_KEY)
                .getMessage().contains("key.a"));
        expect("duptensor.gguf", withText(base, at("t.two"), "t.one"), Problem.DUPLICATE_TENSOR);
    }

    @Test
    void tensorInfoProblems() throws IOException {
        int nDims = after("t.two");
        int type = nDims + 4 + 2 * 8;
        int offset = type + 4;
        expect("ndims.gguf", withU32(base, nDims, 5), Problem.ABSURD_COUNT);
        expect("dim0.gguf", withU64(base, nDims + 4, 0), Problem.ABSURD_COUNT);
        expect("dimneg.gguf", withU64(base, nDims + 4, -32), Problem.ABSURD_COUNT);
        expect("overflow.gguf", withU64(withU64(base, nDims + 4, 1L << 40), nDims + 12, 1L << 40),
                Problem.ABSURD_COUNT);
        expect("ttype.gguf", withU32(base, type, 4), Problem.UNKNOWN_TENSOR_TYPE);
        expect("ttype99.gguf", withU32(base, type, 99), Problem.UNKNOWN_TENSOR_TYPE);
        expect("shape.gguf", withU32(base, type, GgmlType.Q4_K.id()), Problem.BAD_SHAPE);
        expect("misaligned.gguf", withU64(base, offset, 256 + 4), Problem.MISALIGNED);
        expect("pastend.gguf", withU64(base, offset, 1L << 40), Problem.TENSOR_OUT_OF_BOUNDS);
        expect("hugeoffset.gguf", withU64(base, offset, -32), Problem.TENSOR_OUT_OF_BOUNDS);
        expect("overlap.gguf", withU64(base, offset, 0), Problem.UNEXPECTED_OFFSET);
    }

    @Test
    void badAlignment() throws IOException {
        GgufWriter w = new GgufWriter().alignment(64);
        w.tensor("t", GgmlType.F32, new long[] {4}, (r, out) -> { });
        Path p = dir.resolve("a64.gguf");
        w.write(p);
        base = Files.readAllBytes(p);
        assertEquals(64, GgufFile.read(p).alignment());
        expect("a48.gguf", withU32(base, after(GgufFile.ALIGNMENT_KEY) + 4, 48), Problem.MISALIGNED);
        expect("a0.gguf", withU32(base, after(GgufFile.ALIGNMENT_KEY) + 4, 0), Problem.MISALIGNED);
        expect("atype.gguf", withU32(base, after(GgufFile.ALIGNMENT_KEY), GgufValueType.INT32.id()),
                Problem.MISALIGNED);
    }

    @Test
    void longTensorName() throws IOException {
        String name = "n".repeat(63);
        GgufWriter w = new GgufWriter();
        w.tensor(name, GgmlType.F32, new long[] {4}, (r, out) -> { });
        Path p = dir.resolve("long.gguf");
        w.write(p);
        base = Files.readAllBytes(p);
        GgufFile.read(p);
        // grow the declared name by one byte, swallowing the first byte of n_dims
        expect("long64.gguf", withU64(base, at(name) - 8, 64), Problem.BAD_TENSOR_NAME);
    }

    @Test
    void deeplyNestedArraysAreRejected() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(GgufFile.MAGIC).putInt(3).putLong(0).putLong(1).putLong(1).put((byte) 'k').putInt(9);
        for (int i = 0; i < 100; i++) {
            b.putInt(9).putLong(1);
        }
        b.putInt(0).putLong(0);
        expect("nested.gguf", Arrays.copyOf(b.array(), b.position()), Problem.ABSURD_COUNT);
    }

    /** Random damage must only ever produce GgufFormatException, never a low-level exception. */
    @Test
    void randomCorruptionNeverEscapesAsOtherExceptions() throws IOException {
        SplittableRandom r = new SplittableRandom(7);
        Path p = dir.resolve("fuzz.gguf");
        for (int i = 0; i < 600; i++) {
            byte[] c = base.clone();
            int edits = 1 + r.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int pos = r.nextInt(Math.min(c.length, 700));
                c[pos] = switch (r.nextInt(3)) {
                    case 0 -> (byte) r.nextInt(256);
                    case 1 -> (byte) 0xFF;
                    default -> 0;
                };
            }
            if (r.nextInt(4) == 0) {
                c = Arrays.copyOf(c, r.nextInt(c.length));
            }
            Files.write(p, c);
            readOrReject(p);
        }
        for (int len = 1; len < base.length; len += 3) {
            Files.write(p, Arrays.copyOf(base, len));
            readOrReject(p);
        }
    }

    private static void readOrReject(Path p) {
        try {
            GgufFile.read(p);
        } catch (GgufFormatException expected) {
            assertTrue(expected.getMessage().contains(p.getFileName().toString()));
        } catch (RuntimeException | Error e) {
            fail("unexpected " + e, e);
        }
    }

    @Test
    void problemsCoverTheDocumentedSet() {
        for (String required : List.of("NOT_FOUND", "NOT_A_REGULAR_FILE", "UNREADABLE", "EMPTY", "BAD_MAGIC",
                "UNSUPPORTED_VERSION", "TRUNCATED", "ABSURD_COUNT", "STRING_TOO_LONG", "BAD_VALUE_TYPE",
                "UNKNOWN_TENSOR_TYPE", "DUPLICATE_KEY", "DUPLICATE_TENSOR", "MISALIGNED", "TENSOR_OUT_OF_BOUNDS",
                "BAD_SHAPE")) {
            Problem.valueOf(required);
        }
    }
}
