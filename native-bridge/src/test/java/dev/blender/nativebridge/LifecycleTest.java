package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Ownership: nothing leaks, nothing is used after it is freed, and the thread-safety claims hold. */
class LifecycleTest {

    /**
     * Bound on resident-set growth outside the JVM's heap and metaspace over 200 cycles. Measured here: 200
     * cycles that never close leak ~5.9 GiB (one model + context ~30 MiB); 200 that close move by up to
     * ±45 MiB when other tests ran before them in the same JVM (malloc's arenas), a few MiB alone.
     */
    private static final long RSS_GROWTH_BOUND_KIB = 64 * 1024;

    /**
     * What the JVM has committed for its heap and metaspace and code: the heap grows and shrinks with what
     * other tests in the same JVM did (hundreds of MiB), which would drown a native leak in noise, so the
     * bound is on RSS less this.
     */
    static long jvmCommittedKib() {
        var memory = java.lang.management.ManagementFactory.getMemoryMXBean();
        return (memory.getHeapMemoryUsage().getCommitted() + memory.getNonHeapMemoryUsage().getCommitted()) >> 10;
    }

    /**
     * A full GC, then glibc's malloc_trim where there is one: freed native memory that malloc keeps for
     * reuse (its amount depends on what other tests in this JVM did before) would otherwise count as held.
     */
    static void settle() {
        System.gc();
        var linker = java.lang.foreign.Linker.nativeLinker();
        linker.defaultLookup().find("malloc_trim").ifPresent(f -> {
            try {
                int released = (int) linker.downcallHandle(f, java.lang.foreign.FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)).invokeExact(0L);
            } catch (Throwable t) {
                throw new AssertionError("malloc_trim", t);
            }
        });
    }

    static long rssKib() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    private static void cycle(Path p) {
        try (LlamaModel m = LlamaModel.load(p); LlamaContext ctx = m.newContext(LlamaModelTest.small());
                Batch b = Batch.create(8)) {
            b.add(m.vocab().bos(), 0, 0, true);
            ctx.decode(b);
            ctx.logits(0);
        }
    }

    @Test
    void twoHundredLoadCloseCyclesDoNotGrowNativeMemory() throws IOException {
        cycles(TestModels.tiny(), 200);
    }

    static void cycles(Path p, int n) throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/proc/self/status")), "needs /proc (Linux)");
        for (int i = 0; i < 30; i++) {
            cycle(p); // warm-up: allocator pools, JIT, thread pools reach steady state
        }
        settle();
        long before = rssKib();
        long beforeNative = before - jvmCommittedKib();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            cycle(p);
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        settle();
        long after = rssKib();
        long afterNative = after - jvmCommittedKib();
        System.out.printf("RSS over %d load/decode/close cycles of %s on llama.cpp %s: %d KiB -> %d KiB (%+d KiB);"
                + " outside the JVM's heap and metaspace %+d KiB, bound %d KiB; %d ms%n", n, p.getFileName(),
                LlamaBackend.version(), before, after, after - before, afterNative - beforeNative, RSS_GROWTH_BOUND_KIB,
                millis);
        assertTrue(afterNative - beforeNative < RSS_GROWTH_BOUND_KIB, "RSS outside the JVM's own memory grew by "
                + (afterNative - beforeNative) + " KiB (all of RSS by " + (after - before) + " KiB)");
    }

    @Test
    void closeFreesAndUseAfterCloseThrows() {
        LlamaModel m = LlamaModel.load(TestModels.tiny());
        Vocab v = m.vocab();
        LlamaContext ctx = m.newContext(LlamaModelTest.small());
        Batch b = Batch.create(4);
        b.add(v.bos(), 0, 0, true);
        ctx.decode(b);
        MemorySegment view = ctx.logits(0);
        m.close(); // closes its contexts too
        assertTrue(m.isFreed());
        assertFalse(ctx.isOpen());
        assertThrows(IllegalStateException.class, () -> v.tokenize("x"));
        assertThrows(IllegalStateException.class, () -> v.text(5));
        assertThrows(IllegalStateException.class, m::newContext);
        assertThrows(IllegalStateException.class, m::description);
        assertThrows(IllegalStateException.class, () -> ctx.decode(b));
        assertThrows(IllegalStateException.class, () -> ctx.logits(0));
        assertThrows(IllegalStateException.class, () -> ctx.copySequence(0, 0));
        assertThrows(IllegalStateException.class, () -> view.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
        assertDoesNotThrow(m::close);
        assertDoesNotThrow(ctx::close);
        b.close();
        assertThrows(IllegalStateException.class, () -> b.add(1, 0, 0, false));
        assertDoesNotThrow(b::close);
    }

    @Test
    void aContextKeepsItsModelAliveUntilItIsClosed() {
        LlamaModel m = LlamaModel.load(TestModels.tiny());
        LlamaContext ctx = m.newContext(LlamaModelTest.small());
        ctx.close();
        assertFalse(m.isFreed());
        assertTrue(m.openContexts().isEmpty());
        m.close();
        assertTrue(m.isFreed());
    }

    @Test
    void closingAModelWhileAnotherThreadDecodesIsSafe() throws Exception {
        Path p = TestModels.tiny();
        for (int round = 0; round < 5; round++) {
            LlamaModel m = LlamaModel.load(p);
            LlamaContext ctx = m.newContext(LlamaModelTest.small());
            CountDownLatch running = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try (Batch b = Batch.create(1)) {
                    for (int pos = 0; pos < 200; pos++) {
                        b.clear();
                        b.add(5 + pos % 100, pos, 0, true);
                        ctx.decode(b);
                        ctx.logitsArray(0);
                        m.vocab().tokenize("tokenizing while closing");
                        running.countDown();
                    }
                } catch (IllegalStateException expected) {
                    // the model or context was closed under us: exactly what must happen
                } catch (Throwable e) {
                    failure.set(e);
                } finally {
                    running.countDown();
                }
            });
            t.start();
            running.await();
            m.close();
            t.join();
            assertTrue(failure.get() == null, () -> "unexpected " + failure.get());
            assertTrue(m.isFreed());
        }
    }

    @Test
    void oneContextPerThreadGivesIdenticalResultsConcurrently() throws Exception {
        Path p = TestModels.tiny();
        try (LlamaModel m = LlamaModel.load(p)) {
            int[] prompt = m.vocab().tokenize("the same prompt on every thread");
            float[] expected;
            try (LlamaContext ctx = m.newContext(LlamaModelTest.small())) {
                expected = LlamaModelTest.lastLogits(ctx, prompt);
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    futures.add(pool.submit(() -> {
                        try (LlamaContext ctx = m.newContext(LlamaModelTest.small())) {
                            for (int i = 0; i < 20; i++) {
                                ctx.clearKvCache();
                                assertArrayEquals(expected, LlamaModelTest.lastLogits(ctx, m.vocab().tokenize(
                                        "the same prompt on every thread")));
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    f.get();
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * Two models, four threads, 20 decodes each, with the process-wide lock lifted: counts logits that
     * differ from a single-threaded run. The ABI's default ({@link LlamaAbi#serialisesDecodes()}) must
     * agree: no lock only where this finds nothing wrong.
     */
    @Test
    void concurrentDecodesWithoutTheLock() throws Exception {
        boolean before = LlamaContext.decodesSerialised();
        Path[] paths = {TestModels.tiny(), TestModels.tiny(3, 0)};
        String text = "the same prompt on every thread";
        List<LlamaModel> models = new ArrayList<>();
        try {
            float[][] expected = new float[paths.length][];
            for (int k = 0; k < paths.length; k++) {
                models.add(LlamaModel.load(paths[k]));
                try (LlamaContext ctx = models.get(k).newContext(LlamaModelTest.small())) {
                    expected[k] = LlamaModelTest.lastLogits(ctx, models.get(k).vocab().tokenize(text));
                }
            }
            LlamaContext.serialiseDecodes(false);
            java.util.concurrent.atomic.AtomicInteger wrong = new java.util.concurrent.atomic.AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int k = t % paths.length;
                    futures.add(pool.submit(() -> {
                        LlamaModel m = models.get(k);
                        try (LlamaContext ctx = m.newContext(LlamaModelTest.small().withThreads(2))) {
                            for (int i = 0; i < 20; i++) {
                                ctx.clearKvCache();
                                if (!java.util.Arrays.equals(expected[k], LlamaModelTest.lastLogits(ctx, m.vocab().tokenize(text)))) {
                                    wrong.incrementAndGet();
                                }
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    f.get();
                }
            } finally {
                pool.shutdownNow();
            }
            System.out.println("concurrent decodes without the lock on llama.cpp " + LlamaBackend.version() + ": "
                    + wrong.get() + " of 80 wrong");
            if (!LlamaBackend.abi().serialisesDecodes()) {
                assertEquals(0, wrong.get(), "the ABI decodes without the lock, so every result must be exact");
            }
        } finally {
            LlamaContext.serialiseDecodes(before);
            models.forEach(LlamaModel::close);
        }
    }
}
