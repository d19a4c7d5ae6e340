package dev.blender.nativebridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How many cores other processes keep busy, so that a context on automatic threads decodes with the cores that
 * are free. llama.cpp's compute threads spin at every barrier of a graph: with a core taken by another process,
 * a thread waiting for its preempted sibling burns its time slice, and decoding with every core beside a busy
 * process is many times slower than with the cores left free (docs/configuration.md, "Threads").
 *
 * <p>Linux only: a daemon thread, started on first use, reads the machine's busy time ({@code /proc/stat}) and
 * this process's own ({@code /proc/self/stat}) every {@value #PERIOD_MS} ms; what is busy beyond this process is
 * other work. Elsewhere nothing is busy as far as this class knows. Safe from any thread.
 */
final class CpuLoad {
    static final long PERIOD_MS = 250;
    private static final Path STAT = Path.of("/proc/stat");
    private static final Path SELF = Path.of("/proc/self/stat");
    /** Logical CPUs, read once: asked before every decode of an automatic context. */
    private static final int LOGICAL = Runtime.getRuntime().availableProcessors();
    /** Logical CPUs other processes kept busy over the last periods (smoothed). */
    private static volatile double othersBusy;
    private static volatile boolean started;

    private CpuLoad() {}

    /** Of {@code cores} (the automatic thread count), those other processes leave free: at least 1. */
    static int freeCores(int cores) {
        start();
        return freeCores(cores, LOGICAL, othersBusy);
    }

    /**
     * {@code cores} less the cores others keep busy, where {@code othersBusy} logical CPUs of {@code logical}
     * are busy: a core counts as taken from a quarter of one busy on, since a thread preempted a quarter of the
     * time already stalls every barrier.
     */
    static int freeCores(int cores, int logical, double othersBusy) {
        double busyCores = othersBusy * cores / Math.max(1, logical);
        int taken = (int) Math.max(0, Math.ceil(busyCores - 0.25));
        return Math.max(1, Math.min(cores, cores - taken));
    }

    private static void start() {
        if (started) {
            return;
        }
        synchronized (CpuLoad.class) {
            if (started || !Files.isReadable(STAT) || !Files.isReadable(SELF)) {
                started = true;
                return;
            }
            Thread t = Thread.ofPlatform().daemon().name("blender-cpu-load").unstarted(CpuLoad::sample);
            started = true;
            t.start();
        }
    }

    private static void sample() {
        try {
            long[] before = machine(Files.readString(STAT));
            long selfBefore = self(Files.readString(SELF));
            while (true) {
                Thread.sleep(PERIOD_MS);
                long[] after = machine(Files.readString(STAT));
                long selfAfter = self(Files.readString(SELF));
                double now = othersBusy(before, after, selfAfter - selfBefore, LOGICAL);
                othersBusy = 0.5 * othersBusy + 0.5 * now;
                before = after;
                selfBefore = selfAfter;
            }
        } catch (IOException | RuntimeException e) {
            othersBusy = 0; // unreadable: as if nothing else ran, which was the behaviour before
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Logical CPUs busy with other processes' work between two readings of {@code /proc/stat} ({busy, total}
     * ticks), given the ticks this process used in between.
     */
    static double othersBusy(long[] before, long[] after, long selfTicks, int logical) {
        long total = after[1] - before[1];
        if (total <= 0) {
            return 0;
        }
        long busy = after[0] - before[0];
        return Math.max(0, (double) (busy - selfTicks) / total * logical);
    }

    /** {busy, total} ticks from the machine line of {@code /proc/stat} (idle and iowait are not busy). */
    static long[] machine(String stat) {
        for (String line : stat.split("\n")) {
            if (line.startsWith("cpu ")) {
                String[] f = line.substring(4).strip().split("\\s+");
                long total = 0;
                // user nice system idle iowait irq softirq steal; guest time is already counted in user
                for (int i = 0; i < Math.min(8, f.length); i++) {
                    total += Long.parseLong(f[i]);
                }
                long idle = Long.parseLong(f[3]) + (f.length > 4 ? Long.parseLong(f[4]) : 0);
                return new long[] {total - idle, total};
            }
        }
        throw new IllegalArgumentException("no cpu line in /proc/stat");
    }

    /** This process's user + system ticks from {@code /proc/self/stat} (fields 14 and 15, after the name). */
    static long self(String stat) {
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).strip().split("\\s+");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
