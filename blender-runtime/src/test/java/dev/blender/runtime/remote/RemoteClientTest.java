package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.blender.nativebridge.ChatMessage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Retries, timeouts and errors against a scripted server on loopback. */
class RemoteClientTest {
    static final BooleanSupplier NEVER = () -> false;
    static final RemoteRequest REQUEST = new RemoteRequest(List.of(ChatMessage.user("Q: 1+1= A:")), "Q: 1+1= A:", 0f,
            1f, 8, List.of(), 10L);

    /** What the scripted server answers to the request numbered by the argument (0-based). */
    interface Script {
        void answer(int n, JsonNode body, HttpExchange x) throws IOException;
    }

    HttpServer server;
    HttpClient http;
    final List<JsonNode> bodies = Collections.synchronizedList(new ArrayList<>());
    final List<String> authorizations = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger requests = new AtomicInteger();
    volatile Script script;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/", x -> {
            try (x) {
                JsonNode body = RemoteResponsesTest.JSON.readTree(x.getRequestBody());
                bodies.add(body);
                authorizations.add(String.valueOf(x.getRequestHeaders().getFirst("Authorization")));
                script.answer(requests.getAndIncrement(), body, x);
            }
        });
        server.start();
        http = OpenAiClient.newHttpClient();
    }

    @AfterEach
    void stop() {
        http.close();
        server.stop(0);
    }

    String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    static void reply(HttpExchange x, int status, String body, String... headers) throws IOException {
        for (int i = 0; i < headers.length; i += 2) {
            x.getResponseHeaders().add(headers[i], headers[i + 1]);
        }
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().add("Content-Type", "application/json");
        x.sendResponseHeaders(status, b.length);
        x.getResponseBody().write(b);
    }

    static void ok(HttpExchange x) throws IOException {
        reply(x, 200, RemoteResponsesTest.fixture("llama-server-chat.json"));
    }

    OpenAiClient client(int retries, Duration timeout) {
        return new OpenAiClient(RemoteEndpoint.of(base(), "a").withRetries(retries).withTimeout(timeout), null, http);
    }

    @Test
    void serverErrorsAndRateLimitsAreRetriedUntilAnswered() {
        script = (n, body, x) -> {
            if (n == 0) {
                reply(x, 503, RemoteResponsesTest.fixture("error-llama-server.json"));
            } else if (n == 1) {
                reply(x, 429, "{\"error\": {\"message\": \"slow down\"}}", "Retry-After", "0");
            } else {
                ok(x);
            }
        };
        assertEquals(" 79", client(2, Duration.ofSeconds(10)).complete(REQUEST, 1, NEVER).get(0).text());
        assertEquals(3, requests.get());
    }

    @Test
    void aServerThatKeepsFailingIsReportedWithItsOwnMessage() {
        script = (n, body, x) -> reply(x, 500, RemoteResponsesTest.fixture("error-llama-server.json"));
        RemoteException e = assertThrows(RemoteException.class,
                () -> client(1, Duration.ofSeconds(10)).complete(REQUEST, 1, NEVER));
        assertEquals(2, requests.get());
        assertTrue(e.getMessage().startsWith("HTTP 500 from " + base() + "/chat/completions: Loading model"),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("(after 2 attempts)"), e.getMessage());
    }

    @Test
    void aClientErrorIsNotRetried() {
        script = (n, body, x) -> reply(x, 404, RemoteResponsesTest.fixture("error-ollama.json"));
        RemoteException e = assertThrows(RemoteException.class,
                () -> client(3, Duration.ofSeconds(10)).complete(REQUEST, 1, NEVER));
        assertEquals(1, requests.get());
        assertTrue(e.getMessage().contains("HTTP 404") && e.getMessage().contains("try pulling it first"), e.getMessage());
    }

    @Test
    void aSlowServerTimesOutOnceWithoutRetries() {
        script = (n, body, x) -> {
            try {
                Thread.sleep(3_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ok(x);
        };
        long t0 = System.nanoTime();
        RemoteException e = assertThrows(RemoteException.class,
                () -> client(3, Duration.ofMillis(300)).complete(REQUEST, 1, NEVER));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().contains("within 300 ms"), e.getMessage());
        assertEquals(1, requests.get());
        assertTrue(ms < 2_500, "gave up after " + ms + " ms");
    }

    @Test
    void aDeadServerIsRetriedThenReported() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        OpenAiClient dead = new OpenAiClient(RemoteEndpoint.of("http://127.0.0.1:" + port + "/v1", "a").withRetries(2),
                null, http);
        long t0 = System.nanoTime();
        RemoteException e = assertThrows(RemoteException.class, () -> dead.complete(REQUEST, 1, NEVER));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().startsWith("cannot reach http://127.0.0.1:" + port + "/v1"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(after 3 attempts)"), e.getMessage());
        assertTrue(ms >= 125 + 250, "two backoffs, at least half their ceilings: " + ms + " ms");
    }

    @Test
    void candidatesAreParallelRequestsWithConsecutiveSeedsAndTheKey() {
        script = (n, body, x) -> ok(x);
        OpenAiClient keyed = new OpenAiClient(RemoteEndpoint.of(base(), "a"), "sk-test", http);
        assertEquals(3, keyed.complete(REQUEST, 3, NEVER).size());
        assertEquals(List.of(10L, 11L, 12L), bodies.stream().map(b -> b.get("seed").asLong()).sorted().toList());
        assertEquals(List.of("Bearer sk-test", "Bearer sk-test", "Bearer sk-test"), authorizations);
    }

    @Test
    void oneFailedCandidateFailsTheMember() {
        script = (n, body, x) -> {
            if (body.get("seed").asLong() == 11) {
                reply(x, 400, "{\"error\": {\"message\": \"bad seed\"}}");
            } else {
                ok(x);
            }
        };
        RemoteException e = assertThrows(RemoteException.class,
                () -> client(0, Duration.ofSeconds(10)).complete(REQUEST, 3, NEVER));
        assertTrue(e.getMessage().contains("bad seed"), e.getMessage());
    }

    @Test
    void cancellingStopsARequestInFlight() {
        script = (n, body, x) -> {
            try {
                Thread.sleep(3_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ok(x);
        };
        long t0 = System.nanoTime();
        assertThrows(CancellationException.class, () -> client(0, Duration.ofSeconds(10))
                .complete(REQUEST, 2, () -> System.nanoTime() - t0 > 200_000_000L));
        assertTrue((System.nanoTime() - t0) / 1_000_000 < 2_500);
    }
}
