package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufFormatException;
import dev.blender.nativebridge.gguf.GgufFormatException.Problem;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad files must end in a specific exception from {@link LlamaModel#load}, never in llama.cpp aborting
 * the JVM; after every one of them a good model still loads and runs in this same JVM.
 */
class BadModelFileTest {
    @TempDir
    static Path dir;

    interface Corruption {
        Path make(Path valid, Path dir) throws IOException;
    }

    static Stream<Arguments> badFiles() {
        return Stream.of(
                bad("missing", Problem.NOT_FOUND, (v, d) -> d.resolve("no-such-model.gguf")),
                bad("directory", Problem.NOT_A_REGULAR_FILE, (v, d) -> Files.createDirectories(d.resolve("a-dir.gguf"))),
                bad("empty", Problem.EMPTY, (v, d) -> Files.write(d.resolve("empty.gguf"), new byte[0])),
                bad("wrong magic", Problem.BAD_MAGIC, (v, d) -> patch(v, d, "magic", 0, "GGML".getBytes(StandardCharsets.US_ASCII))),
                bad("version 1", Problem.UNSUPPORTED_VERSION, (v, d) -> patch(v, d, "v1", 4, u32(1))),
                bad("version 99", Problem.UNSUPPORTED_VERSION, (v, d) -> patch(v, d, "v99", 4, u32(99))),
                bad("truncated header", Problem.TRUNCATED, (v, d) -> cut(v, d, "hdr", 12)),
                bad("truncated metadata", Problem.TRUNCATED, (v, d) -> cut(v, d, "meta", 200)),
                bad("truncated tensor data", Problem.TENSOR_OUT_OF_BOUNDS, (v, d) -> cut(v, d, "data", Files.size(v) - 100)),
                bad("absurd tensor count", Problem.ABSURD_COUNT, (v, d) -> patch(v, d, "tcount", 8, u64(1L << 60))),
                bad("absurd kv count", Problem.ABSURD_COUNT, (v, d) -> patch(v, d, "kvcount", 16, u64(1L << 59))),
                bad("string length past EOF", Problem.STRING_TOO_LONG, (v, d) -> patch(v, d, "strlen", 24, u64(Files.size(v) + 1000))),
                bad("tensor offset past EOF", Problem.TENSOR_OUT_OF_BOUNDS, (v, d) -> patchLastTensorOffset(v, d, "toff", Files.size(v) * 2 / 32 * 32)),
                bad("misaligned tensor offset", Problem.MISALIGNED, (v, d) -> patchLastTensorOffset(v, d, "tmis", -1)),
                bad("unknown value type", Problem.BAD_VALUE_TYPE, (v, d) -> patch(v, d, "vtype", 24 + 8 + firstKeyLength(v), u32(77))));
    }

    private static Arguments bad(String name, Problem problem, Corruption c) {
        return Arguments.of(name, problem, c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badFiles")
    void badFileGivesSpecificExceptionAndTheJvmStaysUp(String name, Problem problem, Corruption corruption)
            throws IOException {
        Path valid = TestModels.tiny();
        Path badFile = corruption.make(valid, dir);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> LlamaModel.load(badFile), name);
        assertEquals(problem, e.problem(), name + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(badFile.getFileName().toString()), "message names the file: " + e.getMessage());
        assertEquals(badFile.toAbsolutePath(), e.path().toAbsolutePath());
    }

    @Test
    void validGgufOfAnUnknownArchitectureIsAModelLoadException() throws IOException {
        Path p = dir.resolve("unknown-arch.gguf");
        new GgufWriter()
                .putString("general.architecture", "nosucharch")
                .putString("general.name", "nothing")
                .tensor("x.weight", GgmlType.F32, new long[] {32}, (row, out) -> Arrays.fill(out, 1f))
                .write(p);
        GgufFile.read(p); // valid GGUF
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> LlamaModel.load(p));
        assertTrue(e.getMessage().contains("nosucharch"), e.getMessage());
        assertEquals(p.toAbsolutePath(), e.path());
    }

    @AfterAll
    static void aGoodModelStillLoadsAndRuns() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny()); LlamaContext ctx = m.newContext(LlamaModelTest.small())) {
            assertEquals(m.vocab().size(), LlamaModelTest.lastLogits(ctx, m.vocab().tokenize("still alive")).length);
        }
    }

    // ---- corruption helpers ----

    static byte[] u32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    static Path patch(Path valid, Path d, String name, long at, byte[] bytes) throws IOException {
        byte[] all = Files.readAllBytes(valid);
        System.arraycopy(bytes, 0, all, (int) at, bytes.length);
        return Files.write(d.resolve(name + ".gguf"), all);
    }

    static Path cut(Path valid, Path d, String name, long length) throws IOException {
        byte[] all = Files.readAllBytes(valid);
        return Files.write(d.resolve(name + ".gguf"), Arrays.copyOf(all, (int) length));
    }

    static int firstKeyLength(Path valid) throws IOException {
        byte[] head = Arrays.copyOf(Files.readAllBytes(valid), 32);
        return (int) ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong(24);
    }

    /** Rewrites the offset field of the last tensor info; {@code offset < 0} means "its offset + 1". */
    static Path patchLastTensorOffset(Path valid, Path d, String name, long offset) throws IOException {
        GgufFile g = GgufFile.read(valid);
        TensorInfo last = g.tensors().get(g.tensors().size() - 1);
        byte[] all = Files.readAllBytes(valid);
        byte[] nameBytes = last.name().getBytes(StandardCharsets.UTF_8);
        int at = lastIndexOf(all, nameBytes, (int) g.dataOffset());
        int offsetField = at + nameBytes.length + 4 + 8 * last.dims().length + 4;
        long value = offset < 0 ? last.offset() + 1 : offset;
        System.arraycopy(u64(value), 0, all, offsetField, 8);
        return Files.write(d.resolve(name + ".gguf"), all);
    }

    private static int lastIndexOf(byte[] hay, byte[] needle, int before) {
        for (int i = before - needle.length; i >= 0; i--) {
            if (Arrays.equals(hay, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new AssertionError("tensor name not found in header");
    }
}
