package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.pairranker.Aggregation;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompositionTest {

    @Test
    void everyNamedCompositionSurvivesAJsonRoundTrip() {
        for (String name : Composition.names()) {
            Composition c = Composition.named(name);
            assertEquals(c, CompositionJson.read(CompositionJson.write(c), "x"), name);
        }
        Composition mine = Composition.builder("mine")
                .stage(new Stage.Sample(List.of("a", "b"), 2, false, Stage.Sampler.ANSWER, 1.2f))
                .rank(Aggregation.BUBBLE, 2).stage(new Stage.Rank(null, 1, Stage.Ranker.CONSENSUS, 3)).fuse(2).verify().gate(Stage.GateRule.AGREEMENT, 0.6).refine(2)
                .mix(CombineMethod.NEGATIVE_EVIDENCE).stage(new Stage.Solve()).stage(new Stage.Pick(3)).stage(new Stage.Pick(null))
                .build();
        assertEquals(mine, CompositionJson.parse(CompositionJson.write(mine).toString()));
        Composition adapting = Composition.builder("adapting")
                .stage(new Stage.Mix(CombineMethod.LINEAR, null, null, CombineOptions.Adaptation.LEARNED, 0.05f)).build();
        assertEquals(adapting, CompositionJson.parse(CompositionJson.write(adapting).toString()));
        Stage.Mix bayes = (Stage.Mix) CompositionJson.parse("[{\"stage\": \"mix\", \"adapt\": \"BAYES\"}]").stages().get(0);
        assertEquals(CombineOptions.linear(1, 1).adaptive(CombineOptions.DEFAULT_SWITCH_RATE),
                bayes.adapted(CombineOptions.linear(1, 1)));
    }

    @Test
    void strategyNamesReadInEverySpellingAndMapToTheirStages() {
        for (String spelling : List.of("full-blend", "FULL_BLEND", "full_blend", " Full-Blend ")) {
            assertEquals(Strategy.FULL_BLEND, Strategy.parse(spelling));
            assertEquals(Strategy.FULL_BLEND.composition(), Composition.named(spelling));
        }
        assertEquals(List.of("sample", "rank", "fuse"),
                Strategy.FULL_BLEND.composition().stages().stream().map(Stage::id).toList());
        assertEquals(List.of("sample", "gate", "sample", "rank", "fuse"),
                Strategy.CASCADE.composition().stages().stream().map(Stage::id).toList());
        Composition member = Composition.named("member:answerer-b");
        assertEquals(List.of(Stage.Sample.answer("answerer-b")), member.stages());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Composition.named("best"));
        assertTrue(e.getMessage().contains("'best'") && e.getMessage().contains("fuse:mix3"), e.getMessage());
    }

    @Test
    void stagesThatNeedAnEarlierStageAreRefusedWithTheReason() {
        assertMessage("rank needs a sample stage before it", () -> CompositionJson.parse("[\"rank\"]"));
        assertMessage("verify needs candidates and an answer before it", () -> CompositionJson.parse("[\"mix\", \"verify\"]"));
        assertMessage("refine needs a fuse stage before it", () -> CompositionJson.parse("[\"sample\", \"refine\"]"));
        assertMessage("ends with a gate", () -> CompositionJson.parse("[\"sample\", \"gate\"]"));
        assertMessage("has no stages", () -> CompositionJson.parse("[]"));
        assertMessage("pick needs an answer before it", () -> CompositionJson.parse("[\"pick\", \"mix\"]"));
        assertMessage("solve needs candidates or an answer before it", () -> CompositionJson.parse("[\"solve\", \"mix\"]"));
        assertMessage("pick: last must be >= 2", () -> CompositionJson.parse("[\"mix\", {\"stage\": \"pick\", \"last\": 1}]"));
        assertMessage("unknown key 'topK' in solve", () -> CompositionJson.parse("[\"mix\", {\"stage\": \"solve\", \"topK\": 2}]"));
        assertMessage("fuse needs an answer before it",
                () -> CompositionJson.parse("[{\"stage\": \"fuse\", \"inputs\": \"answer-first\"}]"));
    }

    @Test
    void badJsonNamesTheStageAndKey(@TempDir Path dir) throws Exception {
        assertMessage("unknown stage 'shuffle'", () -> CompositionJson.parse("[\"sample\", \"shuffle\"]"));
        assertMessage("unknown key 'topk' in rank", () -> CompositionJson.parse("[\"sample\", {\"stage\": \"rank\", \"topk\": 3}]"));
        assertMessage("rank: aggregation 'best' is not one of [max-logits, max-wins, bubble]",
                () -> CompositionJson.parse("[\"sample\", {\"stage\": \"rank\", \"aggregation\": \"best\"}]"));
        assertMessage("topK must be a whole number", () -> CompositionJson.parse("[\"sample\", {\"stage\": \"fuse\", \"topK\": 2.5}]"));
        assertMessage("gate: threshold must be in [0, 1]",
                () -> CompositionJson.parse("[\"sample\", {\"stage\": \"gate\", \"threshold\": 2}, \"vote\"]"));
        assertMessage("is not valid JSON", () -> CompositionJson.parse("[\"sample\""));
        assertMessage("mix: adapt 'gated' is not one of [fixed, bayes, learned]",
                () -> CompositionJson.parse("[{\"stage\": \"mix\", \"adapt\": \"gated\"}]"));
        assertMessage("mix: rate is the rate of adapt",
                () -> CompositionJson.parse("[{\"stage\": \"mix\", \"rate\": 0.1}]"));
        assertMessage("not negative evidence",
                () -> CompositionJson.parse("[{\"stage\": \"mix\", \"method\": \"negative-evidence\", \"adapt\": \"bayes\"}]"));
        assertMessage("the learning rate must be finite and >= 0",
                () -> CompositionJson.parse("[{\"stage\": \"mix\", \"adapt\": \"learned\", \"rate\": -1}]"));
        Path file = Files.writeString(dir.resolve("verified.json"), "[\"sample\", \"rank\", \"fuse\", \"verify\"]");
        Composition fromFile = CompositionJson.parse(file.toString());
        assertEquals("verified", fromFile.name(), "a file's composition is named after the file");
        assertEquals(4, fromFile.stages().size());
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable e) {
        String m = assertThrows(IllegalArgumentException.class, e).getMessage();
        assertTrue(m.contains(part), "'" + part + "' not in: " + m);
    }
}
