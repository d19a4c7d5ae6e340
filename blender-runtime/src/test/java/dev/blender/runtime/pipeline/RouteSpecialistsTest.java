package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Routing between the add and sub specialists on the dev problems (skipped when they are absent): prints
 * each router's accuracy beside the README's upper bound of a router (0.880, routed by operation). The
 * first 100 problems in the normal run; all 500 (the README's table) with {@code -Dblender.measure=true}.
 */
class RouteSpecialistsTest {
    static final Stage.Sample GREEDY = new Stage.Sample(List.of(), 1, false, Stage.Sampler.ANSWER, null);

    @Test
    void routersBetweenTheSpecialistsOnTheDevProblems() {
        Path add = TestModels.sharedFile("models/specialists/add.gguf");
        Path sub = TestModels.sharedFile("models/specialists/sub.gguf");
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"),
                Boolean.getBoolean("blender.measure") ? 500 : 100);
        // made up, none of them in dev.jsonl
        Stage.RouteRule examples = new Stage.RouteRule.Similarity(Map.of(
                "add", List.of("12+34=", "25+61=", "40+17=", "53+29=", "8+71="),
                "sub", List.of("56-12=", "90-45=", "73-28=", "64-9=", "81-36=")));
        Stage.RouteRule byOperation = new Stage.RouteRule.Cases(List.of(
                new Stage.RouteCase("\\+", List.of("add")), new Stage.RouteCase(null, List.of("sub"))));
        List<Composition> rows = List.of(
                Composition.named("member:add"), Composition.named("member:sub"),
                Composition.builder("route:rule").route(byOperation).stage(GREEDY).build(),
                Composition.builder("route:similarity").route(examples).stage(GREEDY).build(),
                Composition.builder("route:confidence").route(new Stage.RouteRule.Confidence(null)).stage(GREEDY).build());
        try (Blender blender = Blender.builder().generator(add).generator(sub).generatorPrompt("Q: {prompt} A:")
                .contextSize(64).maxTokens(8).modelOptions(ModelOptions.defaults().withThreads(1)).build()) {
            Map<String, Integer> toTheSpecialist = new TreeMap<>();
            List<Evaluation.Row> result = new Evaluation(blender, rows, AnswerChecker.EXACT, null)
                    .run(problems, 1, new Evaluation.Listener() {
                        @Override
                        public void problemDone(int done, int total, List<Evaluation.Row> so) {}

                        @Override
                        public void answered(int index, Problem problem, String method, BlendResult r, boolean right) {
                            String specialist = problem.question().contains("+") ? "add.gguf" : "sub.gguf";
                            if (r.routed().equals(List.of(specialist))) {
                                toTheSpecialist.merge(method, 1, Integer::sum);
                            }
                        }
                    });
            System.out.println("routing between the specialists, " + problems.size()
                    + " dev problems (upper bound, routed by operation: 0.880)");
            for (Evaluation.Row r : result) {
                System.out.printf("  %-18s %.3f  %5.1f tokens/problem  %6.2f ms/problem  %s%n", r.method(),
                        r.accuracy().value(), r.tokensPerProblem(), r.millisPerProblem(),
                        r.method().startsWith("route:") ? String.format("routed to the operation's specialist: %.3f",
                                toTheSpecialist.getOrDefault(r.method(), 0) / (double) problems.size()) : "");
            }
            for (Evaluation.Row r : result) {
                // loose: every row is a specialist's answer, and each alone scores above 0.8
                assertTrue(r.accuracy().value() > 0.7, r.method() + " " + r.accuracy());
            }
        }
    }
}
