package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {

    @Test
    void nearestRankPercentiles() {
        double[] oneToTwenty = IntStream.rangeClosed(1, 20).asDoubleStream().toArray();
        assertEquals(10, BenchCommand.percentile(oneToTwenty, 50));
        assertEquals(19, BenchCommand.percentile(oneToTwenty, 95));
        assertEquals(20, BenchCommand.percentile(oneToTwenty, 100));
        assertEquals(1, BenchCommand.percentile(oneToTwenty, 1));
        assertEquals(2, BenchCommand.percentile(oneToTwenty, 5.01), "just over one sample's share takes the next one");

        double[] one = {42};
        assertEquals(42, BenchCommand.percentile(one, 50));
        assertEquals(42, BenchCommand.percentile(one, 95));

        double[] odd = {1, 2, 3, 4, 5};
        assertEquals(3, BenchCommand.percentile(odd, 50));
        assertEquals(5, BenchCommand.percentile(odd, 95));
        double[] even = {1, 2, 3, 4};
        assertEquals(2, BenchCommand.percentile(even, 50), "nearest rank never interpolates");

        assertThrows(IllegalArgumentException.class, () -> BenchCommand.percentile(new double[0], 50));
        assertThrows(IllegalArgumentException.class, () -> BenchCommand.percentile(one, 0));
        assertThrows(IllegalArgumentException.class, () -> BenchCommand.percentile(one, 101));

        BenchCommand.Stats s = BenchCommand.Stats.of(List.of(3.0, 1.0, 2.0, 10.0));
        assertEquals(2.0, s.p50());
        assertEquals(10.0, s.p95());
        assertEquals(4.0, s.mean(), 1e-12);
        assertEquals(null, BenchCommand.Stats.of(List.of()).p50());
    }

    @Test
    void benchesThreeStrategiesOnTheArithDefaults(@TempDir Path dir) throws Exception {
        Path dev = TestModels.sharedFile("data/arith/dev.jsonl");
        TestModels.sharedFile("models/arith/judge.gguf");
        List<String> questions = Files.readAllLines(dev).subList(0, 2).stream()
                .map(l -> l.replaceAll(".*\"question\": \"([^\"]*)\".*", "$1")).toList();
        Path prompts = Files.write(dir.resolve("prompts.txt"), questions);
        Path out = dir.resolve("bench.json");

        BlenderCliTest.Run r = BlenderCliTest.run("bench", "--runs", "2", "--warmup", "0", "--prompts",
                prompts.toString(), "--strategies", "SINGLE,TOKEN_COMBINE,FULL_BLEND", "--json", out.toString());

        assertEquals(0, r.code(), r.err());
        for (String s : new String[] {"SINGLE", "TOKEN_COMBINE", "FULL_BLEND"}) {
            assertTrue(r.out().contains(s), r.out());
        }
        assertFalse(r.out().contains("SELF_BLEND") || r.out().contains("CASCADE"), r.out());
        assertTrue(r.err().contains("12/12"), "the progress bar counts every measured request: " + r.err());

        JsonNode root = new ObjectMapper().readTree(Files.readString(out));
        assertEquals(2, root.get("runs").asInt());
        assertEquals(2, root.get("prompts").asInt());
        if (Files.isReadable(Path.of("/proc/self/status"))) {
            assertTrue(root.get("peak_rss_kib").asLong() > 0, root.toString());
        }
        JsonNode strategies = root.get("strategies");
        assertEquals(3, strategies.size());
        assertEquals("SINGLE", strategies.get(0).get("strategy").asText(), "in the order asked for");
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
        assertTrue(full.get("ranking_ms").get("p50").asDouble() > 0, "FULL_BLEND asks the judge: " + full);
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
        assertTrue(nope.err().contains("unknown strategy 'NOPE'"), nope.err());
        assertTrue(nope.err().contains("SINGLE, SELF_BLEND, FULL_BLEND, TOKEN_COMBINE, CASCADE"), nope.err());
    }

    @Test
    void helpSaysHowThroughputIsDefined() {
        BlenderCliTest.Run help = BlenderCliTest.run("bench", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("--strategies") && help.out().contains("tokens/s"), help.out());
    }
}
