package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {

    @Test
    void benchesThreeStrategiesOnTheArithDefaults(@TempDir Path dir) throws Exception {
        Path dev = TestModels.sharedFile("data/arith/dev.jsonl");
        TestModels.sharedFile("models/arith/judge.gguf");
        List<String> questions = Files.readAllLines(dev).subList(0, 2).stream()
                .map(l -> l.replaceAll(".*\"question\": \"([^\"]*)\".*", "$1")).toList();
        Path prompts = Files.write(dir.resolve("prompts.txt"), questions);
        Path out = dir.resolve("bench.json");

        BlenderCliTest.Run r = BlenderCliTest.run("bench", "--runs", "2", "--warmup", "0", "--prompts",
                prompts.toString(), "--strategies", "SINGLE,token-combine,Full_Blend", "--json", out.toString());

        assertEquals(0, r.code(), r.err());
        for (String s : new String[] {"single", "token-combine", "full-blend"}) {
            assertTrue(r.out().contains(s), "named as the composition, whatever the spelling asked: " + r.out());
        }
        assertFalse(r.out().contains("self-blend") || r.out().contains("cascade"), r.out());
        assertTrue(r.err().contains("12/12"), "the progress bar counts every measured request: " + r.err());

        JsonNode root = new ObjectMapper().readTree(Files.readString(out));
        assertEquals(2, root.get("runs").asInt());
        assertEquals(2, root.get("prompts").asInt());
        if (Files.isReadable(Path.of("/proc/self/status"))) {
            assertTrue(root.get("peak_rss_kib").asLong() > 0, root.toString());
        }
        JsonNode strategies = root.get("strategies");
        assertEquals(3, strategies.size());
        assertEquals("single", strategies.get(0).get("strategy").asText(), "in the order asked for");
        assertEquals("full-blend", strategies.get(2).get("strategy").asText());
        for (JsonNode s : strategies) {
            assertEquals(4, s.get("requests").asInt(), s.toString());
            for (String stage : new String[] {"total_ms", "first_token_ms", "sampling_ms", "ranking_ms", "fusion_ms"}) {
                JsonNode st = s.get(stage);
                assertNotNull(st, stage);
                assertTrue(st.has("p50") && st.has("p95") && st.has("mean"), st.toString());
                if (!st.get("p50").isNull()) {
                    assertTrue(st.get("p50").asDouble() <= st.get("p95").asDouble(), stage + " " + st);
                }
            }
            assertTrue(s.get("total_ms").get("p50").asDouble() > 0, s.toString());
            assertTrue(s.has("answer_tokens_per_s"), s.toString());
            assertTrue(s.get("p50_vs_single").asDouble() > 0, s.toString());
        }
        assertEquals(1.0, strategies.get(0).get("p50_vs_single").asDouble(), 1e-12);
        JsonNode full = strategies.get(2);
        assertTrue(full.get("ranking_ms").get("p50").asDouble() > 0, "full-blend asks the judge: " + full);
    }

    @Test
    void badOptionsAreMessagesNotStackTraces() {
        BlenderCliTest.Run runs = BlenderCliTest.run("bench", "--runs", "0");
        assertEquals(2, runs.code());
        assertTrue(runs.err().contains("--runs must be >= 1, was 0") && !runs.err().contains("\tat "), runs.err());

        BlenderCliTest.Run warm = BlenderCliTest.run("bench", "--warmup", "-1");
        assertEquals(2, warm.code());
        assertTrue(warm.err().contains("--warmup must be >= 0"), warm.err());

        BlenderCliTest.Run nope = BlenderCliTest.run("bench", "--strategies", "SINGLE,NOPE");
        assertEquals(2, nope.code());
        assertTrue(nope.err().contains("--strategies: unknown strategy 'NOPE'"), nope.err());
        assertTrue(nope.err().contains("single, self-blend, full-blend, token-combine, cascade"), nope.err());

        BlenderCliTest.Run badJson = BlenderCliTest.run("bench", "--strategies", "single,[\"vote\"]");
        assertEquals(2, badJson.code());
        assertTrue(badJson.err().contains("--strategies: composition custom: vote needs a sample stage before it"),
                badJson.err());
    }

    @Test
    void helpSaysHowThroughputIsDefined() {
        BlenderCliTest.Run help = BlenderCliTest.run("bench", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("--strategies") && help.out().contains("tokens/s"), help.out());
    }
}
