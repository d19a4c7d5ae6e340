package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.chat.Reasoning;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A reasoning model's candidate as thinking and answer, given the prompt it answered. */
class ReasoningAnswerTest {
    private static final String TURNS = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
            + "{% endfor %}";

    private static LlamaModel model(String name, String generationPrompt) {
        String template = TURNS + "{% if add_generation_prompt %}<|im_start|>assistant\n" + generationPrompt + "{% endif %}";
        return LlamaModel.load(TestModels.generated(name, SyntheticLlama.builder()
                .vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE).chatTemplate(template).build()));
    }

    @Test
    void aGenerationPromptThatOpensThinkingMakesTheTextStartInIt() {
        // DeepSeek-R1's distills: the model's text starts inside <think>, with no opening marker of its own
        try (LlamaModel m = model("opens-think", "<think>\n")) {
            int[] prompt = Generator.prompt(m, List.of(ChatMessage.user("2+2?")), true);
            assertEquals(new Reasoning.Split("Adding.", "4"), Generator.answer(m, prompt, "Adding.\n</think>\n\n4"));
            assertEquals(new Reasoning.Split("Adding, and", ""), Generator.answer(m, prompt, "Adding, and"),
                    "a thought cut short is no answer");
        }
    }

    @Test
    void aModelThatOpensItsOwnThinkingIsSplitWhereItCloses() {
        // Qwen3: the model writes <think> itself
        try (LlamaModel m = model("own-think", "{% if enable_thinking is defined and not enable_thinking %}"
                + "<think>\n\n</think>\n\n{% endif %}")) {
            int[] prompt = Generator.prompt(m, List.of(ChatMessage.user("2+2?")), true);
            assertEquals(new Reasoning.Split("Adding.", "4"), Generator.answer(m, prompt, "<think>\nAdding.\n</think>\n\n4"));
            assertEquals(new Reasoning.Split("", "4"), Generator.answer(m, prompt, "4"));
            Candidate c = new Candidate(0, "<think>x</think>4", new int[] {1, 2, 3}, new float[3], FinishReason.END_OF_GENERATION, 0, 0);
            Candidate answer = Generator.answerOnly(m, prompt, c);
            assertEquals("4", answer.text());
            assertEquals(3, answer.tokenCount(), "the thinking tokens were still decoded: they count");
        }
    }

    @Test
    void aModelWithoutReasoningKeepsItsCandidate() {
        try (LlamaModel m = LlamaModel.load(TestModels.withChatTemplate())) {
            int[] prompt = Generator.prompt(m, List.of(ChatMessage.user("2+2?")), true);
            Candidate c = new Candidate(0, "a </think> b", new int[] {1}, new float[1], FinishReason.END_OF_GENERATION, 0, 0);
            assertSame(c, Generator.answerOnly(m, prompt, c));
        }
    }
}
