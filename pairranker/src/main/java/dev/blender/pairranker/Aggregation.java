package dev.blender.pairranker;

/** How pairwise comparisons become a ranking (LLM-Blender's strategies). */
public enum Aggregation {
    /**
     * Full matrix M of single-order logits (N(N-1) ordered pairs); candidate i scores
     * {@code mean_j (M_ij - M_ji)}: both orders, position bias cancelled.
     */
    MAX_LOGITS,
    /**
     * The same matrix; candidate i scores its wins: {@code #{j: M_ij > 0} + #{j: M_ji < 0}}, ties broken
     * by the MaxLogits score.
     */
    MAX_WINS,
    /**
     * One pass over a random permutation keeps the better of the incumbent and the next candidate
     * (both orders averaged): the best in N-1 comparisons. Top-k takes k passes over what is left.
     */
    BUBBLE
}
