package dev.blender.runtime.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.eval.Evaluation;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TunerTest {
    @Test
    void aTinyTuneChoosesWritesAndItsStrategyFileRunsAsTuned(@TempDir Path dir) throws Exception {
        Recipe arith = Recipe.builtIn("arith", TestModels.sharedFile("models/arith"));
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 2, 8);
        BlenderConfig config = arith.config().buildConfig();
        SearchSpace space = SearchSpace.around(config).withSampling(List.of(2), List.of(0.8f));
        List<Composition> search = space.compositions(List.of(Composition.named("member:answerer-b"),
                Composition.named("fuse:frequent3"), Composition.named("cascade:mix3")), config);
        Split split = Split.of(problems, 0.5, 3);
        long seed = 5;
        List<String> phases = new ArrayList<>();
        Tuning t;
        try (Blender blender = Blender.create(config)) {
            t = new Tuner(blender, arith.answerChecker()).tune(search, split, seed, Frontier.Budget.none(),
                    new Tuner.Listener() {
                        @Override
                        public void phase(String half, int compositions, int n) {
                            phases.add(half + " " + compositions + " " + n);
                        }
                    });
            assertEquals(search.size(), t.tuned().size());
            assertEquals("tune " + search.size() + " 4", phases.get(0));
            assertTrue(t.tuned().stream().allMatch(r -> r.problems() == 4));
            // the choice is the most accurate, the cheaper in tokens of equals
            Evaluation.Row chosen = t.choiceTuned();
            for (Evaluation.Row r : t.tuned()) {
                assertTrue(r.correct() < chosen.correct() || r.correct() == chosen.correct()
                        && r.tokensPerProblem() >= chosen.tokensPerProblem(), r.method() + " beats " + chosen.method());
            }
            // the confirmation half measures the frontier and the choice, nothing else
            List<String> frontier = new ArrayList<>(Frontier.of(t.points(), Cost.TOKENS).stream()
                    .map(Frontier.Point::name).toList());
            Frontier.of(t.points(), Cost.MILLIS).forEach(p -> {
                if (!frontier.contains(p.name())) {
                    frontier.add(p.name());
                }
            });
            assertEquals(frontier.stream().sorted().toList(),
                    t.confirmed().stream().map(Evaluation.Row::method).sorted().toList());
            assertTrue(t.confirmed().stream().allMatch(r -> r.problems() == 4));
            assertEquals("confirm " + t.confirmed().size() + " 4", phases.get(1));

            List<Path> files = t.write(dir, "arith", arith.configJson());
            assertEquals(6, files.size());
            // the strategy file, read as run --strategy reads it, answers every tuning problem as tuned
            Composition read = CompositionJson.parse(dir.resolve(Tuning.STRATEGY).toString());
            assertEquals(t.choice(), read);
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < split.tune().size(); i++) {
                answers.add(blender.blend(BlendRequest.builder().prompt(split.tune().get(i).question())
                        .seed(Evaluation.seedOf(seed, i)).composition(read).build()).answer());
            }
            assertEquals(t.answers().get(t.chosen()), answers);
        }
        // the configuration file loads on its own with the choice as its strategy
        BlenderConfig written = BlenderConfigJson.load(dir.resolve(Tuning.CONFIG));
        assertEquals(t.choice().stages(), written.composition().stages());
        assertEquals(config.generators(), written.generators());
        JsonNode frontier = new ObjectMapper().readTree(dir.resolve(Tuning.FRONTIER).toFile());
        assertEquals(t.chosen(), frontier.path("chosen").path("name").asText());
        assertEquals(search.size(), frontier.path("compositions").size());
        assertEquals(4, frontier.path("chosen").path("confirm").path("problems").asInt());
        assertTrue(Files.readString(dir.resolve(Tuning.PICTURE)).contains("class=\"chosen\""));
    }
}
