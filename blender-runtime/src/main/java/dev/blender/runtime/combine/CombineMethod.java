package dev.blender.runtime.combine;

/** How next-token distributions of several models are mixed. */
public enum CombineMethod {
    /** Mixture of probabilities, {@code p = sum_k w_k p_k}: a token any member likes survives ("OR"). */
    LINEAR,
    /**
     * Weighted sum of log-probabilities, renormalised, {@code p ~ prod_k p_k^w_k}: a token must suit
     * every member ("AND").
     */
    LOG_LINEAR,
    /**
     * Models as negative evidence (DExperts, contrastive decoding):
     * {@code log p_core + lambda * (log p_pos - log p_neg)}, only over tokens the core finds plausible,
     * {@code p_core(x) >= alpha * max p_core}. With two members the core is also the positive.
     */
    NEGATIVE_EVIDENCE
}
