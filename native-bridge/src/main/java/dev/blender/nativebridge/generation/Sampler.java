package dev.blender.nativebridge.generation;

import dev.blender.nativebridge.math.VectorMath;
import java.util.Objects;

/**
 * Picks the next token from scores (logits or log-probabilities: only differences matter). One interface for every
 * token loop, composed of small stages as llama3.java composes its samplers: {@link #of} chains the repetition
 * penalty ({@link #penalised}) before either {@link #GREEDY} or the seeded draw with top-k, top-p, min-p and
 * temperature. A sampler that draws owns a seeded random stream, so the same seed gives the same draws; one per
 * sequence, not thread-safe. Sampling in a decode loop allocates nothing.
 */
@FunctionalInterface
public interface Sampler {
    /**
     * Picks a token id from {@code scores[0..n)}. With {@code draft} guessed for this position (speculative
     * decoding; -1: no guess), a drawing sampler keeps the guess with the probability p(draft) of the distribution
     * it draws from, and otherwise draws from p with the guess's mass taken out and the rest renormalised: every
     * token then comes out with probability p. The random stream is then used differently from the unguessed draw,
     * so a seed gives another (equally likely) sample than without the guess. Greedy picks the argmax, guess or not.
     *
     * @param scores  one score per token id; stages may rewrite them (the penalty changes recent tokens' entries,
     *                the draw its own copies), so pass a copy of what must survive
     * @param history tokens seen so far (prompt and output), the last {@code historyLength} of which are recent;
     *                may be null when no penalty applies
     */
    int sample(float[] scores, int n, int[] history, int historyLength, int draft);

    /** Picks a token for a position nothing was guessed for. */
    default int sample(float[] scores, int n, int[] history, int historyLength) {
        return sample(scores, n, history, historyLength, -1);
    }

    /** The most likely token, the lowest id on ties, so greedy decoding is deterministic. */
    Sampler GREEDY = (scores, n, history, historyLength, draft) -> {
        checkRange(scores, n);
        return argmax(scores, n);
    };

    /**
     * The sampler {@code options} describe, in llama.cpp's order: repetition penalty, then the argmax at
     * temperature 0, else top-k, top-p, min-p (on the untempered distribution), temperature and a draw seeded
     * by {@code seed}.
     */
    static Sampler of(SamplerOptions options, long seed) {
        Objects.requireNonNull(options, "options");
        Sampler pick = options.isGreedy() ? GREEDY : new TruncatedDraw(options, seed);
        return options.repeatPenalty() == 1f ? pick : penalised(options.repeatPenalty(), options.repeatLastN(), pick);
    }

    /**
     * {@code next} after dividing positive and multiplying negative scores of the distinct tokens among the last
     * {@code lastN} of the history by {@code penalty}, as llama.cpp does.
     */
    static Sampler penalised(float penalty, int lastN, Sampler next) {
        Objects.requireNonNull(next, "next");
        return (scores, n, history, historyLength, draft) -> {
            checkRange(scores, n);
            if (history != null) {
                penalise(scores, n, history, historyLength, penalty, lastN);
            }
            return next.sample(scores, n, history, historyLength, draft);
        };
    }

    private static void penalise(float[] scores, int n, int[] history, int historyLength, float penalty, int lastN) {
        int from = Math.max(0, historyLength - lastN);
        // each distinct recent token is penalised once, as llama.cpp does
        for (int i = from; i < historyLength; i++) {
            int t = history[i];
            if (t < 0 || t >= n) {
                continue;
            }
            boolean seen = false;
            for (int j = from; j < i; j++) {
                if (history[j] == t) {
                    seen = true;
                    break;
                }
            }
            if (!seen) {
                scores[t] = scores[t] > 0 ? scores[t] / penalty : scores[t] * penalty;
            }
        }
    }

    /** @throws IllegalArgumentException {@code n} outside {@code 1 .. scores.length} */
    static void checkRange(float[] scores, int n) {
        if (n < 1 || n > scores.length) {
            throw new IllegalArgumentException("n must be in 1.." + scores.length + ", was " + n);
        }
    }

    /** Index of the largest score; the lowest id wins ties, so greedy decoding is deterministic. */
    static int argmax(float[] scores, int n) {
        int best = 0;
        float bestValue = scores[0];
        for (int i = 1; i < n; i++) {
            if (scores[i] > bestValue) {
                bestValue = scores[i];
                best = i;
            }
        }
        return best;
    }

    /** {@code log sum_i exp(v_i)} over {@code v[0..n)}, computed stably ({@link VectorMath#logSumExp}). */
    static double logSumExp(float[] v, int n) {
        return VectorMath.logSumExp(v, n);
    }

    /** {@code log softmax(scores)[token]} over {@code scores[0..n)}. */
    static float logProbability(float[] scores, int n, int token) {
        return (float) (scores[token] - logSumExp(scores, n));
    }
}
