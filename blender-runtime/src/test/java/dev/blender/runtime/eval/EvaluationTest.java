package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class EvaluationTest {

    @Test
    void eachRowCountsWhatTheProductAnswersAlone() {
        Recipe arith = Recipe.builtIn("arith", TestModels.sharedFile("models/arith"));
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 6);
        List<Composition> rows = List.of(Composition.named("member:answerer-a"), Composition.named("fuse:top3"),
                Composition.named("fuse:mix3"), Composition.named("majority"));
        try (Blender blender = Blender.create(arith.config().buildConfig())) {
            List<Integer> progress = new ArrayList<>();
            List<Evaluation.Row> table = new Evaluation(blender, rows, AnswerChecker.EXACT, Composition.named("majority"))
                    .run(problems, 7, (done, total, sofar) -> progress.add(done));
            assertEquals(List.of(1, 2, 3, 4, 5, 6), progress);
            Map<String, Evaluation.Row> byName = table.stream().collect(Collectors.toMap(Evaluation.Row::method, r -> r));
            assertEquals(List.of("member:answerer-a", "fuse:top3", "fuse:mix3", "majority", "pool:random", "pool:oracle"),
                    table.stream().map(Evaluation.Row::method).toList());
            // the row is the library: the same request without shared work, one composition at a time
            for (Composition c : rows) {
                int correct = 0;
                long tokens = 0;
                for (int i = 0; i < problems.size(); i++) {
                    var r = blender.blend(BlendRequest.of(problems.get(i).question())
                            .withSeed(Evaluation.seedOf(7, i)).withComposition(c));
                    correct += AnswerChecker.EXACT.correct(AnswerChecker.EXACT.extract(r.answer()),
                            problems.get(i).answers()) ? 1 : 0;
                    tokens += r.usage().totalTokens();
                }
                assertEquals(correct, byName.get(c.name()).correct(), c.name());
                if (!c.needsRanker()) {
                    assertEquals(tokens, byName.get(c.name()).tokens(), c.name() + " is charged what it decodes alone");
                }
            }
            assertTrue(byName.get("pool:oracle").correct() >= byName.get("majority").correct());
            assertEquals(6, byName.get("pool:oracle").problems());
        }
    }
}
