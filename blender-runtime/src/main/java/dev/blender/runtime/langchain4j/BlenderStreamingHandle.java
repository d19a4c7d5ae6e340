package dev.blender.runtime.langchain4j;

import dev.blender.runtime.pipeline.Cancellation;
import dev.blender.runtime.pipeline.BlendResult;
import dev.langchain4j.model.chat.response.StreamingHandle;
import java.util.concurrent.CompletableFuture;

/**
 * The handle of one streamed blend, given to the handler with every partial response.
 * {@link #cancel()} stops the blend's decoding within one step (sampling, judging or fusing) and no
 * callback starts after it: neither a partial response nor {@code onCompleteResponse} nor
 * {@code onError}.
 */
public final class BlenderStreamingHandle implements StreamingHandle {
    private final Cancellation cancellation;
    private volatile boolean cancelled;
    private final CompletableFuture<BlendResult> result = new CompletableFuture<>();

    BlenderStreamingHandle(Cancellation cancellation) {
        this.cancellation = cancellation;
    }

    @Override
    public void cancel() {
        cancelled = true; // first: the streaming thread checks it before every callback
        cancellation.cancel();
    }

    @Override
    public boolean isCancelled() {
        return cancelled;
    }

    /**
     * Completes once the blend has ended and its last callback has returned: with the result, or
     * exceptionally with what ended it ({@link java.util.concurrent.CancellationException} after
     * {@link #cancel()}). For waiting until the models are idle, e.g. before closing the blender.
     */
    public CompletableFuture<BlendResult> result() {
        return result.copy();
    }

    void ended(BlendResult r, Throwable failure) {
        if (failure != null) {
            result.completeExceptionally(failure);
        } else {
            result.complete(r);
        }
    }
}
