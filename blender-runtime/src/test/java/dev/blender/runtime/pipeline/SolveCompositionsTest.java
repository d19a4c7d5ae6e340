package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Recipe;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The judge as a solver, the pick among written answers, and the two compositions built on them. */
class SolveCompositionsTest {

    static long tokens(BlendResult r, String stage) {
        return r.usage().stages().stream().filter(s -> s.stage().equals(stage)).mapToLong(BlendResult.StageUsage::totalTokens)
                .sum();
    }

    static List<String> stages(BlendResult r) {
        return r.usage().stages().stream().map(BlendResult.StageUsage::stage).toList();
    }

    @Test
    void theJudgesRationaleIsItsOwnAnswerToTheTask() {
        try (Blender blender = ArithBlenders.full().build(); ModelPool.Lease lease = blender.leaseRanker()) {
            JudgeSolver solver = new JudgeSolver(lease.context(), JudgeTemplate.arith());
            // the model README's judge examples: it works the sum out before its verdict
            Candidate c = solver.solve(solver.prompt("79+14=", "83", "93"), 1, null);
            assertEquals("93", c.text());
            assertTrue(c.logProbs().length >= 2, "the judge's own token probabilities come with it");
            assertEquals("138", solver.solve(solver.prompt("39+99=", "238", "138"), 1, null).text());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new JudgeSolver(lease.context(),
                    new JudgeTemplate("Q: {instruction} X: {first} Y: {second} Better:", null, " X", " Y", 0)));
            assertTrue(e.getMessage().contains("no rationale"), e.getMessage());
        }
    }

    @Test
    void solveReadsTheAnswerAndTheNextTextAndWritesTheJudgesSolution() {
        Composition solved = Composition.builder("solved").sampleAnswers().stage(new Stage.Solve()).build();
        BlendRequest request = BlendRequest.builder().prompt("17+62=").seed(1).composition(solved).build();
        try (Blender blender = ArithBlenders.full().build()) {
            BlendResult r = blender.blend(request);
            // answerer-a writes 80 and answerer-b 78 (the model README); the judge reads both and writes 79
            assertEquals(List.of("80", "78"), r.ranked().stream().map(BlendResult.Ranked::text).toList());
            assertEquals("79", r.answer());
            assertEquals(List.of("sampling", "solving"), stages(r));
            try (ModelPool.Lease lease = blender.leaseRanker()) {
                int prompt = new JudgeSolver(lease.context(), JudgeTemplate.arith()).prompt("17+62=", "80", "78").length;
                assertEquals(prompt, r.usage().stages().get(1).promptTokens(), "charged the comparison it read");
            }
        }
        BlenderConfig.Builder none = Blender.builder().generator(ArithBlenders.arith("answerer-a"))
                .generator(ArithBlenders.arith("answerer-b")).contextSize(64).maxTokens(8).generatorPrompt("Q: {prompt} A:");
        try (Blender blender = none.build()) {
            BlendResult r = blender.blend(request);
            assertEquals("80", r.answer(), "without a judge solve passes, as verify does");
            assertEquals(List.of("sampling"), stages(r));
        }
    }

    @Test
    void fuseMix3SolvedKeepsTheSurerOfFusionAndSolution() {
        Recipe arith = Recipe.builtIn("arith", TestModels.sharedFile("models/arith"));
        try (Blender blender = Blender.create(arith.config().buildConfig())) {
            Composition c = Composition.named("fuse:mix3-solved");
            // the sixth problem of dev as blender eval --recipe arith poses it
            BlendRequest request = BlendRequest.builder().prompt("17+62=").seed(Evaluation.seedOf(1, 5)).composition(c).build();
            BlendRun run = new BlendRun(blender, request, BlendListener.NONE);
            BlendResult r = run.run(c);
            List<String> written = run.written.stream().map(AnswerPick.Written::text).toList();
            assertEquals(3, written.size(), "mix, fusion and solution each wrote an answer: " + written);
            assertEquals("80", written.get(1), "the fuser copies a wrong candidate");
            assertEquals("79", written.get(2), "the judge works it out");
            assertTrue(run.written.get(2).confidence() > run.written.get(1).confidence());
            assertEquals("79", r.answer());
            assertEquals("80", r.fused().text().strip());
            assertEquals(List.of("sampling", "mixing", "fusion", "solving"), stages(r));
        }
    }

    @Test
    void cascadeSolveStopsWhereTheJudgeIsSureAndEscalatesWhereItIsNot() {
        Recipe arith = Recipe.builtIn("arith", TestModels.sharedFile("models/arith"));
        Composition c = Composition.named("cascade:solve");
        try (Blender blender = Blender.create(arith.config().buildConfig())) {
            BlendResult sure = blender.blend(BlendRequest.builder().prompt("39+99=").seed(Evaluation.seedOf(1, 1)).composition(c).build());
            assertFalse(sure.escalated());
            assertEquals("138", sure.answer());
            assertEquals(List.of("sampling", "solving"), stages(sure), "one member's answer and one solution");
            assertTrue(sure.usage().totalTokens() < 70, sure.usage().toString());

            BlendResult unsure = blender.blend(BlendRequest.builder().prompt("16-16=").seed(Evaluation.seedOf(1, 11)).composition(c).build());
            assertTrue(unsure.escalated());
            assertEquals("0", unsure.answer());
            assertEquals(List.of("sampling", "solving", "fusion"), stages(unsure));
            assertTrue(tokens(unsure, "solving") > tokens(sure, "solving") * 3 / 2, "a second solution: " + unsure.usage());
            assertNotEquals(0, tokens(unsure, "fusion"));
        }
    }
}
