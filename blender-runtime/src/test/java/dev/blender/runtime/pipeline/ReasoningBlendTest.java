package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.blender.nativebridge.Family;
import dev.blender.nativebridge.ModelOptions;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A reasoning family's thoughts are kept apart: what the blend votes on and ranks is its answer. */
class ReasoningBlendTest {
    @Test
    void aQwen3CandidatesThinkingIsKeptApartAndItsAnswerIsVotedOn() {
        Family.QWEN_3.assumeLoadable();
        // Qwen3's template lets the model open <think> itself; the Llama 3.1 member answers plainly
        Path qwen3 = Family.QWEN_3.scripted("<think>\nAdding up.\n</think>\n\nParis");
        Path llama = Family.LLAMA_3.scripted("Paris");
        try (Blender blender = Blender.builder().generator(qwen3).generator(llama).candidatesPerModel(1)
                .contextSize(1024).maxTokens(16).modelOptions(ModelOptions.defaults().withThreads(1)).build()) {
            BlendResult r = blender.blend(BlendRequest.builder().prompt("What is the capital of France?")
                    .composition(Composition.named("majority")).build());
            BlendResult.Sampled thinker = r.candidates().get(0);
            assertEquals("Paris", thinker.candidate().text().strip());
            assertEquals("Adding up.", thinker.thinking());
            assertEquals("", r.candidates().get(1).thinking());
            assertEquals(List.of(2), r.ranked().stream().map(BlendResult.Ranked::votes).toList(),
                    "both answers are one text: the thoughts were not part of it");
            assertEquals("Paris", r.answer());
        }
    }
}
