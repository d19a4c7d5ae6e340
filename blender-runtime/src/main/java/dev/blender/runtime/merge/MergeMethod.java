package dev.blender.runtime.merge;

import dev.blender.runtime.Names;
import java.util.Arrays;
import java.util.stream.Collectors;

/** How the models' tensors are combined. */
public enum MergeMethod {
    /** The element-wise mean of the models (a "model soup"); a base, if given, only supplies metadata. */
    LINEAR(false),
    /** {@code base + lambda * sum_i (m_i - base)} (Ilharco et al., "Editing models with task arithmetic"). */
    TASK_ARITHMETIC(true),
    /**
     * Per tensor: each task vector {@code m_i - base} trimmed to its top {@code density} fraction by
     * magnitude (entries equal to the threshold kept), each entry's sign elected as the sign of the sum of
     * the trimmed vectors, the mean of the non-zero trimmed entries that agree with it (0 where none do);
     * {@code base + lambda * merged} (Yadav et al., "TIES-Merging").
     */
    TIES(true),
    /**
     * Each task-vector entry dropped with probability {@code drop} and the survivors scaled by
     * {@code 1 / (1 - drop)}, then task arithmetic (Yu et al., "Language models are Super Mario").
     */
    DARE(true);

    private final boolean needsBase;

    MergeMethod(boolean needsBase) {
        this.needsBase = needsBase;
    }

    /** The name used on the command line and in the output's metadata, e.g. {@code task-arithmetic}. */
    public String cliName() {
        return Names.id(this);
    }

    /** Whether the method works on task vectors, and so needs the base they are measured from. */
    public boolean needsBase() {
        return needsBase;
    }

    /**
     * The method with this name in any spelling ({@code task-arithmetic}, {@code TASK_ARITHMETIC}, {@code ta}).
     *
     * @throws IllegalArgumentException naming the valid names
     */
    public static MergeMethod parse(String name) {
        if (Names.same(name, "ta")) {
            return TASK_ARITHMETIC;
        }
        return Names.find(MergeMethod.class, name).orElseThrow(() -> new IllegalArgumentException(
                "--method: unknown merge method '" + name + "'; use one of " + Arrays.stream(values()).map(MergeMethod::cliName).collect(Collectors.joining(", "))));
    }

    @Override
    public String toString() {
        return cliName();
    }
}
