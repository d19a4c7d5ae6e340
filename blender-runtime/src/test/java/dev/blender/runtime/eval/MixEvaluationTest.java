package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.MixedGenerator;
import dev.blender.runtime.combine.VocabAlignment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MixEvaluationTest {

    @Test
    void aModelMixedWithItselfAnswersAsItDoesAloneAtTwiceTheTokens() {
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 6);
        try (LlamaModel a = LlamaModel.load(TestModels.sharedFile("models/arith/answerer-a.gguf"), ModelOptions.defaults());
             LlamaContext alone1 = a.newContext(ContextOptions.defaults());
             LlamaContext alone2 = a.newContext(ContextOptions.defaults());
             LlamaContext mixed1 = a.newContext(ContextOptions.defaults());
             LlamaContext mixed2 = a.newContext(ContextOptions.defaults())) {
            MixedGenerator mix = new MixedGenerator(List.of(mixed1, mixed2), CombineOptions.equal(CombineMethod.LOG_LINEAR, 2),
                    VocabAlignment.Policy.REQUIRE_SHARED);
            List<Integer> progress = new ArrayList<>();
            List<Evaluation.Row> rows = new MixEvaluation(List.of(alone1, alone2), mix, AnswerChecker.EXACT).run(problems,
                    "Q: {question} A:", 8, SamplerOptions.greedy(), 1, 0, 0, (done, total, sofar) -> {
                        progress.add(done);
                        assertEquals(3, sofar.size());
                    });
            assertEquals(List.of(1, 2, 3, 4, 5, 6), progress);
            assertEquals(List.of("member:answerer-a", "member:answerer-a", "token:log-linear"),
                    rows.stream().map(Evaluation.Row::method).toList());
            Evaluation.Row member = rows.get(0);
            Evaluation.Row blend = rows.get(2);
            assertEquals(6, blend.problems());
            assertEquals(member.correct(), blend.correct(), "the same distribution, greedily, gives the same answers");
            assertEquals(2 * member.tokens(), blend.tokens(), "the mix decodes every token in both models");
            assertTrue(member.correct() > 0 && member.correct() < 6, "answers were checked: " + member.correct());
        }
    }
}
