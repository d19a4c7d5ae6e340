package dev.blender.nativebridge;

import java.nio.file.Path;

/**
 * blender's per-user cache folder: the system property {@value #PROPERTY}, else {@code $XDG_CACHE_HOME/blender},
 * else {@code ~/.cache/blender}. The extracted bundled library and installed natives live under it.
 */
public final class CacheDir {
    /** The system property that moves the cache. */
    public static final String PROPERTY = "blender.cache.dir";

    private CacheDir() {}

    /** The cache folder (not created here). */
    public static Path root() {
        String configured = System.getProperty(PROPERTY);
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "blender");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "blender");
    }
}
