package dev.blender.runtime.pipeline;

/** How a {@link Blender} answers a request. Constants, so thread-safe. */
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
    CASCADE;

    /** The stages this strategy runs ({@link Composition#named} of its {@link #id()}). */
    public Composition composition() {
        return Composition.named(id());
    }

    /** The name users write: {@code full-blend}. */
    public String id() {
        return dev.blender.runtime.Names.id(this);
    }

    /**
     * Reads a strategy name in any of its spellings: {@code full-blend}, {@code FULL_BLEND},
     * {@code full_blend}, {@code Full-Blend}.
     *
     * @throws IllegalArgumentException an unknown name; the message lists the known ones
     */
    public static Strategy parse(String name) {
        return dev.blender.runtime.Names.find(Strategy.class, name).orElseThrow(() -> new IllegalArgumentException(
                "unknown strategy '" + name + "'; one of " + java.util.Arrays.stream(values()).map(Strategy::id).toList()));
    }
}
