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
        BlenderServer.Stats stats = server.stats();
        assertEquals(CLIENTS * PROMPTS.length + PROMPTS.length, stats.completed(), stats.toString());
        assertEquals(0, stats.failed() + stats.rejected() + stats.cancelled(), stats.toString());
        assertEquals(0, blender.pool().leasesOut(), "every context returned to the pool");
        assertTrue(blender.pool().idleContexts() <= 2 * 8, "no more contexts than 2 concurrent blends use: "
                + blender.pool().idleContexts());
        assertEquals(4, blender.pool().loadedModels(), "each model loaded once");

        server.close();
        ServerLifecycleTest.await("the connections to end", () -> server.connections() == 0);
        blender.close();
        assertEquals(Set.of(), leftOver(before), "threads started and not ended");
    }
}
