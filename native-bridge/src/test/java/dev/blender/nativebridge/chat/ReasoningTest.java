package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import dev.blender.nativebridge.TestModels;
import org.junit.jupiter.api.Test;

class ReasoningTest {
    private static String template(String name) throws IOException {
        return Files.readString(TestModels.sharedFile("data/llama.cpp-v0.5.0/templates/" + name + ".jinja"));
    }

    @Test
    void qwen3sThinkingIsKeptApartFromItsAnswer() throws IOException {
        Reasoning r = Reasoning.forTemplate(template("Qwen-Qwen3-0.6B"));
        assertTrue(r.isReasoning());
        Reasoning.Split s = r.split("<think>\n2 and 2 make 4.\n</think>\n\nThe answer is 4.");
        assertEquals("2 and 2 make 4.", s.thinking());
        assertEquals("The answer is 4.", s.answer());
    }

    @Test
    void aPromptThatOpensTheThinkingPartIsReadAsSuch() throws IOException {
        // DeepSeek-R1's distills open <think> in the generation prompt: the text starts inside it
        Reasoning r = Reasoning.forTemplate(template("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B"));
        assertTrue(r.opensThinking("<｜User｜>2+2?<｜Assistant｜><think>\n"));
        assertFalse(r.opensThinking("<｜User｜>2+2?<｜Assistant｜><think>\n\n</think>\n\n"), "an empty, closed part");
        assertEquals(new Reasoning.Split("Adding.", "4"), r.split("Adding.\n</think>\n\n4", true));
        assertEquals(new Reasoning.Split("Adding, and then", ""), r.split("Adding, and then", true),
                "a thought cut short is no answer");
        assertEquals(new Reasoning.Split("", "4"), r.split("4", false));
        // closed as Qwen3 writes a part switched off, so that the model answers at once
        assertEquals("<｜Assistant｜><think>\n\n</think>\n\n", r.closeThinking("<｜Assistant｜><think>\n"));
        assertEquals("<｜Assistant｜>", r.closeThinking("<｜Assistant｜>"));
    }

    @Test
    void eachFamilyIsSplitAtItsOwnMarkers() throws IOException {
        assertEquals(new Reasoning.Split("think", "answer"),
                Reasoning.forTemplate(template("mistralai-Ministral-3-14B-Reasoning-2512")).split("[THINK]think[/THINK]answer"));
        assertEquals(new Reasoning.Split("think", "answer"),
                Reasoning.forTemplate(template("ByteDance-Seed-OSS")).split("<seed:think>think</seed:think>answer"));
        assertEquals(new Reasoning.Split("think", "answer"),
                Reasoning.forTemplate(template("google-gemma-4-31B-it")).split("<|channel>thought\nthink<channel|>answer"));
        assertEquals(new Reasoning.Split("Here are my reasoning steps:\nthink", "answer"),
                Reasoning.forTemplate(template("Apriel-1.6-15b-Thinker-fixed")).split(
                        "Here are my reasoning steps:\nthink\n[BEGIN FINAL RESPONSE]\nanswer\n[END FINAL RESPONSE]"));
    }

    @Test
    void aModelThatDoesNotReasonKeepsItsWholeText() throws IOException {
        Reasoning r = Reasoning.forTemplate(template("meta-llama-Llama-3.1-8B-Instruct"));
        assertFalse(r.isReasoning());
        String quoting = "Models such as R1 write </think> after their thoughts.";
        assertEquals(new Reasoning.Split("", quoting), r.split(quoting));
        assertEquals(new Reasoning.Split("", quoting), Reasoning.NONE.split(quoting, true));
    }

    @Test
    void withoutATemplateOnlyThinkTagsCount() {
        Reasoning r = Reasoning.forTemplate(null);
        assertEquals(new Reasoning.Split("a", "b"), r.split("<think>a</think>b"));
        assertEquals(new Reasoning.Split("", "[THINK]a[/THINK]b"), r.split("[THINK]a[/THINK]b"));
    }
}
