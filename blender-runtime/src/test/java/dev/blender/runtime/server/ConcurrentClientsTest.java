package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.server.ServerTestSupport.Reply;
import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** 16 clients at once, 10 seeded requests each: the answers of one client alone, and nothing left behind. */
class ConcurrentClientsTest {
    static final int CLIENTS = 16;
    static final String[] PROMPTS = {"17+62=", "37+48=", "85+95=", "91-45=", "12+34=", "70-18=", "55+55=",
        "99-11=", "23+68=", "64-29="};
    static final String[] STRATEGIES = {"full-blend", "token-combine", "single", "cascade", "self-blend"};

    /** Request i: its own prompt, seed and strategy; every other one streamed. */
    static String body(int i) {
        return ServerTestSupport.chat(PROMPTS[i], "\"seed\": " + (i + 1) + ", \"stream\": " + (i % 2 == 1)
                + ", \"blender\": {\"strategy\": \"" + STRATEGIES[i % STRATEGIES.length] + "\", \"candidates\": 2}");
    }

    static String answer(Reply r) {
        if (r.status() != 200) {
            throw new AssertionError(r.status() + " " + r.body());
        }
        if (r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream")) {
            StringBuilder b = new StringBuilder();
            for (String e : r.events()) {
                if (!e.equals("[DONE]")) {
                    JsonNode c = ServerTestSupport.readJson(e);
                    b.append(c.get("choices").get(0).get("delta").path("content").asText());
                }
            }
            return b.toString();
        }
        return r.json().get("choices").get(0).get("message").get("content").asText();
    }

    static Set<Thread> platformThreads() {
        Set<Thread> out = new HashSet<>(Thread.getAllStackTraces().keySet());
        // the JDK's own: pools that grow and shrink by themselves (virtual threads' carriers, the common
        // pool) and threads it starts once per JVM on first use (the poller of virtual threads' sockets)
        out.removeIf(t -> t.getName().startsWith("ForkJoinPool") || t.getThreadGroup() == null
                || t.getThreadGroup().getName().equals("InnocuousThreadGroup"));
        return out;
    }

    /** Threads started since {@code before} that do not end within a few seconds. */
    static Set<Thread> leftOver(Set<Thread> before) throws InterruptedException {
        Set<Thread> after = platformThreads();
        after.removeAll(before);
        for (Thread t : after) {
            t.join(5000); // a connection's thread ends just after it has left the server's set
        }
        after.removeIf(t -> !t.isAlive());
        return after;
    }

    @Test
    void sixteenClientsTimesTenRequestsGetTheAnswersOfOneClientAndLeakNothing() throws Exception {
        Blender blender = ServerTestSupport.arithBlender().build();
        Set<Thread> before = platformThreads();
        BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender).maxConcurrent(2).maxQueue(64));
        List<String> alone = new ArrayList<>();
        try (HttpClient one = ServerTestSupport.client()) {
            for (int i = 0; i < PROMPTS.length; i++) {
                alone.add(answer(ServerTestSupport.post(one, server, "/chat/completions", body(i))));
            }
        }
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        List<Future<List<String>>> results = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int first = c;
            results.add(clients.submit(() -> {
                List<String> answers = new ArrayList<>(java.util.Collections.nCopies(PROMPTS.length, ""));
                try (HttpClient http = ServerTestSupport.client()) {
                    for (int k = 0; k < PROMPTS.length; k++) {
                        int i = (first + k) % PROMPTS.length; // clients start at different requests
                        answers.set(i, answer(ServerTestSupport.post(http, server, "/chat/completions", body(i))));
                    }
                }
                return answers;
            }));
        }
        for (Future<List<String>> f : results) {
            assertEquals(alone, f.get(5, TimeUnit.MINUTES), "seeded answers do not depend on who else is asking");
        }
        clients.shutdown();
        assertTrue(clients.awaitTermination(1, TimeUnit.MINUTES));
        // a client has its answer a moment before the server has counted the request and returned its contexts
        ServerLifecycleTest.await("the last request's bookkeeping",
                () -> server.stats().running() + server.stats().queued() == 0);
        BlenderServer.Stats stats = server.stats();
        assertEquals(CLIENTS * PROMPTS.length + PROMPTS.length, stats.completed(), stats.toString());
        assertEquals(0, stats.failed() + stats.rejected() + stats.cancelled(), stats.toString());
        assertEquals(0, dev.blender.runtime.pipeline.Pools.of(blender).leasesOut(), "every context returned to the pool");
        assertTrue(dev.blender.runtime.pipeline.Pools.of(blender).idleContexts() <= 2 * 8, "no more contexts than 2 concurrent blends use: "
                + dev.blender.runtime.pipeline.Pools.of(blender).idleContexts());
        assertEquals(4, dev.blender.runtime.pipeline.Pools.of(blender).loadedModels(), "each model loaded once");

        server.close();
        ServerLifecycleTest.await("the connections to end", () -> server.connections() == 0);
        blender.close();
        assertEquals(Set.of(), leftOver(before), "threads started and not ended");
    }

    /**
     * 32 clients at once, some of which hang up mid-request or mid-stream (raw sockets closed after a random
     * number of bytes), the others waiting for their answers: the server answers those as one client alone
     * gets them, keeps answering after, and leaves no connection or thread behind. 5 requests per client,
     * 20 with {@code -Dblender.measure=true}.
     */
    @Test
    void thirtyTwoClientsWithRandomDisconnectsLeaveTheServerAnswering() throws Exception {
        int clientsN = 32;
        int perClient = Boolean.getBoolean("blender.measure") ? 20 : 5;
        Blender blender = ServerTestSupport.arithBlender().build();
        Set<Thread> before = platformThreads();
        BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender).maxConcurrent(4).maxQueue(64));
        List<String> alone = new ArrayList<>();
        try (HttpClient one = ServerTestSupport.client()) {
            for (int i = 0; i < PROMPTS.length; i++) {
                alone.add(answer(ServerTestSupport.post(one, server, "/chat/completions", body(i))));
            }
        }
        java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger hungUp = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger midStream = new java.util.concurrent.atomic.AtomicInteger();
        ExecutorService clients = Executors.newFixedThreadPool(clientsN);
        List<Future<?>> results = new ArrayList<>();
        for (int c = 0; c < clientsN; c++) {
            java.util.Random random = new java.util.Random(c);
            results.add(clients.submit(() -> {
                try (HttpClient http = ServerTestSupport.client()) {
                    for (int k = 0; k < perClient; k++) {
                        int i = random.nextInt(PROMPTS.length);
                        if (random.nextInt(10) < 3) {
                            hungUp.incrementAndGet();
                            if (hangUp(server, body(i), random.nextInt(400))) {
                                midStream.incrementAndGet();
                            }
                        } else {
                            assertEquals(alone.get(i), answer(ServerTestSupport.post(http, server, "/chat/completions",
                                    body(i))), "request " + i + " beside clients that hang up");
                            answered.incrementAndGet();
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : results) {
            f.get(10, TimeUnit.MINUTES); // far beyond the load: reaching it means the server stopped answering
        }
        clients.shutdown();
        assertTrue(clients.awaitTermination(1, TimeUnit.MINUTES));
        try (HttpClient after = ServerTestSupport.client()) {
            assertEquals(alone.get(0), answer(ServerTestSupport.post(after, server, "/chat/completions", body(0))),
                    "the server still answers");
        }
        ServerLifecycleTest.await("the requests of clients that hung up to end",
                () -> server.stats().running() + server.stats().queued() == 0);
        BlenderServer.Stats stats = server.stats();
        System.out.printf("ConcurrentClientsTest: %d clients x %d requests, %d answered, %d hung up (%d after the"
                + " first event); server %s%n", clientsN, perClient, answered.get(), hungUp.get(), midStream.get(), stats);
        assertTrue(hungUp.get() > 0 && answered.get() > 0, "both kinds of client ran");
        assertEquals(0, stats.failed() + stats.rejected(), stats.toString());
        assertEquals(answered.get() + PROMPTS.length + 1, stats.completed() - countedHangUps(stats, hungUp.get()),
                stats.toString());
        assertEquals(0, dev.blender.runtime.pipeline.Pools.of(blender).leasesOut(), "every context returned to the pool");

        server.close();
        ServerLifecycleTest.await("the connections to end", () -> server.connections() == 0);
        blender.close();
        assertEquals(Set.of(), leftOver(before), "threads started and not ended");
    }

    /** Requests whose client hung up end completed (it was over before the server noticed) or cancelled. */
    private static long countedHangUps(BlenderServer.Stats stats, int hungUp) {
        assertTrue(stats.cancelled() <= hungUp, stats.toString());
        return hungUp - stats.cancelled();
    }

    /**
     * Sends the request on a raw socket and closes it after {@code bytes} bytes of the reply (0: as soon as
     * it is sent); whether the first server-sent event had arrived by then.
     */
    private static boolean hangUp(BlenderServer server, String body, int bytes) throws java.io.IOException {
        java.net.URI uri = java.net.URI.create(server.baseUrl());
        try (java.net.Socket s = new java.net.Socket(uri.getHost(), uri.getPort())) {
            s.setSoTimeout(120_000);
            byte[] json = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: " + uri.getHost() + ":" + uri.getPort()
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + json.length + "\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            s.getOutputStream().write(json);
            s.getOutputStream().flush();
            StringBuilder seen = new StringBuilder();
            java.io.InputStream in = s.getInputStream();
            for (int n = 0; n < bytes; n++) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                seen.append((char) b);
            }
            return seen.indexOf("data: ") >= 0;
        }
    }
}
