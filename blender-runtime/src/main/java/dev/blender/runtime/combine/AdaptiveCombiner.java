package dev.blender.runtime.combine;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A combination whose member weights learn from the text as it goes ({@link CombineOptions.Adaptation}):
 * each step is {@link #combine} (weights for that step, then the mix), then {@link #observe} with the
 * token that came. With fixed weights it is a plain {@link Combiner} and {@code observe} does nothing.
 * {@link TextScorer} and {@link MixedGenerator} step through a text this way; so can a caller that
 * drives its own decoding loop. Rows are logits over the same n tokens (as {@link VocabAlignment#gatherAll}
 * leaves them when vocabularies differ). Not thread-safe: one per generation or scored stream.
 */
public final class AdaptiveCombiner {
    private final Combiner combiner;
    private final OnlineWeights learner;

    public AdaptiveCombiner(CombineOptions options) {
        this.combiner = Combiner.vectorized(Objects.requireNonNull(options, "options"));
        this.learner = OnlineWeights.of(options);
    }

    public CombineOptions options() {
        return combiner.options();
    }

    /**
     * Mixes the rows of one step into {@code out} (normalised log-probabilities) with the weights the
     * adaptation gives this step.
     *
     * @param position how many tokens precede the one predicted (the BOS included)
     */
    public void combine(MemorySegment[] rows, int n, int position, float[] out) {
        if (learner != null) {
            combiner.reweight(learner.weigh(rows, n, position));
        }
        combiner.combine(rows, n, out);
    }

    /**
     * Learns from {@code token}, which came after the step just combined.
     *
     * @param rows  that step's rows, unchanged
     * @param mixed the distribution the token came from (that step's {@code out})
     */
    public void observe(MemorySegment[] rows, int n, float[] mixed, int token) {
        if (learner != null) {
            learner.observe(rows, n, mixed, token);
        }
    }

    /** Evidence from a prompt each member read in its own tokens: each member's log-probability of it. */
    public void observePrompt(double[] logProbs) {
        if (learner != null) {
            learner.observePrompt(logProbs);
        }
    }

    /** Back to the prior (a new, unrelated text). */
    public void reset() {
        if (learner != null) {
            learner.reset();
        }
    }

    /** The weights now: the options' own when fixed, else what was learnt (a gate: those of the last step). */
    public float[] weights() {
        return learner != null ? learner.current().clone() : combiner.options().weights();
    }
}
