package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CpuTopologyTest {
    @TempDir
    Path dir;

    /** A sysfs CPU folder where CPU i belongs to the core listed at siblings[i]. */
    private Path sysfs(String online, String... siblings) throws IOException {
        Path cpus = dir.resolve("cpu");
        Files.createDirectories(cpus);
        Files.writeString(cpus.resolve("online"), online + "\n");
        for (int i = 0; i < siblings.length; i++) {
            Path topology = Files.createDirectories(cpus.resolve("cpu" + i).resolve("topology"));
            Files.writeString(topology.resolve("thread_siblings_list"), siblings[i] + "\n");
        }
        return cpus;
    }

    private Path status(String allowed) throws IOException {
        return Files.writeString(dir.resolve("status"), "Name:\tjava\nCpus_allowed:\tff\nCpus_allowed_list:\t"
                + allowed + "\nMems_allowed_list:\t0\n");
    }

    @Test
    void hyperThreadedCoresCountOnce() throws IOException {
        // 4 cores with 2 threads each, numbered as Linux does on x86: siblings are i and i+4
        Path cpus = sysfs("0-7", "0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7");
        assertEquals(4, CpuTopology.physicalCores(cpus, status("0-7"), 8));
    }

    @Test
    void coresWithoutSiblingsAreAllUsed() throws IOException {
        // the 2-core machines this project runs on: halving them left one core idle
        Path cpus = sysfs("0-1", "0", "1");
        assertEquals(2, CpuTopology.physicalCores(cpus, status("0-1"), 2));
    }

    @Test
    void onlyCoresInTheAffinityMaskCount() throws IOException {
        Path cpus = sysfs("0-7", "0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7");
        // taskset -c 0,4,1: two threads of core 0, one of core 1
        assertEquals(2, CpuTopology.physicalCores(cpus, status("0-1,4"), 3));
    }

    @Test
    void aContainerQuotaCapsTheCount() throws IOException {
        Path cpus = sysfs("0-3", "0", "1", "2", "3");
        assertEquals(2, CpuTopology.physicalCores(cpus, status("0-3"), 2), "availableProcessors() reflects the quota");
    }

    @Test
    void withoutProcTheOnlineListIsUsed() throws IOException {
        Path cpus = sysfs("0-3", "0,2", "1,3", "0,2", "1,3");
        assertEquals(2, CpuTopology.physicalCores(cpus, dir.resolve("no-such-status"), 4));
    }

    @Test
    void withoutSysfsItFallsBackAsLlamaCppDoes() {
        Path none = dir.resolve("none");
        assertEquals(4, CpuTopology.physicalCores(none, none, 4));
        assertEquals(8, CpuTopology.physicalCores(none, none, 16));
        assertEquals(1, CpuTopology.physicalCores(none, none, 1));
    }

    @Test
    void anUnreadableCoreFallsBackRatherThanUndercounting() throws IOException {
        Path cpus = sysfs("0-3", "0", "1");
        assertEquals(CpuTopology.fallback(4), CpuTopology.physicalCores(cpus, status("0-3"), 4));
    }

    @Test
    void cpuListsParseAsTheKernelWritesThem() {
        BitSet set = CpuTopology.parseCpuList("0-3,8,10-11");
        assertEquals("{0, 1, 2, 3, 8, 10, 11}", set.toString());
        assertTrue(CpuTopology.parseCpuList("").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> CpuTopology.parseCpuList("3-1"));
        assertThrows(IllegalArgumentException.class, () -> CpuTopology.parseCpuList("x"));
    }

    @Test
    void thisMachineHasBetweenOneCoreAndItsProcessors() {
        int cores = CpuTopology.physicalCores();
        assertTrue(cores >= 1 && cores <= Runtime.getRuntime().availableProcessors(), "cores: " + cores);
        assertEquals(cores, ContextOptions.automaticThreads());
    }
}
