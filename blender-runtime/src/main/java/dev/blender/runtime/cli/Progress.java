package dev.blender.runtime.cli;

import java.io.PrintStream;
import java.util.Locale;

/** A one-line progress bar on stderr, redrawn in place: done/total, a bar, rate and a status. */
final class Progress {
    private static final int WIDTH = 30;
    /** A bar drawn and not yet ended: an error printed now would land at the end of the bar's line. */
    private static volatile boolean lineOpen;
    private final PrintStream out;
    private final int total;
    private final long start = System.nanoTime();
    private long lastDraw;

    Progress(PrintStream out, int total) {
        this.out = out;
        this.total = Math.max(1, total);
    }

    void step(int done, String status) {
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L) {
            return; // at most ten redraws a second
        }
        lastDraw = now;
        int filled = (int) ((long) WIDTH * done / total);
        double seconds = (now - start) / 1e9;
        out.printf(Locale.ROOT, "\r[%s%s] %d/%d  %.1f/s  %s   ", "#".repeat(filled), " ".repeat(WIDTH - filled), done,
                total, done / Math.max(seconds, 1e-9), status);
        out.flush();
        lineOpen = true;
    }

    void done() {
        out.println();
        lineOpen = false;
    }

    /**
     * A bar for work whose size the first report tells ({@code done, total, status} callbacks such as a
     * merge's or an extraction's tensors); {@link #done()} ends it if one was drawn.
     */
    static final class Lazy {
        private final PrintStream out;
        private Progress bar;

        Lazy(PrintStream out) {
            this.out = out;
        }

        void step(int done, int total, String status) {
            if (bar == null) {
                bar = new Progress(out, total);
            }
            bar.step(done, status);
        }

        void done() {
            if (bar != null) {
                bar.done();
            }
        }
    }

    /** Ends a bar left open by a command that failed, so its error starts a line of its own. */
    static void endOpenLine(PrintStream err) {
        if (lineOpen) {
            err.println();
            lineOpen = false;
        }
    }
}
