package dev.blender.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnswerCheckerTest {
    @Test
    void exactTrims() {
        AnswerChecker c = AnswerChecker.EXACT;
        assertTrue(c.correct(c.extract(" 85\n"), List.of("85")));
        assertFalse(c.correct(c.extract(" 850"), List.of("85")));
    }

    @Test
    void gsm8kComparesTheFinalNumber() {
        AnswerChecker c = AnswerChecker.GSM8K;
        List<String> gold = List.of("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72");
        assertTrue(c.correct(c.extract("She sold 48 + 24 = 72 clips. #### 72"), gold));
        assertTrue(c.correct(c.extract("48 in April and 24 in May, so 72"), gold), "the last number without a marker");
        assertTrue(c.correct(c.extract("The answer is 72.0"), gold));
        assertTrue(c.correct(c.extract("#### 1,200 dollars"), List.of("#### 1200")));
        assertFalse(c.correct(c.extract("72 clips, minus 2 broken: 70"), gold));
        assertFalse(c.correct(c.extract("no idea"), gold));
    }

    @Test
    void nqOpenNormalisesLikeSquad() {
        AnswerChecker c = AnswerChecker.NQ_OPEN;
        List<String> gold = List.of("The Beatles", "Beatles");
        assertTrue(c.correct(c.extract("the beatles!\nThey were a band."), gold));
        assertTrue(c.correct(c.extract("  Beatles "), gold));
        assertFalse(c.correct(c.extract("The Rolling Stones"), gold));
        assertThrows(IllegalArgumentException.class, () -> AnswerChecker.named("fuzzy"));
    }

    @Test
    void regexTakesItsFirstGroupOrWholeMatch() {
        AnswerChecker grouped = AnswerChecker.named("regex:Answer: (\\S+)");
        assertEquals("42", grouped.extract("Let me think. Answer: 42 done"));
        assertTrue(grouped.correct(grouped.extract("Answer: 42"), List.of(" 42 ")));
        assertFalse(grouped.correct(grouped.extract("no marker 42"), List.of("42")), "no match is never right");
        assertFalse(grouped.correct(grouped.extract("no marker"), List.of("")), "not even against a blank gold");
        AnswerChecker whole = AnswerChecker.named("REGEX:-?\\d+");
        assertEquals("-7", whole.extract("it is -7, or 8"));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> AnswerChecker.named("regex:(unclosed"));
        assertTrue(bad.getMessage().contains("regex:(unclosed"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AnswerChecker.named("regex:"));
    }

    @Test
    void sharedDataSetsParseWithTheirAnswerShapes() {
        List<Problem> nq = Problem.readJsonl(TestModels.sharedFile("data/nq_open/NQ-open.dev.jsonl"), 5);
        assertEquals(5, nq.size());
        assertTrue(nq.stream().allMatch(p -> !p.answers().isEmpty()));
        List<Problem> gsm = Problem.readJsonl(TestModels.sharedFile("data/gsm8k/test.jsonl"), 3);
        assertTrue(gsm.get(0).answer().contains("####"), gsm.get(0).answer());
        assertFalse(AnswerChecker.GSM8K.extract(gsm.get(0).answer()).isEmpty());
    }

    @Test
    void recipesAreConfigurationsWithAnEvalSection(@TempDir Path dir) throws Exception {
        Path models = TestModels.sharedFile("models/arith");
        Recipe arith = Recipe.builtIn("arith", models);
        BlenderConfig config = arith.config().buildConfig();
        assertEquals(2, config.generators().size());
        assertEquals("Q: 85+95= A:", config.generatorText("85+95="));
        assertEquals(" X", config.judgeTemplate().verdictFirst());
        List<String> rows = arith.compositionsFor(config).stream().map(Composition::name).toList();
        assertEquals(List.of("member:answerer-a", "member:answerer-b"), rows.subList(0, 2));
        assertTrue(rows.containsAll(List.of("majority", "rank:maxlogits", "fuse:top3", "fuse:mix3", "token:loglinear")),
                rows.toString());
        assertThrows(IllegalArgumentException.class, () -> Recipe.builtIn("gsm8k", models));

        Path typo = Files.writeString(dir.resolve("typo.json"), """
                {"models": [{"path": "%s"}], "eval": {"checker": "exact", "compositons": ["majority"]}}
                """.formatted(models.resolve("answerer-a.gguf")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Recipe.load(typo, null));
        assertTrue(e.getMessage().contains("typo.json") && e.getMessage().contains("compositons"), e.getMessage());
        Path badChecker = Files.writeString(dir.resolve("checker.json"), """
                {"models": [{"path": "%s"}], "eval": {"checker": "fuzzy"}}
                """.formatted(models.resolve("answerer-a.gguf")));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Recipe.load(badChecker, null)).getMessage()
                .contains("fuzzy"));
        Path own = Files.writeString(dir.resolve("own.json"), """
                {"models": [{"path": "answerer-a.gguf"}, {"path": "answerer-b.gguf"}],
                 "eval": {"compositions": ["member:answerer-b", ["sample", "vote"]]}}
                """);
        Recipe mine = Recipe.load(own, models);
        assertEquals("own", mine.name(), "named after its file");
        assertEquals(List.of("member:answerer-b", "composition-2"),
                mine.compositionsFor(mine.config().buildConfig()).stream().map(Composition::name).toList());
    }
}
