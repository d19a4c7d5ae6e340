package dev.blender.nativebridge.generation;

import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * A flag another thread sets to stop a generation. Checked before every decode step, so generation
 * stops within one step; the context stays usable for the next request. Thread-safe.
 */
public final class Cancellation {
    private static final BooleanSupplier NEVER = () -> false;
    private volatile boolean cancelled;
    private final BooleanSupplier condition;

    public Cancellation() {
        this(NEVER);
    }

    private Cancellation(BooleanSupplier condition) {
        this.condition = condition;
    }

    /** A cancellation that also reads as set whenever {@code condition} answers true (a caller's own flag). */
    public static Cancellation of(BooleanSupplier condition) {
        return new Cancellation(Objects.requireNonNull(condition, "condition"));
    }

    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled || condition.getAsBoolean();
    }
}
