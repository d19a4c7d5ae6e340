package dev.blender.nativebridge.generation;

/**
 * A flag another thread sets to stop a generation. Checked before every decode step, so generation
 * stops within one step; the context stays usable for the next request. Thread-safe.
 */
public final class Cancellation {
    private volatile boolean cancelled;

    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }
}
