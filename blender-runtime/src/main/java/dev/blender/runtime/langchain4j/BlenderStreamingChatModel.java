package dev.blender.runtime.langchain4j;

import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Cancellation;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A {@link Blender} as a LangChain4j {@link StreamingChatModel}: the blend's final answer (the fused
 * one, or the mixed or single model's) streams as partial responses while it is decoded; the candidates
 * and the ranking before it are not streamed. Requests, parameters and responses are as for
 * {@link BlenderChatModel}, and so is the builder.
 *
 * <p>Each request runs on a thread of its own (a platform thread: native decoding would pin a virtual
 * thread's carrier). The partial responses add up to the response's text: the answer's leading and
 * trailing whitespace, which the blend's answer drops, is not streamed. A failure reaches
 * {@code onError}; an exception thrown by the handler's {@code onPartialResponse} or
 * {@code onCompleteResponse} goes to its {@code onError} as in LangChain4j's own models.
 * {@code context.streamingHandle()} is a {@link BlenderStreamingHandle}: cancelling it stops the blend.
 */
public final class BlenderStreamingChatModel implements StreamingChatModel {
    private static final System.Logger LOG = System.getLogger(BlenderStreamingChatModel.class.getName());

    private final ChatBlend blend;

    private BlenderStreamingChatModel(ChatBlend blend) {
        this.blend = blend;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the blend and returns.
     *
     * @throws dev.langchain4j.exception.UnsupportedFeatureException at once, for what a blend cannot do
     * @throws IllegalArgumentException                               at once, for a value out of range
     */
    @Override
    public void doChat(ChatRequest chatRequest, StreamingChatResponseHandler handler) {
        Objects.requireNonNull(handler, "handler");
        Cancellation cancellation = new Cancellation();
        BlendRequest request = blend.request(chatRequest).cancellation(cancellation).build();
        BlenderStreamingHandle handle = new BlenderStreamingHandle(cancellation);
        Thread.ofPlatform().daemon().name("blender-stream").start(() -> stream(request, handle, handler));
    }

    private void stream(BlendRequest request, BlenderStreamingHandle handle, StreamingChatResponseHandler handler) {
        PartialResponseContext context = new PartialResponseContext(handle);
        Trimmed text = new Trimmed(piece -> {
            if (!handle.isCancelled()) {
                call(handler, () -> handler.onPartialResponse(new PartialResponse(piece), context));
            }
        });
        BlendResult result = null;
        Throwable failure = null;
        try {
            result = blend.blender.blend(request, new BlendListener() {
                @Override
                public void onAnswer(String piece) {
                    text.add(piece);
                }
            });
        } catch (Throwable t) {
            failure = t;
        }
        if (!handle.isCancelled()) {
            if (failure == null) {
                BlendResult r = result;
                call(handler, () -> handler.onCompleteResponse(ChatBlend.response(r)));
            } else {
                onError(handler, failure);
            }
        }
        handle.ended(result, failure);
    }

    /** A callback; what it throws goes to {@code onError}. */
    private static void call(StreamingChatResponseHandler handler, Runnable callback) {
        try {
            callback.run();
        } catch (RuntimeException e) {
            onError(handler, e);
        }
    }

    private static void onError(StreamingChatResponseHandler handler, Throwable error) {
        try {
            handler.onError(error);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "StreamingChatResponseHandler.onError threw; ignored", e);
        }
    }

    @Override
    public BlenderChatRequestParameters defaultRequestParameters() {
        return blend.defaults();
    }

    /**
     * Streamed text as the blend's answer reads it, stripped at both ends: leading whitespace is dropped
     * and trailing whitespace held back until text follows it.
     */
    static final class Trimmed {
        private final Consumer<String> out;
        private final StringBuilder held = new StringBuilder();
        private boolean started;

        Trimmed(Consumer<String> out) {
            this.out = out;
        }

        void add(String piece) {
            if (!started) {
                piece = piece.stripLeading();
                if (piece.isEmpty()) {
                    return;
                }
                started = true;
            }
            held.append(piece);
            String all = held.toString();
            String body = all.stripTrailing();
            if (!body.isEmpty()) {
                out.accept(body);
                held.delete(0, body.length());
            }
        }
    }

    public static final class Builder extends BlendChatBuilder<Builder> {
        private Builder() {}

        /** @throws IllegalArgumentException see {@link BlendChatBuilder} */
        public BlenderStreamingChatModel build() {
            return new BlenderStreamingChatModel(chatBlend());
        }
    }
}
