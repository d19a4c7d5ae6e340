package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.runtime.lora.LoraExtractor;
import dev.blender.runtime.merge.MergeListener;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServedModelsTest {

    @Test
    void membersAreServedUnderTheNamesTheirCandidatesCarry(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.gguf");
        SyntheticLlama.builder().weightSeed(1).build().writeTo(base);
        SyntheticLlama.builder().weightSeed(2).build().writeTo(dir.resolve("tuned.gguf"));
        Path adapter = LoraExtractor.extract(base, dir.resolve("tuned.gguf"), 4, dir.resolve("tuned.lora.gguf"),
                MergeListener.NONE).output();
        Path other = Files.createDirectories(dir.resolve("other")).resolve("base.gguf");
        Files.copy(base, other);
        BlenderConfig config = Blender.builder().generator(base).generator(base, adapter, 1f, "tuned")
                .generator(other).buildConfig();

        ServedModels served = ServedModels.of("blend", config);
        // a file by its file name, an adapter member by its name (not its adapter file's), a second file
        // of a taken name with its position
        assertEquals(List.of("blend", "base.gguf", "tuned", "base.gguf@3"), served.ids());
        assertEquals(adapter, served.resolve("tuned").path());
        assertNull(served.resolve("blend"));
        assertThrows(ApiException.class, () -> served.resolve("tuned.lora.gguf"));
    }
}
