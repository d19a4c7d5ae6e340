package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.TestModels;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Reads the project's real GGUF files; skipped where the shared folder is absent. */
class RealModelsTest {

    @Test
    void stories260K() {
        GgufFile g = GgufFile.read(TestModels.sharedFile("models/stories260K.gguf"));
        assertEquals(3, g.version());
        assertEquals("llama", g.architecture().orElseThrow());
        assertEquals(512, g.stringArray("tokenizer.ggml.tokens").size());
        assertArrayEquals(new long[] {64, 512}, g.tensor("token_embd.weight").orElseThrow().dims());
        assertEquals(5, g.integer("llama.block_count").orElseThrow());
        GgufRoundTripTest.checkLayout(g);
    }

    @Test
    void arithModels() throws IOException {
        Path dir = TestModels.sharedFile("models/arith");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no .gguf files in " + dir);
        for (Path p : files) {
            GgufFile g = GgufFile.read(p);
            assertEquals("llama", g.architecture().orElseThrow(), p.toString());
            assertFalse(g.tensors().isEmpty(), p.toString());
        }
    }
}
