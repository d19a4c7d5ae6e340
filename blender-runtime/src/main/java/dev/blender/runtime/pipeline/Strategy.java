package dev.blender.runtime.pipeline;

/** How a {@link Blender} answers a request. */
public enum Strategy {
    /** The first generator alone: the baseline every blend must beat. */
    SINGLE,
    /** N samples of the first generator, ranked and fused (Self-MoA). */
    SELF_BLEND,
    /** N samples from every generator, ranked by the judge, top-k fused (LLM-Blender). */
    FULL_BLEND,
    /** The generators' next-token distributions mixed at every step (no judge, no fuser). */
    TOKEN_COMBINE,
    /** The first generator greedily; escalate to FULL_BLEND when its least confident token is unlikely. */
    CASCADE
}
