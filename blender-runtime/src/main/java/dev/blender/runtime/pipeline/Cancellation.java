package dev.blender.runtime.pipeline;

/**
 * A flag that stops a request ({@link BlendRequest.Builder#cancellation}): set it from any thread and the
 * blend ends at its next step with a {@link java.util.concurrent.CancellationException}. One flag may stop
 * several requests; once set it stays set.
 *
 * <p>Thread-safe.
 */
public final class Cancellation {
    /** The flag the token loops poll: this one's, so that cancelling reaches every decode at once. */
    private final dev.blender.nativebridge.generation.Cancellation flag =
            new dev.blender.nativebridge.generation.Cancellation();

    public void cancel() {
        flag.cancel();
    }

    public boolean isCancelled() {
        return flag.isCancelled();
    }

    dev.blender.nativebridge.generation.Cancellation flag() {
        return flag;
    }
}
