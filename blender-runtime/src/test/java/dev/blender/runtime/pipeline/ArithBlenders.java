package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.nio.file.Path;

/** The arith family for tests of the pipeline and of what is built on it (tests skip when it is absent). */
public final class ArithBlenders {
    private ArithBlenders() {}

    public static Path arith(String name) {
        return TestModels.sharedFile("models/arith/" + name + ".gguf");
    }

    /** Answerers a and b, the judge and the fuser, as {@code blender run} uses them with no model options. */
    public static BlenderConfig.Builder full() {
        return Blender.builder().generator(arith("answerer-a")).generator(arith("answerer-b"))
                .judge(arith("judge"), JudgeTemplate.arith()).fuser(arith("fuser"), FuserTemplate.arith())
                .contextSize(64).maxTokens(8).fusedMaxTokens(8).generatorPrompt("Q: {prompt} A:")
                .modelOptions(ModelOptions.defaults().withThreads(1));
    }
}
