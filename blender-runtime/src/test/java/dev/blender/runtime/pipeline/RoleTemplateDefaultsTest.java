package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.TestModels;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A judge or fuser given without a template is asked as suits its model: instructions for chat models. */
class RoleTemplateDefaultsTest {
    private final Path chat = TestModels.withChatTemplate();
    private final Path base = TestModels.tiny();

    @Test
    void aChatModelIsAskedInItsOwnChatFormat() {
        BlenderConfig c = Blender.builder().generator(base).judge(chat).fuser(chat).buildConfig();
        assertEquals(JudgeTemplate.instruct(), c.judgeTemplate());
        assertEquals(FuserTemplate.aggregator(), c.fuserTemplate());
    }

    @Test
    void aBaseModelGetsACompletionPrompt() {
        BlenderConfig c = Blender.builder().generator(chat).judge(base).fuser(base).buildConfig();
        assertEquals(JudgeTemplate.abAnswer(), c.judgeTemplate());
        assertEquals(FuserTemplate.llmBlender(), c.fuserTemplate());
    }

    @Test
    void aTemplateGivenIsKept() {
        BlenderConfig c = Blender.builder().generator(base).judge(chat, JudgeTemplate.abAnswer())
                .fuser(chat, FuserTemplate.llmBlender()).buildConfig();
        assertEquals(JudgeTemplate.abAnswer(), c.judgeTemplate());
        assertEquals(FuserTemplate.llmBlender(), c.fuserTemplate());
    }

    @Test
    void aConfigurationFileWithoutTemplatesChoosesByModel(@TempDir Path dir) throws Exception {
        BlenderConfig c = BlenderConfigJson.loadBuilder(java.nio.file.Files.writeString(dir.resolve("roles.json"), "{\"models\": [{\"path\": \"" + base
                        + "\"}, {\"path\": \"" + chat + "\", \"role\": \"judge\"}, {\"path\": \"" + chat
                        + "\", \"role\": \"fuser\"}]}")).buildConfig();
        assertEquals(JudgeTemplate.instruct(), c.judgeTemplate());
        assertEquals(FuserTemplate.aggregator(), c.fuserTemplate());
    }
}
