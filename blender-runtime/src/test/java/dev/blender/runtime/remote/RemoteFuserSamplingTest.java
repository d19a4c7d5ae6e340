package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.blender.genfuser.FuseOptions;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.CompositionJson;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A remote fuser samples as the local one does: with the blend's answer sampler, greedy unless the
 * configuration says otherwise. What it sends is read off the requests a recording server receives.
 */
class RemoteFuserSamplingTest {
    private HttpServer server;
    private final List<JsonNode> received = new CopyOnWriteArrayList<>();
    private String url;

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/v1/", x -> {
            try (x) {
                received.add(new ObjectMapper().readTree(x.getRequestBody().readAllBytes()));
                byte[] b = ("{\"choices\":[{\"text\":\" 79\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                        + "\"object\":\"text_completion\",\"usage\":{\"completion_tokens\":1,\"prompt_tokens\":9}}")
                        .getBytes(StandardCharsets.UTF_8);
                x.getResponseHeaders().set("Content-Type", "application/json");
                x.sendResponseHeaders(200, b.length);
                x.getResponseBody().write(b);
            }
        });
        server.start();
        url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private RemoteEndpoint endpoint() {
        return RemoteEndpoint.of(url, "f").withApi(RemoteEndpoint.Api.COMPLETIONS).withRetries(0);
    }

    @Test
    void theFuserSendsTheSamplerItIsGiven() {
        try (HttpClient http = OpenAiClient.newHttpClient()) {
            RemoteFuser fuser = new RemoteFuser(new OpenAiClient(endpoint(), null, http), FuserTemplate.arith());
            assertEquals("79", fuser.fuse("17+62=", List.of("79", "80"), new FuseOptions(4, SamplerOptions.greedy(),
                    List.of(), 1L, null), TokenListener.NONE).candidate().text().strip());
            fuser.fuse("17+62=", List.of("79"), new FuseOptions(4, SamplerOptions.defaults().withTemperature(0.7f)
                    .withTopP(0.9f), List.of(), 1L, null), TokenListener.NONE);
        }
        assertEquals(0.0, received.get(0).path("temperature").asDouble(), "greedy");
        assertEquals(1.0, received.get(0).path("top_p").asDouble());
        assertEquals(0.7, received.get(1).path("temperature").asDouble(), 1e-6);
        assertEquals(0.9, received.get(1).path("top_p").asDouble(), 1e-6);
    }

    /** In a blend the remote fuser gets the answer sampler, as the local GenFuser gets it: greedy by default. */
    @Test
    void aBlendsRemoteFuserSamplesWithItsAnswerSampler() {
        for (SamplerOptions answer : new SamplerOptions[] {null, SamplerOptions.defaults().withTemperature(0.6f)
                .withTopP(0.8f)}) {
            received.clear();
            BlenderConfig.Builder b = Blender.builder().generator(TestModels.tiny())
                    .fuser(endpoint(), FuserTemplate.arith(), "f").contextSize(64).maxTokens(4).fusedMaxTokens(4)
                    .candidatesPerModel(2).modelOptions(ModelOptions.defaults().withThreads(1));
            if (answer != null) {
                b.answerSampler(answer);
            }
            try (Blender blender = b.build()) {
                blender.blend(BlendRequest.builder().prompt("17+62=").seed(1)
                        .composition(CompositionJson.parse("[\"sample\", \"fuse\"]")).build());
            }
            assertEquals(1, received.size(), "one fusion request: " + received);
            double want = answer == null ? 0.0 : 0.6;
            assertEquals(want, received.get(0).path("temperature").asDouble(), 1e-6, "the answer sampler's temperature");
            assertEquals(answer == null ? 1.0 : 0.8, received.get(0).path("top_p").asDouble(), 1e-6);
        }
    }
}
