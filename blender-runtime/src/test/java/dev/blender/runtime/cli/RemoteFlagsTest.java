package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.BlenderConfig;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code -m http://host:port/v1#model} beside model files. */
class RemoteFlagsTest {
    static BlenderOptions parse(String... args) {
        RunCommand run = new RunCommand();
        new CommandLine(run).parseArgs(args);
        return run.blender;
    }

    @Test
    void aUrlIsARemoteMemberAndAFileALocalOne() {
        Path local = TestModels.tiny(1, 1);
        BlenderConfig c = parse("-m", "http://127.0.0.1:8080/v1#qwen2.5:0.5b", "-m", local.toString(),
                "--strategy", "majority", "1+1=").config();
        assertEquals(List.of("qwen2.5:0.5b", BlenderConfig.shortName(local)), c.generatorNames());
        BlenderConfig.RemoteMember r = c.remote(c.generators().get(0)).orElseThrow();
        assertEquals(URI.create("http://127.0.0.1:8080/v1"), r.endpoint().baseUrl());
        assertEquals("qwen2.5:0.5b", r.endpoint().model());
    }

    @Test
    void aMalformedUrlIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> parse("-m", "http://:8080/v1#m", "1+1=").config());
        assertTrue(e.getMessage().startsWith("-m http://:8080/v1#m: malformed URL"), e.getMessage());
    }

    @Test
    void perTokenMixingRefusesAServer() {
        ModelFlags flags = new ModelFlags();
        flags.models.add("http://127.0.0.1:8080/v1#a");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> flags.files("blend"));
        assertTrue(e.getMessage().contains("GGUF files only"), e.getMessage());
    }
}
