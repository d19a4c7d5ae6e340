package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlenderCliTest {
    record Run(int code, String out, String err) {}

    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = BlenderCli.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void blendScoresTheArithPairAndReportsJson() throws Exception {
        Path a = TestModels.sharedFile("models/arith/answerer-a.gguf");
        Path b = TestModels.sharedFile("models/arith/answerer-b.gguf");
        Path problems = TestModels.sharedFile("data/arith/dev.jsonl");
        Run r = run("blend", "-m", a.toString(), "-m", b.toString(), "--problems", problems.toString(), "--limit", "8",
                "--json");
        assertEquals(0, r.code, r.err);
        JsonNode root = new ObjectMapper().readTree(r.out);
        assertEquals(8, root.get("problems").asInt());
        JsonNode methods = root.get("methods");
        assertEquals(3, methods.size());
        assertEquals("member:answerer-a", methods.get(0).get("method").asText());
        assertEquals("token:log-linear", methods.get(2).get("method").asText());
        // greedy answers on the first 8 problems: a gets 5 right, and so does the log-linear blend (pinned:
        // the same on b4916 and v0.5.0; the blend's gain shows over more problems)
        assertEquals(5 / 8.0, methods.get(0).get("accuracy").asDouble(), 1e-9);
        assertEquals(5 / 8.0, methods.get(2).get("accuracy").asDouble(), 1e-9);
        // the 95% Wilson score interval of 5 of 8, worked out by hand: 0.3057 .. 0.8632
        assertEquals(0.3057, methods.get(0).get("ci95").get(0).asDouble(), 1e-4);
        assertEquals(0.8632, methods.get(0).get("ci95").get(1).asDouble(), 1e-4);
    }

    @Test
    void promptModeStreamsOneBlendedAnswer() {
        Path a = TestModels.sharedFile("models/arith/answerer-a.gguf");
        Path b = TestModels.sharedFile("models/arith/answerer-b.gguf");
        Run r = run("blend", "-m", a.toString(), "-m", b.toString(), "--prompt", "Q: 17+62= A:");
        assertEquals(0, r.code, r.err);
        assertEquals("79", r.out.strip(), "README: log-linear mix answers 79");
        assertTrue(r.err.contains("END_OF_GENERATION"), r.err);
    }

    @Test
    void perplexityWritesARowPerMemberAndMethod(@TempDir Path dir) throws Exception {
        TestModels.stories();
        TestModels.aidreams();
        Path text = TestModels.sharedFile("data/tinystories/tinystories_val_dev.txt");
        Path out = dir.resolve("ppl.json");
        Run r = run("perplexity", "--text", text.toString(), "--max-bytes", "3000", "--json", out.toString());
        assertEquals(0, r.code, r.err);
        JsonNode rows = new ObjectMapper().readTree(out.toFile()).get("rows");
        java.util.Map<String, Double> bpb = new java.util.HashMap<>();
        rows.forEach(row -> bpb.put(row.get("method").asText(), row.get("bits_per_byte").asDouble()));
        assertEquals(java.util.Set.of("member:stories260K", "member:aidreams260K", "token:linear", "token:log-linear",
                "token:linear-adaptive", "token:log-linear-adaptive", "token:linear-learned", "token:log-linear-learned"),
                bpb.keySet());
        assertTrue(bpb.get("token:linear-adaptive") < bpb.get("token:linear"), bpb.toString());
        assertTrue(bpb.get("token:log-linear-adaptive") < bpb.get("token:log-linear"), bpb.toString());
        assertTrue(bpb.get("token:linear-learned") < bpb.get("token:linear"), bpb.toString());
        assertTrue(bpb.get("token:log-linear-learned") < bpb.get("token:log-linear"), bpb.toString());
        assertTrue(r.out.contains("member:stories260K"), r.out);

        // one adaptation, chosen by name: its rows alone beside the members', the same figures
        Run learned = run("perplexity", "--text", text.toString(), "--max-bytes", "3000", "--adapt", "learned",
                "--json", out.toString());
        assertEquals(0, learned.code, learned.err);
        java.util.Map<String, Double> only = new java.util.HashMap<>();
        new ObjectMapper().readTree(out.toFile()).get("rows").forEach(row -> only.put(row.get("method").asText(),
                row.get("bits_per_byte").asDouble()));
        assertEquals(java.util.Set.of("member:stories260K", "member:aidreams260K", "token:linear-learned",
                "token:log-linear-learned"), only.keySet());
        assertEquals(bpb.get("token:linear-learned"), only.get("token:linear-learned"), 1e-6);
        Run bad = run("perplexity", "--text", text.toString(), "--adapt", "gated");
        assertEquals(2, bad.code);
        assertTrue(bad.err.contains("'gated' is not one of [fixed, bayes, learned]"), bad.err);
    }

    @Test
    void blendAdaptsItsWeightsByName() {
        String s = TestModels.stories().toString();
        String d = TestModels.aidreams().toString();
        Run alone = run("blend", "-m", s, "-m", d, "--align-by-text", "--method", "LINEAR", "--weights", "1,0",
                "--prompt", "Once upon a time", "--max-tokens", "24");
        Run learned = run("blend", "-m", s, "-m", d, "--align-by-text", "--method", "LINEAR", "--adapt", "learned",
                "--prompt", "Once upon a time", "--max-tokens", "24");
        Run equal = run("blend", "-m", s, "-m", d, "--align-by-text", "--method", "LINEAR",
                "--prompt", "Once upon a time", "--max-tokens", "24");
        assertEquals(0, learned.code, learned.err);
        // as AdaptiveWeightsTest pins: after the prompt the learned gate follows stories260K, equal weights do not
        assertEquals(alone.out, learned.out);
        assertTrue(!equal.out.equals(learned.out), equal.out);
        Run rate = run("blend", "-m", s, "-m", d, "--align-by-text", "--rate", "0.1", "--prompt", "Once");
        assertEquals(2, rate.code);
        assertTrue(rate.err.contains("--rate is the rate of --adapt"), rate.err);
    }

    @Test
    void maxTokensIsHonouredAsGiven() {
        Path s = TestModels.stories();
        Run eight = run("blend", "-m", s.toString(), "-m", s.toString(), "--prompt", "Once upon a time", "--max-tokens", "8");
        assertEquals(0, eight.code, eight.err);
        assertTrue(eight.err.contains("LENGTH") && eight.err.contains(" 8 tokens"), eight.err);
        Run dflt = run("blend", "-m", s.toString(), "-m", s.toString(), "--prompt", "Once upon a time");
        assertEquals(0, dflt.code, dflt.err);
        assertTrue(dflt.out.length() > 4 * eight.out.length(), "unset, a story gets 128 tokens: " + dflt.out);
    }

    @Test
    void badInputIsAMessageNotAStackTrace(@TempDir Path dir) throws Exception {
        Run missing = run("blend", "-m", dir.resolve("nope.gguf").toString(), "-m", dir.resolve("nope2.gguf").toString());
        assertEquals(2, missing.code);
        assertTrue(missing.err.contains("nope.gguf") && !missing.err.contains("\tat "), missing.err);

        Path junk = Files.writeString(dir.resolve("junk.gguf"), "not a model at all");
        Run bad = run("inspect", junk.toString());
        assertEquals(2, bad.code);
        assertTrue(bad.err.contains("junk.gguf"), bad.err);

        Run option = run("blend", "--limit", "many");
        assertEquals(2, option.code);
        assertTrue(option.err.contains("--limit"), option.err);

        Supplier<Path> tiny = TestModels::tiny;
        Run weights = run("blend", "-m", tiny.get().toString(), "-m", tiny.get().toString(), "--weights", "1,2,3",
                "--prompt", "x");
        assertEquals(2, weights.code);
        assertTrue(weights.err.contains("--weights has 3 values for 2 models"), weights.err);
    }

    @Test
    void inspectShowsMetadataAndVocabularyCompatibility() {
        Run r = run("inspect", TestModels.stories().toString(), TestModels.aidreams().toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("general.architecture"), r.out);
        assertTrue(r.out.contains("incompatible"), r.out);
    }

    @Test
    void helpHelps() {
        Run r = run("--help");
        assertEquals(0, r.code);
        assertTrue(r.out.contains("blend") && r.out.contains("inspect"), r.out);
        Run b = run("blend", "--help");
        assertTrue(b.out.contains("--method") && b.out.contains("LOG_LINEAR"), b.out);
    }

    @Test
    void evalOfAFewProblemsProducesEveryRowWithConsistentCounts(@TempDir Path dir) throws Exception {
        Path models = TestModels.sharedFile("models/arith");
        Path problems = TestModels.sharedFile("data/arith/dev.jsonl");
        Path out = dir.resolve("eval.json");
        Run r = run("eval", "--models", models.toString(), "--problems", problems.toString(), "--limit", "4",
                "--json", out.toString());
        assertEquals(0, r.code, r.err);
        JsonNode root = new ObjectMapper().readTree(Files.readString(out));
        assertEquals(4, root.get("problems").asInt());
        java.util.Map<String, Double> acc = new java.util.HashMap<>();
        for (JsonNode m : root.get("methods")) {
            double a = m.get("accuracy").asDouble();
            assertEquals(0, Math.round(a * 4) - a * 4, 1e-9, "a whole number of 4 problems");
            assertTrue(m.get("tokens_per_problem").asDouble() > 0);
            acc.put(m.get("method").asText(), a);
        }
        assertEquals(java.util.Set.of("member:answerer-a", "member:answerer-b", "pool:random", "majority", "self-moa",
                "pool:oracle", "rank:bubble", "rank:maxlogits", "rank:maxwins", "rank:embedding", "fuse:top3",
                "fuse:frequent3", "token:linear", "token:loglinear", "token:pack", "token:gated", "fuse:mix3",
                "fuse:mix3-verified", "cascade:mix3", "fuse:mix3-solved", "cascade:solve"), acc.keySet());
        for (String picker : new String[] {"pool:random", "majority", "rank:bubble", "rank:maxlogits", "rank:maxwins",
            "rank:embedding"}) {
            assertTrue(acc.get(picker) <= acc.get("pool:oracle"), picker + " picks from the pool, so it cannot beat the oracle");
        }
        // the README's greedy answers: answerer-a gets the 3rd and 4th of the first four right
        assertEquals(0.5, acc.get("member:answerer-a"), 1e-9);
    }

    /** README's main job, on 4 problems instead of 100: the whole blend beside each member alone. */
    @Test
    void theReadmesMainJobRunsTheWholeBlendBesideEachMember() throws Exception {
        TestModels.sharedFile("models/arith/answerer-c.gguf");
        String line = Files.readAllLines(Path.of("../README.md")).stream().map(String::strip)
                .filter(l -> l.startsWith("bin/blender eval ")).findFirst().orElseThrow();
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
                line.substring("bin/blender ".length()).split(" +")));
        args.set(args.indexOf("--limit") + 1, "4");
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.code, r.err);
        for (String row : new String[] {"member:answerer-a", "member:answerer-b", "member:answerer-c", "full-blend",
            "fuse:mix3-verified"}) {
            assertTrue(r.out.contains("\n" + row + " "), row + " in\n" + r.out);
        }
        assertTrue(r.out.contains("3 x 4 candidates at temperature 0.20"), r.out);
    }

    @Test
    void evalRunsAUserRecipeFileWithoutJudgeOrFuser(@TempDir Path dir) throws Exception {
        Path models = TestModels.sharedFile("models/arith");
        Path problems = TestModels.sharedFile("data/arith/dev.jsonl");
        Path recipe = Files.writeString(dir.resolve("mine.json"), """
                {"models": [{"path": "%s"}, {"path": "%s"}],
                 "generatorPrompt": "Q: {prompt} A:", "maxTokens": 8, "contextSize": 64,
                 "eval": {"name": "two answerers", "checker": "exact"}}
                """.formatted(models.resolve("answerer-strong.gguf"), models.resolve("answerer-c.gguf")));
        Run r = run("eval", "--recipe", recipe.toString(), "--problems", problems.toString(), "--limit", "3", "--json",
                dir.resolve("out.json").toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("member:answerer-strong") && r.out.contains("token:loglinear"), r.out);
        assertTrue(!r.out.contains("rank:maxlogits") && !r.out.contains("fuse:"), "no judge, no fuser: " + r.out);
        JsonNode root = new ObjectMapper().readTree(Files.readString(dir.resolve("out.json")));
        assertEquals(1.0, root.get("methods").get(0).get("accuracy").asDouble(), 1e-9, "answerer-strong: 3 of 3");
    }
}
