package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MergeCommandTest {

    @Test
    void mergesPrintsOneLineAndRefusesBadRequests(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.gguf");
        Path ft = dir.resolve("ft.gguf");
        SyntheticLlama.builder().weightSeed(1).build().writeTo(base);
        SyntheticLlama.builder().weightSeed(2).build().writeTo(ft);
        Path out = dir.resolve("ties.gguf");

        BlenderCliTest.Run r = BlenderCliTest.run("merge", "--method", "ties", "--base", base.toString(), "-m",
                ft.toString(), "--density", "0.3", "--type", "q8_0", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.out().strip().lines().count(), r.out());
        assertTrue(r.out().contains("ties merge of 1 model(s), 21 tensors") && r.out().contains("q8_0"), r.out());
        assertTrue(r.err().contains("21/21"), "progress on stderr: " + r.err());
        GgufFile g = GgufFile.read(out);
        assertEquals(0.3, g.real("blender.merge.density").orElseThrow());
        assertEquals(GgmlType.Q8_0, g.tensor("blk.0.attn_q.weight").orElseThrow().type());

        byte[] before = Files.readAllBytes(ft);
        BlenderCliTest.Run overwrite = BlenderCliTest.run("merge", "--method", "linear", "-m", base.toString(), "-m",
                ft.toString(), "-o", ft.toString());
        assertEquals(2, overwrite.code());
        assertTrue(overwrite.err().contains("is one of the inputs"), overwrite.err());
        assertArrayEquals(before, Files.readAllBytes(ft));

        BlenderCliTest.Run noBase = BlenderCliTest.run("merge", "--method", "dare", "-m", ft.toString(), "-o",
                dir.resolve("x.gguf").toString());
        assertEquals(2, noBase.code());
        assertTrue(noBase.err().contains("--base"), noBase.err());
        BlenderCliTest.Run badDrop = BlenderCliTest.run("merge", "--method", "dare", "--base", base.toString(), "-m",
                ft.toString(), "--drop", "1", "-o", dir.resolve("x.gguf").toString());
        assertTrue(badDrop.err().contains("--drop must be in [0, 1)"), badDrop.err());
        assertFalse(Files.exists(dir.resolve("x.gguf")));

        BlenderCliTest.Run help = BlenderCliTest.run("merge", "--help");
        assertEquals(0, help.code());
        for (String s : new String[] {"linear", "task-arithmetic", "ties", "dare", "--density", "--drop", "--type"}) {
            assertTrue(help.out().contains(s), s + " in help");
        }
    }
}
