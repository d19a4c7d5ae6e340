package dev.blender.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Strategy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Blenders, servers and an HTTP client for the server's tests. */
final class ServerTestSupport {
    static final ObjectMapper JSON = new ObjectMapper();

    private ServerTestSupport() {}

    static Path arith(String name) {
        return ArithBlenders.arith(name);
    }

    /** The arith family as {@code blender serve} uses it with no model options. */
    static BlenderConfig.Builder arithBlender() {
        return ArithBlenders.full();
    }

    /**
     * A generated model with a long context that answers greedily with thousands of tokens and no end
     * of generation: a request that runs long enough to be left, queued behind, or shut down under.
     */
    static Blender slowBlender() {
        Path model = TestModels.generated("server-slow", SyntheticLlama.builder().weightSeed(7).vocabularySeed(3)
                .contextLength(8192).build());
        return Blender.builder().generator(model).strategy(Strategy.SINGLE).contextSize(8192).maxTokens(8000)
                .answerSampler(SamplerOptions.greedy()).modelOptions(ModelOptions.defaults().withThreads(1)).build();
    }

    /** The arith blend served on a free port: what a test class starts before its tests and closes after. */
    record ArithServer(Blender blender, BlenderServer server) implements AutoCloseable {
        static ArithServer start() throws InterruptedException {
            Blender b = arithBlender().build();
            try {
                return new ArithServer(b, ServerTestSupport.start(BlenderServer.builder(b)));
            } catch (RuntimeException | Error e) {
                b.close();
                throw e;
            }
        }

        @Override
        public void close() {
            server.close();
            blender.close();
        }
    }

    /** A started server on a free loopback port, ready. */
    static BlenderServer start(BlenderServer.Builder b) throws InterruptedException {
        BlenderServer s = b.port(0).build().start();
        if (!s.awaitReady(Duration.ofMinutes(2))) {
            s.close();
            throw new AssertionError("the server did not get ready: " + s.loadProblem());
        }
        return s;
    }

    static JsonNode readJson(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + text, e);
        }
    }

    static HttpClient client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    record Reply(int status, java.net.http.HttpHeaders headers, String body) {
        JsonNode json() {
            return readJson(body);
        }

        /** The data of each server-sent event, in order ({@code [DONE]} included). */
        List<String> events() {
            List<String> out = new ArrayList<>();
            for (String block : body.split("\n\n")) {
                if (!block.isBlank()) {
                    if (!block.startsWith("data: ") || block.contains("\n")) {
                        throw new AssertionError("not one data line: " + block);
                    }
                    out.add(block.substring("data: ".length()));
                }
            }
            return out;
        }
    }

    static Reply post(HttpClient client, BlenderServer server, String path, String body, String... headers) {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .timeout(Duration.ofMinutes(2)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            r.headers(headers);
        }
        return send(client, r.build());
    }

    static Reply get(HttpClient client, BlenderServer server, String path, String... headers) {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(root(server) + path))
                .timeout(Duration.ofMinutes(2)).GET();
        if (headers.length > 0) {
            r.headers(headers);
        }
        return send(client, r.build());
    }

    /** The server's address without {@code /v1}. */
    static String root(BlenderServer server) {
        String base = server.baseUrl();
        return base.substring(0, base.length() - "/v1".length());
    }

    private static Reply send(HttpClient client, HttpRequest request) {
        try {
            HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.headers(), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A chat body with one user message. */
    static String chat(String prompt, String extra) {
        return "{\"model\": \"blender\", \"messages\": [{\"role\": \"user\", \"content\": \"" + prompt + "\"}]"
                + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }
}
