package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code --prefix-reuse}, its chat default and {@code "prefixReuse"} in a configuration file. */
class PrefixReuseFlagTest {
    @TempDir
    Path dir;

    private static BlenderConfig chat(String... args) {
        ChatCommand chat = new ChatCommand();
        new CommandLine(chat).parseArgs(args);
        return chat.blenderOptions().config();
    }

    @Test
    void chatKeepsItsHistoryAndTheRestStayReproducibleUnlessAsked() {
        String a = TestModels.tiny(1, 1).toString();
        assertTrue(chat("-m", a).prefixReuse(), "chat keeps its history");
        assertFalse(chat("-m", a, "--no-prefix-reuse").prefixReuse());
        assertFalse(RemoteFlagsTest.parse("-m", a, "1+1=").config().prefixReuse(), "run stays reproducible");
        assertTrue(RemoteFlagsTest.parse("-m", a, "--prefix-reuse", "1+1=").config().prefixReuse());
    }

    @Test
    void theConfigurationFieldIsATrueOrFalse() throws Exception {
        String models = "\"models\": [{\"path\": \"" + TestModels.tiny(1, 1) + "\"}]";
        ObjectMapper json = new ObjectMapper();
        assertTrue(BlenderConfigJson.fromJson("{" + models + ", \"prefixReuse\": true}", dir)
                .buildConfig().prefixReuse());
        for (String key : new String[] {"prefixReuse", "parallelMembers"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlenderConfigJson.fromJson(
                    "{" + models + ", \"" + key + "\": \"yes\"}", dir));
            assertTrue(e.getMessage().contains(key), e.getMessage());
        }
    }
}
