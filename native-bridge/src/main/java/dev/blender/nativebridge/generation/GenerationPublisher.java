package dev.blender.nativebridge.generation;

import dev.blender.nativebridge.LlamaContext;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A generation as a cold {@link Flow.Publisher} of {@link TokenEvent}s: it starts on the executor when
 * its one subscriber subscribes, honours back-pressure (generation waits while the subscriber's buffer
 * is full), completes after the last candidate finishes and stops generating within one step when the
 * subscription is cancelled. A second subscriber receives an {@link IllegalStateException}.
 */
public final class GenerationPublisher implements Flow.Publisher<TokenEvent> {
    private final LlamaContext ctx;
    private final GenerationRequest request;
    private final Executor executor;
    private final AtomicBoolean subscribed = new AtomicBoolean();

    public GenerationPublisher(LlamaContext ctx, GenerationRequest request, Executor executor) {
        this.ctx = Objects.requireNonNull(ctx, "ctx");
        this.request = Objects.requireNonNull(request, "request");
        this.executor = Objects.requireNonNull(executor, "executor");
    }

    @Override
    public void subscribe(Flow.Subscriber<? super TokenEvent> subscriber) {
        Objects.requireNonNull(subscriber, "subscriber");
        if (!subscribed.compareAndSet(false, true)) {
            subscriber.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {}

                @Override
                public void cancel() {}
            });
            subscriber.onError(new IllegalStateException("a generation can be subscribed to once"));
            return;
        }
        SubmissionPublisher<TokenEvent> out = new SubmissionPublisher<>(executor, Flow.defaultBufferSize());
        out.subscribe(subscriber);
        Cancellation cancel = request.cancellation() != null ? request.cancellation() : new Cancellation();
        executor.execute(() -> {
            try {
                Generator.generate(ctx, request.withCancellation(cancel), (c, token, text) -> {
                    if (out.getNumberOfSubscribers() == 0) {
                        cancel.cancel(); // the subscriber cancelled: stop at the next step
                        return;
                    }
                    out.submit(new TokenEvent(c, token, text));
                });
                out.close();
            } catch (Throwable t) {
                out.closeExceptionally(t);
            }
        });
    }
}
