package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --probe-load} and {@code "probeLoad": true} reach every model the blend loads. */
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
        BlenderConfig on = BlenderConfigJson.fromJson(new ObjectMapper().readTree(
                "{" + models + ", \"probeLoad\": true}"), dir).buildConfig();
        assertTrue(everyModelProbed(on));
        assertTrue(on.modelOptionsFor(a).probeLoad() && on.modelOptionsFor(a).threads() == 2);

        Path file = Files.writeString(dir.resolve("blend.json"), "{" + models + "}");
        assertFalse(RemoteFlagsTest.parse("--config", file.toString(), "1+1=").config().modelOptionsFor(a).probeLoad());
        assertTrue(everyModelProbed(RemoteFlagsTest.parse("--config", file.toString(), "--probe-load", "1+1=").config()));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlenderConfigJson.fromJson(
                new ObjectMapper().readTree("{" + models + ", \"probeLoad\": \"yes\"}"), dir));
        assertTrue(e.getMessage().contains("probeLoad"), e.getMessage());
    }
}
