package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LoraAdapter;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraCommandTest {

    @Test
    void extractsPrintsOneLineAndRefusesBadRequests(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.gguf");
        Path ft = dir.resolve("ft.gguf");
        SyntheticLlama.builder().weightSeed(1).build().writeTo(base);
        SyntheticLlama.builder().weightSeed(2).build().writeTo(ft);
        Path out = dir.resolve("ft-r4.gguf");

        BlenderCliTest.Run r = BlenderCliTest.run("lora", "extract", "--base", base.toString(), "--tuned", ft.toString(),
                "--rank", "4", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.out().strip().lines().count(), r.out());
        assertTrue(r.out().contains("16 matrices at rank 4 (alpha 4)"), r.out());
        assertTrue(r.err().contains("16/16"), "progress on stderr: " + r.err());
        GgufFile adapter = GgufFile.read(out);
        assertEquals("adapter", adapter.string("general.type").orElseThrow());
        assertEquals(4.0, adapter.real("adapter.lora.alpha").orElseThrow());
        Map<String, Integer> ranks = LoraAdapter.validate(adapter, GgufFile.read(base));
        assertEquals(16, ranks.size());
        assertTrue(ranks.values().stream().allMatch(x -> x == 4), ranks.toString());

        byte[] before = Files.readAllBytes(ft);
        BlenderCliTest.Run overwrite = BlenderCliTest.run("lora", "extract", "--base", base.toString(), "--tuned",
                ft.toString(), "--rank", "4", "-o", ft.toString());
        assertEquals(2, overwrite.code());
        assertTrue(overwrite.err().contains("would overwrite"), overwrite.err());
        assertArrayEquals(before, Files.readAllBytes(ft));

        BlenderCliTest.Run same = BlenderCliTest.run("lora", "extract", "--base", base.toString(), "--tuned",
                base.toString(), "--rank", "4", "-o", dir.resolve("x.gguf").toString());
        assertEquals(2, same.code());
        assertTrue(same.err().contains("nothing to put in an adapter"), same.err());
        BlenderCliTest.Run rank0 = BlenderCliTest.run("lora", "extract", "--base", base.toString(), "--tuned",
                ft.toString(), "--rank", "0", "-o", dir.resolve("x.gguf").toString());
        assertTrue(rank0.err().contains("rank must be >= 1"), rank0.err());
        assertTrue(Files.notExists(dir.resolve("x.gguf")));

        BlenderCliTest.Run help = BlenderCliTest.run("lora", "extract", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("--rank") && help.out().contains("norms"), help.out());
    }
}
