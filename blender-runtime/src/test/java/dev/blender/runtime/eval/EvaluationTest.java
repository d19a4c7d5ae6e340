package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.BlendResult;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
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
                    var r = blender.blend(BlendRequest.builder().prompt(problems.get(i).question())
                            .seed(Evaluation.seedOf(7, i)).composition(c).build());
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

    @Test
    void groupsSplitEachRowByTheProblemsTheirPatternIsFoundIn() {
        Recipe arith = Recipe.builtIn("arith", TestModels.sharedFile("models/arith"));
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 30);
        Map<String, Pattern> groups = new LinkedHashMap<>();
        groups.put("+", Pattern.compile("\\+"));
        groups.put("-", Pattern.compile("-"));
        groups.put("every", Pattern.compile("="));
        groups.put("none", Pattern.compile("x"));
        try (Blender blender = Blender.create(arith.config().buildConfig())) {
            Map<String, int[]> byHand = new HashMap<>();
            List<Evaluation.Row> table = new Evaluation(blender, List.of(Composition.named("member:answerer-b")),
                    AnswerChecker.EXACT, null).groups(groups).run(problems, 1, new Evaluation.Listener() {
                        @Override
                        public void problemDone(int done, int total, List<Evaluation.Row> rows) {}

                        @Override
                        public void answered(int index, Problem p, String method, BlendResult r, boolean right) {
                            int[] t = byHand.computeIfAbsent(p.question().contains("+") ? "+" : "-", k -> new int[2]);
                            t[0] += right ? 1 : 0;
                            t[1]++;
                        }
                    });
            Evaluation.Row row = table.get(0);
            assertEquals(List.of("+", "-", "every", "none"), List.copyOf(row.groups().keySet()));
            for (String op : List.of("+", "-")) {
                assertEquals(new Accuracy(byHand.get(op)[0], byHand.get(op)[1]), row.groups().get(op), op);
            }
            assertTrue(byHand.get("+")[1] > 0 && byHand.get("-")[1] > 0, "both operations among the problems");
            assertEquals(row.accuracy(), row.groups().get("every"));
            assertEquals(new Accuracy(0, 0), row.groups().get("none"));
        }
    }
}
