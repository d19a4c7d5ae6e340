package dev.blender.runtime.merge;

import java.nio.file.Path;
import java.util.List;

/**
 * What a merge wrote.
 *
 * @param output     the file written
 * @param options    how it was merged
 * @param tensors    how many tensors it holds
 * @param parameters how many values they hold
 * @param bytes      the file's size
 * @param sha256     hex SHA-256 of every input, in {@link MergeOptions#inputs()} order
 * @param millis     how long the merge took, hashing the inputs included
 */
public record MergeResult(Path output, MergeOptions options, int tensors, long parameters, long bytes,
                          List<String> sha256, double millis) {
    public MergeResult {
        sha256 = List.copyOf(sha256);
    }
}
