package dev.blender.runtime.server;

import static dev.blender.runtime.server.ServerTestSupport.chat;
import static dev.blender.runtime.server.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.server.ServerTestSupport.Reply;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What happens around a request that runs long: the client leaving (streamed or not), the queue
 * filling up, and shutdown with requests in flight. The model is a generated one that writes thousands
 * of tokens without ending, so each of these moments can be waited for.
 */
class ServerLifecycleTest {
    static Blender slow;
    static HttpClient http;

    @BeforeAll
    static void open() {
        slow = ServerTestSupport.slowBlender();
        http = ServerTestSupport.client();
    }

    @AfterAll
    static void close() {
        if (http != null) {
            http.close();
        }
        if (slow != null) {
            slow.close();
        }
    }

    static String longRequest(int maxTokens, boolean stream) {
        return chat("Once upon a time", "\"max_tokens\": " + maxTokens + (stream ? ", \"stream\": true" : ""));
    }

    /** Sends a request over a raw socket and returns the socket, to be closed as a client that leaves. */
    static Socket send(BlenderServer server, String body) throws IOException {
        Socket s = new Socket("127.0.0.1", server.port());
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + b.length
                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().write(b);
        s.getOutputStream().flush();
        return s;
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(2);
        }
    }

    @Test
    void theSlowModelRunsLongWithoutEnding() {
        long start = System.nanoTime();
        BlendResult r = slow.blend(BlendRequest.builder().prompt("Once upon a time").maxTokens(300).build());
        double ms = (System.nanoTime() - start) / 1e6;
        System.out.printf("slow model: %d tokens in %.0f ms%n", r.usage().generatedTokens(), ms);
        assertEquals(300, r.usage().generatedTokens(), "no end of generation before the budget");
    }

    @Test
    void aClientThatLeavesANonStreamedRequestCancelsItWithinADecodeStep() throws Exception {
        try (BlenderServer server = ServerTestSupport.start(BlenderServer.builder(slow))) {
            Socket client = send(server, longRequest(8000, false));
            await("the blend to run", () -> server.stats().running() == 1);
            Thread.sleep(100); // decoding
            client.close();
            await("the cancellation", () -> server.stats().cancelled() == 1);
            assertEquals(0, server.stats().completed(), "8000 tokens were not all decoded");
            assertTrue(server.lastTokensAfterClientLeft <= 1, "tokens decoded after the client left: "
                    + server.lastTokensAfterClientLeft);
            assertEquals(200, post(http, server, "/chat/completions", longRequest(5, false)).status(),
                    "the next request is served");
            assertEquals(0, dev.blender.runtime.pipeline.Pools.of(slow).leasesOut());
        }
    }

    @Test
    void aClientThatLeavesAStreamCancelsIt() throws Exception {
        try (BlenderServer server = ServerTestSupport.start(BlenderServer.builder(slow))) {
            Socket client = send(server, longRequest(8000, true));
            InputStream in = client.getInputStream();
            ByteArrayOutputStream seen = new ByteArrayOutputStream();
            while (!seen.toString(StandardCharsets.UTF_8).contains("\"content\":\"")) {
                seen.write(in.read()); // until the first piece of text
            }
            client.close();
            await("the cancellation", () -> server.stats().cancelled() == 1);
            assertTrue(server.lastTokensAfterClientLeft <= 1, "tokens decoded after the client left: "
                    + server.lastTokensAfterClientLeft);
        }
    }

    @Test
    void aRequestBeyondTheQueueIs429WithRetryAfter() throws Exception {
        try (BlenderServer server = ServerTestSupport.start(BlenderServer.builder(slow).maxConcurrent(1).maxQueue(1))) {
            Socket running = send(server, longRequest(8000, false));
            await("the first to run", () -> server.stats().running() == 1);
            Socket waiting = send(server, longRequest(8000, false));
            await("the second to wait", () -> server.stats().queued() == 1);
            Reply third = post(http, server, "/chat/completions", longRequest(10, false));
            assertEquals(429, third.status(), third.body());
            assertEquals("1", third.headers().firstValue("retry-after").orElseThrow());
            JsonNode e = third.json().get("error");
            assertEquals("rate_limit_error", e.get("type").asText());
            assertEquals("queue_full", e.get("code").asText());
            assertEquals(1, server.stats().rejected());
            waiting.close(); // a client that leaves while queued frees its place at once
            await("the queue to empty", () -> server.stats().queued() == 0 && server.stats().cancelled() == 1);
            assertEquals(1, server.stats().running(), "the first still runs");
            Socket next = send(server, longRequest(8000, false));
            await("the next to wait in the freed place", () -> server.stats().queued() == 1);
            assertEquals(1, server.stats().rejected());
            next.close();
            running.close();
            await("all cancelled", () -> server.stats().cancelled() == 3);
            assertEquals(200, post(http, server, "/chat/completions", longRequest(10, false)).status());
        }
    }

    @Test
    void closeFinishesTheRequestsInFlightThenRefusesConnections() throws Exception {
        BlenderServer server = ServerTestSupport.start(BlenderServer.builder(slow).maxConcurrent(1));
        int port = server.port();
        CompletableFuture<Reply> first = CompletableFuture.supplyAsync(
                () -> post(http, server, "/chat/completions", longRequest(300, false)));
        await("the first to run", () -> server.stats().running() == 1);
        CompletableFuture<Reply> queued = CompletableFuture.supplyAsync(
                () -> post(http, server, "/chat/completions", longRequest(20, true)));
        await("the second to wait", () -> server.stats().queued() == 1);
        server.close();
        assertEquals(2, server.stats().completed(), "close returns once the accepted requests are answered");
        Reply a = first.join();
        assertEquals(200, a.status(), a.body());
        assertEquals("length", a.json().get("choices").get(0).get("finish_reason").asText());
        assertEquals(300, a.json().get("usage").get("completion_tokens").asInt());
        assertTrue(a.headers().firstValue("connection").orElse("").equals("close"), "no next request on it");
        Reply b = queued.join();
        assertEquals(200, b.status(), b.body());
        assertEquals("[DONE]", b.events().getLast());
        assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());
    }

    @Test
    void closeCancelsWhatStillRunsAfterTheShutdownTimeout() throws Exception {
        BlenderServer server = ServerTestSupport.start(BlenderServer.builder(slow)
                .shutdownTimeout(Duration.ofMillis(100)));
        CompletableFuture<Reply> running = CompletableFuture.supplyAsync(
                () -> post(http, server, "/chat/completions", longRequest(8000, false)));
        await("the blend to run", () -> server.stats().running() == 1);
        server.close();
        Reply r = running.join();
        assertEquals(503, r.status(), r.body());
        assertEquals("cancelled", r.json().get("error").get("code").asText());
        assertEquals(1, server.stats().cancelled());
    }
}
