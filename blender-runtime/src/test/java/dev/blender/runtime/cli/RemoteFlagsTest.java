package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.remote.RemoteEndpoint;
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
        dev.blender.runtime.member.Member.Remote r = c.remote(c.generators().get(0)).orElseThrow();
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

    @Test
    void theJudgeAndTheFuserMayBeServersToo() {
        Path local = TestModels.tiny(1, 1);
        BlenderConfig c = parse("-m", local.toString(), "-m", "http://127.0.0.1:8080/v1#a",
                "--judge", "http://127.0.0.1:8081/v1#qwen-judge", "--fuser", "http://127.0.0.1:8082/v1",
                "--strategy", "full-blend", "1+1=").config();
        dev.blender.runtime.member.Member.Remote judge = c.remote(c.judge()).orElseThrow();
        assertEquals(URI.create("http://127.0.0.1:8081/v1"), judge.endpoint().baseUrl());
        assertEquals("qwen-judge", judge.name());
        // the judge reads log-probabilities of its verdicts, which only completions give for a raw prompt
        assertEquals(RemoteEndpoint.Api.COMPLETIONS, judge.endpoint().api());
        assertEquals("fuser", c.remote(c.fuser()).orElseThrow().name(), "no model after #: named by its role");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> parse("-m", local.toString(), "--judge", "http://:1/v1", "1+1=").config());
        assertTrue(e.getMessage().startsWith("--judge http://:1/v1: malformed URL"), e.getMessage());
        // a local file still works as before
        BlenderConfig files = parse("-m", local.toString(), "--judge", local.toString(), "1+1=").config();
        assertTrue(files.remote(files.judge()).isEmpty());
    }
}
