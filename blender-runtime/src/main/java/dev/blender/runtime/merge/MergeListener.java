package dev.blender.runtime.merge;

/** Hears a merge's progress. */
@FunctionalInterface
public interface MergeListener {
    /** Nothing is reported. */
    MergeListener NONE = (done, total, tensor) -> {};

    /** Called after each tensor is merged and written: {@code done} of {@code total}, the last one {@code tensor}. */
    void tensorMerged(int done, int total, String tensor);
}
