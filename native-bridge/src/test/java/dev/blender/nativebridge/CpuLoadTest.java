package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class CpuLoadTest {
    @Test
    void theMachineLineGivesBusyAndTotalTicks() {
        String stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1 2 3\n";
        // busy: user + nice + system + irq + softirq + steal; idle and iowait are not
        assertArrayEquals(new long[] {160, 980}, CpuLoad.machine(stat));
    }

    @Test
    void aProcessNameWithSpacesAndParenthesesDoesNotShiftTheFields() {
        String self = "4242 (java (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 730 125 0 0 20 0 40 0 1234 0 0";
        assertEquals(855, CpuLoad.self(self));
    }

    @Test
    void whatIsBusyBeyondThisProcessIsOtherWork() {
        // 2 CPUs, 200 ticks in all: 150 busy, of which this process used 50 -> one CPU busy with others
        assertEquals(1.0, CpuLoad.othersBusy(new long[] {0, 0}, new long[] {150, 200}, 50, 2), 1e-9);
        assertEquals(0.0, CpuLoad.othersBusy(new long[] {0, 0}, new long[] {50, 200}, 50, 2), 1e-9);
        assertEquals(0.0, CpuLoad.othersBusy(new long[] {5, 5}, new long[] {5, 5}, 0, 2), 1e-9, "no time passed");
    }

    @Test
    void aCoreCountsAsTakenFromAQuarterOfOneBusyOn() {
        assertEquals(2, CpuLoad.freeCores(2, 2, 0.0));
        assertEquals(2, CpuLoad.freeCores(2, 2, 0.2));
        assertEquals(1, CpuLoad.freeCores(2, 2, 0.5), "preempted half the time, a second thread stalls every barrier");
        assertEquals(1, CpuLoad.freeCores(2, 2, 1.0));
        assertEquals(1, CpuLoad.freeCores(2, 2, 3.0), "never fewer than one");
        // 8 cores with 16 hyper-threads: 4 busy logical CPUs take 2 cores
        assertEquals(6, CpuLoad.freeCores(8, 16, 4.0));
    }

    @Test
    void aContextOnAutomaticThreadsLeavesACoreAnotherProcessKeepsBusy() throws Exception {
        int cores = ContextOptions.automaticThreads();
        Assumptions.assumeTrue(cores >= 2 && java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/stat")),
                "needs Linux and two cores");
        Process busy = new ProcessBuilder("sh", "-c", "while :; do :; done").start();
        try (LlamaModel model = LlamaModel.load(TestModels.tiny());
             LlamaContext automatic = model.newContext(ContextOptions.defaults().withContextSize(64));
             LlamaContext chosen = model.newContext(ContextOptions.defaults().withContextSize(64).withThreads(cores));
             Batch batch = Batch.create(1)) {
            assertEquals(cores, automatic.threads(), "made with every core");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int seen = cores;
            while (seen == cores && System.nanoTime() < until) {
                Thread.sleep(CpuLoad.PERIOD_MS);
                batch.clear();
                batch.add(1, 0, 0, true);
                automatic.removeSequence(0, 0, -1);
                automatic.decode(batch);
                seen = automatic.threads();
            }
            assertTrue(seen < cores, "the busy process's core was left to it: " + seen + " of " + cores);
            chosen.decode(batch);
            assertEquals(cores, chosen.threads(), "threads the caller chose stay as chosen");
        } finally {
            busy.destroyForcibly().waitFor();
        }
    }
}
