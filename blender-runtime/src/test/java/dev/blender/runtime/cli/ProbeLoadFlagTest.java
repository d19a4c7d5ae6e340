package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.ModelLoadException;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --probe-load}/{@code --probe-timeout} and {@code "probeLoad"}/{@code "probeTimeoutSeconds"} reach every
 * model the blend loads, and the models {@code inspect} and {@code perplexity} load.
 */
class ProbeLoadFlagTest {
    @TempDir
    Path dir;

    private static boolean everyModelProbed(BlenderConfig c) {
        return c.modelOptions().probeLoad() && c.perModelOptions().values().stream().allMatch(o -> o.probeLoad());
    }

    @Test
    void theFlagSwitchesItOnForEveryModel() {
        Path a = TestModels.tiny(1, 1);
        Path b = TestModels.tiny(2, 1);
        BlenderConfig on = RemoteFlagsTest.parse("-m", a.toString(), "-m", b.toString(), "--probe-load", "1+1=").config();
        assertTrue(everyModelProbed(on));
        for (Path p : on.generators()) {
            assertTrue(on.modelOptionsFor(p).probeLoad(), p.toString());
        }
        // and the blend loads them through the probe
        try (Blender blender = Blender.create(on)) {
            blender.warmUp((done, total, file) -> { });
        }
        BlenderConfig off = RemoteFlagsTest.parse("-m", a.toString(), "1+1=").config();
        assertFalse(off.modelOptions().probeLoad());
    }

    @Test
    void theConfigKeyOverridesPerModelOptionsAndTheFlagAppliesOnTopOfAFile() throws Exception {
        Path a = TestModels.tiny(1, 1);
        String models = "\"models\": [{\"path\": \"" + a + "\", \"threads\": 2}]";
        BlenderConfig on = BlenderConfigJson.fromJson(
                "{" + models + ", \"probeLoad\": true}", dir).buildConfig();
        assertTrue(everyModelProbed(on));
        assertTrue(on.modelOptionsFor(a).probeLoad() && on.modelOptionsFor(a).threads() == 2);

        Path file = Files.writeString(dir.resolve("blend.json"), "{" + models + "}");
        assertFalse(RemoteFlagsTest.parse("--config", file.toString(), "1+1=").config().modelOptionsFor(a).probeLoad());
        assertTrue(everyModelProbed(RemoteFlagsTest.parse("--config", file.toString(), "--probe-load", "1+1=").config()));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlenderConfigJson.fromJson(
                "{" + models + ", \"probeLoad\": \"yes\"}", dir));
        assertTrue(e.getMessage().contains("probeLoad"), e.getMessage());
    }

    @Test
    void theTimeoutReachesEveryModelFromTheFlagAndTheConfigAndIsValidated() throws Exception {
        Path a = TestModels.tiny(1, 1);
        BlenderConfig flag = RemoteFlagsTest.parse("-m", a.toString(), "--probe-load", "--probe-timeout", "42.5", "1+1=")
                .config();
        assertTrue(everyModelProbed(flag));
        assertEquals(Duration.ofMillis(42_500), flag.modelOptionsFor(a).probeTimeout());

        String models = "\"models\": [{\"path\": \"" + a + "\", \"threads\": 2}]";
        BlenderConfig file = BlenderConfigJson.fromJson(
                "{" + models + ", \"probeLoad\": true, \"probeTimeoutSeconds\": 30}", dir).buildConfig();
        assertEquals(Duration.ofSeconds(30), file.modelOptionsFor(a).probeTimeout());
        assertEquals(2, file.modelOptionsFor(a).threads());
        assertEquals(ModelOptions.DEFAULT_PROBE_TIMEOUT, RemoteFlagsTest.parse("-m", a.toString(), "--probe-load", "1+1=")
                .config().modelOptionsFor(a).probeTimeout());

        for (String bad : new String[] {"0", "-3", "NaN", "Infinity"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RemoteFlagsTest.parse(
                    "-m", a.toString(), "--probe-load", "--probe-timeout", bad, "1+1=").config(), bad);
            assertTrue(e.getMessage().startsWith("--probe-timeout: the probe timeout must be a positive number of seconds"),
                    e.getMessage());
        }
        for (String bad : new String[] {"0", "-1", "\"ten\""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlenderConfigJson.fromJson(
                    "{" + models + ", \"probeTimeoutSeconds\": " + bad + "}", dir), bad);
            assertTrue(e.getMessage().contains("probeTimeoutSeconds"), e.getMessage());
        }
    }

    @Test
    void aProbeOverItsTimeoutFailsTheBlendWithAClearError() throws Exception {
        Path a = Files.copy(TestModels.tiny(1, 1), dir.resolve("timed.gguf"));
        BlenderConfig hurried = RemoteFlagsTest.parse("-m", a.toString(), "--probe-load", "--probe-timeout", "0.05",
                "1+1=").config();
        try (Blender blender = Blender.create(hurried)) {
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> blender.warmUp((done, total, file) -> { }));
            assertTrue(e.getMessage().contains("timed.gguf") && e.getMessage().contains("did not finish within 0.05 s"),
                    e.getMessage());
        }
    }

    @Test
    void inspectProbesEachFileWithTheFlag() throws Exception {
        Path a = Files.copy(TestModels.tiny(1, 1), dir.resolve("inspected.gguf"));
        BlenderCliTest.Run r = BlenderCliTest.run("inspect", "--probe-load", a.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("probe-load: loaded and decoded one token in a child JVM"), r.out());
        assertFalse(BlenderCliTest.run("inspect", a.toString()).out().contains("probe-load"));
        // the timeout reaches the probe: no JVM starts in 50 ms
        Path b = Files.copy(TestModels.tiny(2, 1), dir.resolve("inspected-too.gguf"));
        BlenderCliTest.Run late = BlenderCliTest.run("inspect", "--probe-load", "--probe-timeout", "0.05", b.toString());
        assertEquals(2, late.code(), late.out());
        assertTrue(late.err().contains("inspected-too.gguf") && late.err().contains("did not finish within 0.05 s"),
                late.err());
    }

    @Test
    void perplexityProbesItsModelsWithTheFlag() throws Exception {
        Path a = Files.copy(TestModels.tiny(1, 1), dir.resolve("scored.gguf"));
        Path text = Files.writeString(dir.resolve("text.txt"), "Once upon a time there was a cat. It sat.\n\nThe end.");
        BlenderCliTest.Run r = BlenderCliTest.run("perplexity", "-m", a.toString(), "--text", text.toString(),
                "--probe-load");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("member:scored"), r.out());
        Path b = Files.copy(TestModels.tiny(2, 1), dir.resolve("scored-late.gguf"));
        BlenderCliTest.Run late = BlenderCliTest.run("perplexity", "-m", b.toString(), "--text", text.toString(),
                "--probe-load", "--probe-timeout", "0.05");
        assertEquals(2, late.code(), late.out());
        assertTrue(late.err().contains("scored-late.gguf") && late.err().contains("did not finish within 0.05 s"),
                late.err());
    }
}
