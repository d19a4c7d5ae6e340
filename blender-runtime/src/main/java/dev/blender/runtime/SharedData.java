package dev.blender.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds the shared folder of models and data sets that sits beside a checkout ({@code ../shared}):
 * {@code -Dblender.shared}, then {@code BLENDER_SHARED}, then {@code shared/} in or above the working
 * directory. It holds the defaults of the CLI's main job; nothing requires it.
 */
public final class SharedData {
    private SharedData() {}

    public static Optional<Path> folder() {
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("blender.shared");
        if (prop != null && !prop.isBlank()) {
            candidates.add(Path.of(prop));
        }
        String env = System.getenv("BLENDER_SHARED");
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            candidates.add(dir.resolve("shared"));
        }
        return candidates.stream().filter(p -> Files.isDirectory(p.resolve("models"))).findFirst()
                .map(p -> p.toAbsolutePath().normalize());
    }

    /** A path under the shared folder, if the folder and the path exist. */
    public static Optional<Path> resolve(String relative) {
        return folder().map(f -> f.resolve(relative)).filter(Files::exists);
    }
}
