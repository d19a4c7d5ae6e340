package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The arith answerers' greedy answers on the first problems of dev.jsonl, as listed in
 * shared/models/arith/README.md: the whole native path (tokeniser, decode, KV reuse across requests,
 * greedy sampling, detokeniser) against outputs checked outside this project.
 */
class ArithGreedyTest {
    private static final String[] QUESTIONS = {
        "85+95=", "39+99=", "77-67=", "79+14=", "83+60=", "17+62=", "15+67=", "98+33=", "58+27=", "96+56=", "16-16="};

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "answerer-strong; 180 138 10 93 143 79 82 131 85 152 0",
        "answerer-a;      181 137 10 93 143 80 82 131 85 152 0",
        "answerer-b;      181 138 11 91 143 78 81 131 86 153 1",
        "answerer-c;      179 135 9 93 142 79 81 131 83 152 1"})
    void greedyAnswersMatchTheReadme(String model, String answers) {
        List<String> expected = List.of(answers.trim().split(" "));
        // -Dblender.test.gpuLayers=-1 runs the same check with every layer offloaded (bin/gpu-check)
        ModelOptions options = ModelOptions.defaults().withGpuLayers(Integer.getInteger("blender.test.gpuLayers", 0));
        try (LlamaModel m = LlamaModel.load(TestModels.sharedFile("models/arith/" + model + ".gguf"), options);
                LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1))) {
            List<String> got = new ArrayList<>();
            for (String q : QUESTIONS) {
                // one context reused for every problem: must equal fresh-context results (the README's)
                Candidate c = Generator.generate(ctx, GenerationRequest.of(m.vocab().tokenize("Q: " + q + " A:"))
                        .withMaxTokens(8)).get(0);
                assertEquals(FinishReason.END_OF_GENERATION, c.finishReason(), q + " -> '" + c.text() + "'");
                got.add(c.text().strip());
            }
            assertEquals(expected, got, model);
        }
    }
}
