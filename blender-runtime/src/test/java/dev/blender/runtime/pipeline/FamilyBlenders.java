package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.Family;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.Generator;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A blend of three real families (tiny models with their released vocabularies and chat templates): Llama 3.1,
 * Qwen2.5 and Phi-3.5 generators that each write a known answer and stop at their own end of turn, a Llama 3.1
 * judge on random weights asked in its chat format, and a Qwen2.5 fuser that writes {@link #FUSED}.
 */
public final class FamilyBlenders {
    private FamilyBlenders() {}

    /** What each generator writes, whatever it is asked: no token twice, none ending a chat prompt. */
    public static final Map<Family, String> ANSWERS = Map.of(
            Family.LLAMA_3, "The capital is Paris",
            Family.QWEN_2_5, "Paris, France",
            Family.PHI_3_5, "It is Paris");
    public static final String FUSED = "Paris.";
    public static final List<Family> GENERATORS = List.of(Family.LLAMA_3, Family.QWEN_2_5, Family.PHI_3_5);

    public static Path generator(Family f) {
        return f.scripted(ANSWERS.get(f));
    }

    public static Path judge() {
        return Family.LLAMA_3.model();
    }

    public static Path fuser() {
        return Family.QWEN_2_5.scripted(FUSED);
    }

    /** One candidate each, the fusion of all three. */
    public static BlenderConfig.Builder blend() {
        BlenderConfig.Builder b = Blender.builder();
        for (Family f : GENERATORS) {
            b.generator(generator(f));
        }
        return b.judge(judge()).fuser(fuser(), FuserTemplate.aggregator()).candidatesPerModel(1).topK(3)
                .contextSize(2048).maxTokens(16).fusedMaxTokens(16).strategy(Strategy.FULL_BLEND)
                .modelOptions(ModelOptions.defaults().withThreads(1));
    }

    /** The prompt tokens of the sampling stage if every generator reads the conversation in its own format. */
    public static long ownFormatPromptTokens(List<ChatMessage> conversation) {
        long n = 0;
        for (Family f : GENERATORS) {
            try (LlamaModel m = LlamaModel.load(generator(f), ModelOptions.defaults().withVocabOnly(true))) {
                n += Generator.prompt(m, conversation, true).length;
            }
        }
        return n;
    }

    /** The same conversation's prompt tokens if every generator read the last message alone. */
    public static long bareTextPromptTokens(List<ChatMessage> conversation) {
        long n = 0;
        for (Family f : GENERATORS) {
            try (LlamaModel m = LlamaModel.load(generator(f), ModelOptions.defaults().withVocabOnly(true))) {
                n += Generator.prompt(m, conversation, false).length;
            }
        }
        return n;
    }
}
