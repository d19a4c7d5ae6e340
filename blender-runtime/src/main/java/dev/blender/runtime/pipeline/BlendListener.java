package dev.blender.runtime.pipeline;

import java.util.List;

/**
 * What a blend reports while it runs, in the user's terms: pieces of the answer, each stage as it starts,
 * the candidates once sampled, their order once voted or ranked, and the end. Every method has an empty
 * default; implement what you show. Calls come on the thread that runs the blend, in order, never two at
 * once for one request; a listener that throws fails the blend with its exception.
 *
 * <p>Thread safety: one listener per request needs none; a listener shared by requests that run at once is
 * called from their threads concurrently and must be thread-safe itself.
 */
public interface BlendListener {
    /** Listens to nothing. */
    BlendListener NONE = new BlendListener() {};

    /**
     * A piece of the final answer. When the composition's last stage writes the answer (a fusion, a mix,
     * one model's answer) the pieces come as it is decoded; otherwise the whole answer comes once, at the
     * end, because a later stage could still change it. The pieces joined are the answer before
     * {@link BlendResult#answer()} strips its surrounding whitespace.
     */
    default void onAnswer(String text) {}

    /** A stage is about to run. */
    default void onStageStarted(Stage stage) {}

    /** A sample stage finished: every candidate of the request so far, in sampling order. */
    default void onCandidates(List<BlendResult.Sampled> candidates) {}

    /** A vote or rank stage ordered the distinct candidate texts, best first ({@code orderedBy} as in the result). */
    default void onRanked(List<BlendResult.Ranked> ranked, String orderedBy) {}

    /** The blend finished with this result; {@link Blender#blend} returns it next. */
    default void onComplete(BlendResult result) {}

    /**
     * The blend failed (a {@link java.util.concurrent.CancellationException} when it was cancelled); the
     * same exception is thrown next, or completes the future of {@link Blender#blendAsync}.
     */
    default void onError(Throwable error) {}
}
