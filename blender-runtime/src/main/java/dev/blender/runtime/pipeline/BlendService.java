package dev.blender.runtime.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * What answers blend requests: {@link Blender} is the one implementation; the server
 * ({@code BlenderServer}) and the LangChain4j models take this, so that a test or an application can put
 * its own in front (a cache, a router, a fake).
 *
 * <p>Implementations are thread-safe: requests may run concurrently.
 */
public interface BlendService extends AutoCloseable {

    /** The settings this service answers with (its models, their roles, its default strategy). */
    BlenderConfig config();

    /** Answers a request. */
    default BlendResult blend(BlendRequest request) {
        return blend(request, BlendListener.NONE);
    }

    /**
     * Answers a request, telling {@code listener} what happens as it happens: the answer as it is
     * decoded (see {@link BlendListener#onAnswer}), each stage, the candidates, their order, the end.
     *
     * @throws CancellationException the request's cancellation was set
     * @throws IllegalArgumentException the composition needs a model this service lacks
     */
    BlendResult blend(BlendRequest request, BlendListener listener);

    /** Answers on another thread; cancelling the future cancels the request at its next step. */
    default CompletableFuture<BlendResult> blendAsync(BlendRequest request) {
        return blendAsync(request, BlendListener.NONE);
    }

    /**
     * Answers on another thread and streams to {@code listener} from there (see {@link #blend(BlendRequest,
     * BlendListener)}); cancelling the future cancels the request at its next step, and the listener then
     * hears {@link BlendListener#onError} with a {@link CancellationException}.
     */
    CompletableFuture<BlendResult> blendAsync(BlendRequest request, BlendListener listener);

    /**
     * Scores each text as an answer to {@code query} with the model blends rank with: the judge (each text's
     * chance of winning, {@code sigmoid(logit / 2)} of its comparisons with the other distinct texts, the
     * judge's logits aggregated by max-logits; a lone text scores 0.5) or else the reranker (its relevance
     * score). One score per text, in order.
     *
     * @throws IllegalStateException there is neither a judge nor a reranker, or the reranker ranks remotely
     */
    Scores score(String query, List<String> texts);

    /** Scores of {@link #score}, one per text, and the tokens the scoring model read and wrote. */
    record Scores(List<Double> scores, long tokens) {
        public Scores {
            scores = List.copyOf(scores);
        }
    }

    /**
     * Loads every configured model now instead of on the first request, reporting each before it loads;
     * for progress bars in interactive tools.
     */
    void warmUp(WarmUpListener progress);

    /** Progress of {@link #warmUp}: {@code file} is null once all are loaded. */
    @FunctionalInterface
    interface WarmUpListener {
        void loading(int done, int total, Path file);
    }

    /** Models loaded and contexts made so far, and the time they took (for statistics). */
    ModelPool.Stats poolStats();

    /** Frees what the service holds, after running requests return theirs. Idempotent. */
    @Override
    void close();
}
