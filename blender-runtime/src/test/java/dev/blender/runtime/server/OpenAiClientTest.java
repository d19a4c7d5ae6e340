package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The official {@code openai} npm client (7.x) against the server: {@code src/test/node/openai-client.mjs}
 * makes a plain and a streamed chat completion, a completion, two errors and 16 x 10 concurrent seeded
 * requests; here its answers are compared with the same blends run in process.
 */
class OpenAiClientTest {

    @Test
    void theOfficialClientGetsTheBlendsAnswers() throws Exception {
        NodeClient.modules();
        Blender blender = ServerTestSupport.arithBlender().build();
        Set<Thread> before = ConcurrentClientsTest.platformThreads();
        BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender).maxConcurrent(2));
        NodeClient.Result r;
        try {
            r = NodeClient.run(Files.readString(Path.of("src/test/node/openai-client.mjs")),
                    Map.of("OPENAI_BASE_URL", server.baseUrl(), "OPENAI_API_KEY", "unused"));
            assertEquals(0, r.code(), "node failed:\n" + r.out() + r.err());
            JsonNode got = ServerTestSupport.readJson(r.lastLine());
            assertEquals(blender.blend(BlendRequest.builder().prompt("37+48=").seed(3).build()).answer(), got.get("chat").asText());
            assertEquals(got.get("chat").asText(), got.get("streamed").asText());
            assertEquals("79", got.get("completion").asText(), "README: the log-linear mix answers 79");
            assertEquals(List.of("blender", "answerer-a.gguf", "answerer-b.gguf", "judge.gguf", "fuser.gguf"),
                    ServerTestSupport.JSON.convertValue(got.get("models"), List.class));
            List<String> inProcess = new ArrayList<>();
            for (int i = 0; i < ConcurrentClientsTest.PROMPTS.length; i++) {
                inProcess.add(blender.blend(BlendRequest.builder().prompt(ConcurrentClientsTest.PROMPTS[i]).seed(i + 1)
                        .strategy(Strategy.parse(ConcurrentClientsTest.STRATEGIES[i % 5]))
                        .candidatesPerModel(2).build()).answer());
            }
            JsonNode concurrent = got.get("concurrent");
            assertEquals(160, concurrent.get("requests").asInt());
            assertEquals(inProcess, ServerTestSupport.JSON.convertValue(concurrent.get("answers"), List.class),
                    "16 clients x 10 requests each got the in-process answers");
            BlenderServer.Stats stats = server.stats();
            assertEquals(0, stats.failed() + stats.rejected() + stats.cancelled(), stats.toString());
            assertEquals(0, dev.blender.runtime.pipeline.Pools.of(blender).leasesOut(), "every context returned to the pool");
            assertEquals(4, dev.blender.runtime.pipeline.Pools.of(blender).loadedModels(), "each model loaded once");
        } finally {
            server.close();
        }
        ServerLifecycleTest.await("the connections to end", () -> server.connections() == 0);
        blender.close();
        assertEquals(Set.of(), ConcurrentClientsTest.leftOver(before), "threads started and not ended");
    }
}
