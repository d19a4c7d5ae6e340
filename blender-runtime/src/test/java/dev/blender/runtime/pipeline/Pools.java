package dev.blender.runtime.pipeline;

/** A blender's model pool, for tests in other packages that check what it holds (the pool is not public API). */
public final class Pools {
    private Pools() {}

    public static ModelPool of(Blender blender) {
        return blender.pool();
    }
}
