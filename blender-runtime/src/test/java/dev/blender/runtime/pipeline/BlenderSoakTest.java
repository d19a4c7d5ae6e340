package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Many requests of every kind at once through one {@link Blender}: 16 threads, each sending N requests of
 * mixed strategies (N = 20, or 100 with {@code -Dblender.measure=true}), some cancelled at a random moment,
 * some with a time budget. Nothing deadlocks (all end within a generous global timeout), every request run
 * to the end without a budget answers exactly as it does alone, resident memory after a warm-up round
 * grows by less than 64 MiB or 25% (whichever is larger: the pool's contexts for concurrent requests are
 * mostly made in the warm-up, and a later peak of concurrency adds a few, ~30 MiB each step measured), and closing the blender leaves no thread of it behind.
 */
class BlenderSoakTest {
    private static final int THREADS = 16;
    private static final List<String> STRATEGIES = List.of("single", "majority", "full-blend", "token-combine",
            "fuse:mix3");
    private static final List<String> PROMPTS = List.of("17+62=", "8+5=", "40+41=", "3+99=");
    private static final long[] SEEDS = {1, 7};
    /** Far beyond what the load needs even on a busy machine: reaching it means a request never ended. */
    private static final long GLOBAL_TIMEOUT_MINUTES = 15;
    private static final long RSS_BOUND_KIB = 64 * 1024;
    private static final int WARM_UP = 5;

    private record Ask(String prompt, String strategy, long seed) {
        BlendRequest.Builder request() {
            return BlendRequest.builder().prompt(prompt).composition(Composition.named(strategy)).seed(seed);
        }
    }

    /** How one request ended. */
    private enum End { ANSWERED, CANCELLED, BUDGETED }

    @Test
    void sixteenThreadsOfMixedRequestsWithCancellationsAndBudgets() throws Exception {
        int perThread = Boolean.getBoolean("blender.measure") ? 100 : 20;
        Set<String> threadsBefore = blenderThreads();
        List<Ask> asks = new ArrayList<>();
        for (String p : PROMPTS) {
            for (String s : STRATEGIES) {
                for (long seed : SEEDS) {
                    asks.add(new Ask(p, s, seed));
                }
            }
        }
        Map<Ask, String> alone = new ConcurrentHashMap<>();
        Map<End, AtomicInteger> ends = new ConcurrentHashMap<>();
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        long rssWarm;
        long rssAfter;
        String idle;
        try (Blender blender = ArithBlenders.full().build()) {
            for (Ask a : asks) {
                alone.put(a, blender.blend(a.request().build()).answer());
            }
            // warm-up: the pool keeps a context for each request that ran at once, so its peak, and with it
            // resident memory, climbs in steps until the load has shown most of its concurrency
            round(blender, asks, WARM_UP, 1, alone, ends, wrong);
            rssWarm = rssKib();
            int idleWarm = blender.pool().idleContexts();
            round(blender, asks, perThread, 2, alone, ends, wrong);
            rssAfter = rssKib();
            idle = idleWarm + " -> " + blender.pool().idleContexts();
        }
        System.out.printf("BlenderSoakTest: %d threads x %d requests, %s; RSS after warm-up %d KiB, after %d KiB"
                        + " (%+d KiB, bound %s); idle contexts %s%n", THREADS, perThread, ends, rssWarm, rssAfter, rssAfter - rssWarm,
                rssWarm < 0 ? "none: no /proc" : "+" + Math.max(RSS_BOUND_KIB, rssWarm / 4) + " KiB", idle);
        assertTrue(wrong.isEmpty(), wrong.size() + " request(s) went wrong:\n" + String.join("\n", wrong));
        assertTrue(ends.get(End.ANSWERED).get() > 0 && ends.get(End.CANCELLED).get() > 0
                && ends.get(End.BUDGETED).get() > 0, "every kind of request ran: " + ends);
        if (rssWarm >= 0) {
            assertTrue(rssAfter - rssWarm < Math.max(RSS_BOUND_KIB, rssWarm / 4),
                    "RSS grew from " + rssWarm + " KiB to " + rssAfter + " KiB");
        }
        assertNoThreadLeft(threadsBefore);
    }

    /** {@code perThread} requests from each of 16 threads; waits for all of them, cancelled ones included. */
    private static void round(Blender blender, List<Ask> asks, int perThread, long seed, Map<Ask, String> alone,
                              Map<End, AtomicInteger> ends, List<String> wrong) throws InterruptedException {
        // the listener hears the end of the blend itself, also of one whose future was cancelled long before,
        // so this waits until no request runs any more
        CountDownLatch ended = new CountDownLatch(THREADS * perThread);
        ExecutorService clients = Executors.newFixedThreadPool(THREADS);
        try {
            for (int t = 0; t < THREADS; t++) {
                Random random = new Random(seed * 1000 + t);
                clients.execute(() -> {
                    for (int i = 0; i < perThread; i++) {
                        Ask a = asks.get(random.nextInt(asks.size()));
                        int kind = random.nextInt(10);
                        BlendRequest.Builder b = a.request();
                        if (kind == 0) {
                            b.timeBudget(Duration.ofMillis(1 + random.nextInt(100)));
                        }
                        BlendRequest r = b.build();
                        End expected = kind == 0 ? End.BUDGETED : kind <= 2 ? End.CANCELLED : End.ANSWERED;
                        BlendListener listener = new BlendListener() {
                            @Override
                            public void onComplete(BlendResult result) {
                                end(result, null);
                            }

                            @Override
                            public void onError(Throwable error) {
                                end(null, error);
                            }

                            private void end(BlendResult result, Throwable error) {
                                if (expected == End.CANCELLED && error instanceof CancellationException) {
                                    ends.computeIfAbsent(End.CANCELLED, k -> new AtomicInteger()).incrementAndGet();
                                } else if (error != null) {
                                    wrong.add(a + " " + expected + ": " + error);
                                } else if (expected == End.BUDGETED) {
                                    // a budget may skip ranking or fusion, so only an answer is asked for
                                    ends.computeIfAbsent(End.BUDGETED, k -> new AtomicInteger()).incrementAndGet();
                                    if (result.answer() == null) {
                                        wrong.add(a + " with a budget: no answer");
                                    }
                                } else {
                                    // a cancel that came after the last step leaves a complete, equal answer
                                    ends.computeIfAbsent(End.ANSWERED, k -> new AtomicInteger()).incrementAndGet();
                                    if (!alone.get(a).equals(result.answer())) {
                                        wrong.add(a + ": '" + result.answer() + "', alone '" + alone.get(a) + "'");
                                    }
                                }
                                ended.countDown();
                            }
                        };
                        var future = blender.blendAsync(r, listener);
                        if (expected == End.CANCELLED) {
                            try {
                                Thread.sleep(random.nextInt(60));
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                return;
                            }
                            future.cancel(true);
                        } else {
                            try {
                                future.join();
                            } catch (RuntimeException e) {
                                // the listener has recorded it; this thread goes on with its next request
                            }
                        }
                    }
                });
            }
            assertTrue(ended.await(GLOBAL_TIMEOUT_MINUTES, TimeUnit.MINUTES), "requests still running after "
                    + GLOBAL_TIMEOUT_MINUTES + " minutes (" + ended.getCount() + " left): a deadlock");
        } finally {
            clients.shutdownNow();
        }
        assertTrue(clients.awaitTermination(1, TimeUnit.MINUTES));
    }

    /** Resident set in KiB, or -1 without procfs. */
    static long rssKib() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return -1;
        }
        System.gc();
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** Live platform threads the blender starts (its members' pool), by name and id. */
    static Set<String> blenderThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && t.getName().startsWith("blender-"))
                .map(t -> t.getName() + "#" + t.threadId()).collect(Collectors.toSet());
    }

    /** Waits a while for threads that are on their way out, then names those that stayed. */
    static void assertNoThreadLeft(Set<String> before) throws InterruptedException {
        Set<String> left = Set.of();
        for (int i = 0; i < 100; i++) {
            left = blenderThreads();
            left.removeAll(before);
            if (left.isEmpty()) {
                return;
            }
            Thread.sleep(100);
        }
        assertEquals(Set.of(), left, "threads left after close");
    }
}
