package dev.blender.runtime.combine;

import java.lang.foreign.MemorySegment;

/**
 * Member weights that learn from the text as it goes ({@link CombineOptions.Adaptation}): asked for the
 * weights of each step before the combination, told the token that came after it. {@link TextScorer}
 * and {@link MixedGenerator} drive it the same way. Not thread-safe: one per generation or scorer.
 */
interface OnlineWeights {

    /** The learner of the options' adaptation, or null for fixed weights. */
    static OnlineWeights of(CombineOptions options) {
        return switch (options.adaptation()) {
            case FIXED -> null;
            case BAYES -> new AdaptiveWeights(options);
            case LEARNED -> new LearnedGate(options);
        };
    }

    /**
     * The weights of the next step.
     *
     * @param rows     each member's logits over the {@code n} combined tokens, as the combiner reads them
     * @param position how many tokens precede the one predicted (the BOS included)
     */
    float[] weigh(MemorySegment[] rows, int n, int position);

    /**
     * Learns from {@code token}, which came after the step just weighed.
     *
     * @param mixed the combination's log-probabilities at that step
     */
    void observe(MemorySegment[] rows, int n, float[] mixed, int token);

    /** Evidence from a prompt each member read in its own tokens: each member's log-probability of it. */
    void observePrompt(double[] logProbs);

    /** Back to the prior (a new, unrelated text). */
    void reset();

    /** The weights now. */
    float[] current();
}
