package dev.blender.nativebridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * The physical cores this process may run on, which is what llama.cpp's own tools default their thread
 * count to: decoding is bound by memory bandwidth and matrix units, which a core's hyper-threads share, so
 * a second thread on one core adds nothing, while halving the logical processors (as this project once
 * did) leaves a core idle wherever cores have no siblings.
 *
 * <p>On Linux the cores are read from sysfs: each CPU the process may run on ({@code Cpus_allowed_list} in
 * {@code /proc/self/status}) belongs to the core named by its {@code thread_siblings_list}; distinct sibling
 * lists are distinct cores. The count is capped by {@link Runtime#availableProcessors()}, which also reflects
 * a container's CPU quota. Elsewhere, or where sysfs cannot be read, it falls back as llama.cpp does: the
 * logical processors up to 4, half of them above that. Stateless; safe from any thread.
 */
public final class CpuTopology {
    private static final Path SYSFS_CPUS = Path.of("/sys/devices/system/cpu");
    private static final Path PROC_STATUS = Path.of("/proc/self/status");

    private CpuTopology() {}

    /**
     * Physical cores available to this process, at least 1: read once, when first asked (every context and every
     * blend request asks, and the files behind it do not change while the process runs).
     */
    public static int physicalCores() {
        return Once.CORES;
    }

    private static final class Once {
        static final int CORES = physicalCores(SYSFS_CPUS, PROC_STATUS, Runtime.getRuntime().availableProcessors());
    }

    /** {@link #physicalCores()} read from the given sysfs CPU folder and process status file. */
    static int physicalCores(Path sysfsCpus, Path procStatus, int logical) {
        return countCores(sysfsCpus, allowedCpus(procStatus, sysfsCpus))
                .map(cores -> Math.max(1, Math.min(cores, logical)))
                .orElseGet(() -> fallback(logical));
    }

    static int fallback(int logical) {
        return Math.max(1, logical <= 4 ? logical : logical / 2);
    }

    private static Optional<Integer> countCores(Path sysfsCpus, Optional<BitSet> allowed) {
        if (allowed.isEmpty() || allowed.get().isEmpty()) {
            return Optional.empty();
        }
        Set<BitSet> cores = new HashSet<>();
        BitSet cpus = allowed.get();
        for (int cpu = cpus.nextSetBit(0); cpu >= 0; cpu = cpus.nextSetBit(cpu + 1)) {
            Path siblings = sysfsCpus.resolve("cpu" + cpu).resolve("topology").resolve("thread_siblings_list");
            try {
                cores.add(parseCpuList(Files.readString(siblings).strip()));
            } catch (IOException | IllegalArgumentException e) {
                return Optional.empty();
            }
        }
        return Optional.of(cores.size());
    }

    /** The CPUs this process may run on: its affinity list, else every online CPU; empty if unreadable. */
    private static Optional<BitSet> allowedCpus(Path procStatus, Path sysfsCpus) {
        try {
            for (String line : Files.readAllLines(procStatus)) {
                if (line.startsWith("Cpus_allowed_list:")) {
                    return Optional.of(parseCpuList(line.substring(line.indexOf(':') + 1).strip()));
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            // no /proc: fall through to the online list
        }
        try {
            return Optional.of(parseCpuList(Files.readString(sysfsCpus.resolve("online")).strip()));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** A kernel CPU list such as {@code 0-3,8,10-11}. */
    static BitSet parseCpuList(String list) {
        BitSet cpus = new BitSet();
        if (list.isEmpty()) {
            return cpus;
        }
        for (String part : list.split(",")) {
            String p = part.strip();
            int dash = p.indexOf('-');
            try {
                int from = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
                int to = dash < 0 ? from : Integer.parseInt(p.substring(dash + 1));
                if (from < 0 || to < from || to > 1 << 16) {
                    throw new IllegalArgumentException("bad CPU range '" + p + "'");
                }
                cpus.set(from, to + 1);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad CPU list '" + list + "'", e);
            }
        }
        return cpus;
    }
}
