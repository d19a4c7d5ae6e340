package dev.blender.runtime.merge;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** How the models' tensors are combined. */
public enum MergeMethod {
    /** The element-wise mean of the models (a "model soup"); a base, if given, only supplies metadata. */
    LINEAR("linear", false),
    /** {@code base + lambda * sum_i (m_i - base)} (Ilharco et al., "Editing models with task arithmetic"). */
    TASK_ARITHMETIC("task-arithmetic", true),
    /**
     * Per tensor: each task vector {@code m_i - base} trimmed to its top {@code density} fraction by
     * magnitude (entries equal to the threshold kept), each entry's sign elected as the sign of the sum of
     * the trimmed vectors, the mean of the non-zero trimmed entries that agree with it (0 where none do);
     * {@code base + lambda * merged} (Yadav et al., "TIES-Merging").
     */
    TIES("ties", true),
    /**
     * Each task-vector entry dropped with probability {@code drop} and the survivors scaled by
     * {@code 1 / (1 - drop)}, then task arithmetic (Yu et al., "Language models are Super Mario").
     */
    DARE("dare", true);

    private final String cliName;
    private final boolean needsBase;

    MergeMethod(String cliName, boolean needsBase) {
        this.cliName = cliName;
        this.needsBase = needsBase;
    }

    /** The name used on the command line and in the output's metadata, e.g. {@code task-arithmetic}. */
    public String cliName() {
        return cliName;
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
        String key = name.strip().toLowerCase(Locale.ROOT).replace('_', '-');
        if (key.equals("ta")) {
            return TASK_ARITHMETIC;
        }
        for (MergeMethod m : values()) {
            if (m.cliName.equals(key)) {
                return m;
            }
        }
        throw new IllegalArgumentException("--method: unknown merge method '" + name + "'; use one of "
                + Arrays.stream(values()).map(MergeMethod::cliName).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return cliName;
    }
}
