package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
    record Run(int code, String out, String err) {}

    /** Runs the CLI in process with {@code stdin} as System.in, capturing stdout and stderr. */
    static synchronized Run run(String stdin, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = BlenderCli.run(args);
            System.out.flush();
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setIn(oldIn);
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static void assumeArith() {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
    }

    @Test
    void tokenCombineStreamsTheLogLinearAnswer() {
        assumeArith();
        Run r = run("", "run", "17+62=", "--strategy", "TOKEN_COMBINE");
        assertEquals(0, r.code(), r.err());
        assertEquals("79\n", r.out(), "README: the log-linear mix answers 79, streamed without the leading space");
        assertTrue(r.err().contains("[token-combine, 0 candidates,") && r.err().contains("first token"), r.err());
    }

    @Test
    void promptWordsAreJoinedAndDashReadsStdin() {
        assumeArith();
        Run words = run("", "run", "--strategy", "SINGLE", "--generator-prompt", "{prompt} A:", "Q:", "17+62=");
        assertEquals("80", words.out().strip(), "README: answerer-a alone answers 80");
        Run stdin = run("17+62=\n", "run", "--strategy", "SINGLE", "-");
        assertEquals(0, stdin.code(), stdin.err());
        assertEquals("80", stdin.out().strip());
    }

    @Test
    void commandLineOptionsOverrideTheConfigurationFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        assumeArith();
        java.nio.file.Path models = TestModels.sharedFile("models/arith");
        java.nio.file.Path cfg = java.nio.file.Files.writeString(dir.resolve("blend.json"), """
                {"models": [{"path": "%s/answerer-a.gguf", "role": "generator"},
                            {"path": "%s/answerer-b.gguf", "role": "generator"}],
                 "strategy": "token-combine", "maxTokens": 8, "contextSize": 64, "generatorPrompt": "Q: {prompt} A:"}
                """.formatted(models, models));
        assertEquals("79", run("", "run", "--config", cfg.toString(), "17+62=").out().strip(), "the file's TOKEN_COMBINE");
        Run single = run("", "run", "--config", cfg.toString(), "--strategy", "single", "17+62=");
        assertEquals(0, single.code(), single.err());
        assertEquals("80", single.out().strip(), "--strategy wins over the file: answerer-a alone");
        assertEquals("", run("", "run", "--config", cfg.toString(), "--max-tokens", "1", "--strategy", "single",
                "17+62=").out().strip(), "--max-tokens 1 wins: only the leading space");
        Run both = run("", "run", "--config", cfg.toString(), "-m", models.resolve("answerer-a.gguf").toString(), "1+1=");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("either in --config"), both.err());
    }

    @Test
    void jsonHasEveryField() throws Exception {
        assumeArith();
        Run r = run("", "run", "--json", "--seed", "3", "17+62=");
        assertEquals(0, r.code(), r.err());
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertEquals("full-blend", root.get("strategy").asText(), "judge and fuser given: full-blend by default");
        assertFalse(root.get("answer").asText().isEmpty());
        JsonNode candidates = root.get("candidates");
        assertEquals(8, candidates.size(), "2 generators x 4 candidates");
        for (JsonNode c : candidates) {
            assertTrue(c.get("model").asText().startsWith("answerer-"), c.toString());
            assertTrue(c.has("text"));
        }
        JsonNode ranking = root.get("ranking");
        if (ranking != null) {
            for (int i = 1; i < ranking.size(); i++) {
                assertTrue(ranking.get(i - 1).get("score").asDouble() >= ranking.get(i).get("score").asDouble()
                        || root.get("ordered_by").asText().equals("bubble"), "best first: " + ranking);
            }
        }
        assertEquals(root.get("answer").asText(), root.get("fused").asText(), "the fuser's text is the answer");
        JsonNode t = root.get("timings");
        for (String k : new String[] {"sampling_ms", "ranking_ms", "fusion_ms", "first_token_ms", "total_ms"}) {
            assertTrue(t.has(k), k + " in " + t);
        }
        assertTrue(t.get("total_ms").asDouble() >= t.get("sampling_ms").asDouble());

        Run single = run("", "run", "--json", "--strategy", "SINGLE", "17+62=");
        JsonNode s = new ObjectMapper().readTree(single.out());
        assertEquals("80", s.get("answer").asText());
        assertTrue(s.get("fused").isNull() && s.get("candidates").size() == 1, "one model's one answer: " + s);
    }

    @Test
    void errorsAreMessages(@TempDir Path dir) {
        Run missing = run("", "run", "-m", dir.resolve("nope.gguf").toString(), "x");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("nope.gguf") && !missing.err().contains("\tat "), missing.err());

        Run noPrompt = run("", "run");
        assertEquals(2, noPrompt.code());
        assertTrue(noPrompt.err().contains("PROMPT"), noPrompt.err());

        Run badStrategy = run("", "run", "--strategy", "BEST", "x");
        assertEquals(2, badStrategy.code());
        assertTrue(badStrategy.err().contains("--strategy"), badStrategy.err());

        assumeArith();
        Run empty = run("  \n", "run", "-");
        assertEquals(2, empty.code());
        assertTrue(empty.err().contains("blender: the prompt is empty"), empty.err());
    }
}
