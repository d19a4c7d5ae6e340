package dev.blender.runtime.merge;

import dev.blender.nativebridge.gguf.GgmlType;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What to merge and how. Invalid values are refused when the record is made, with messages naming the
 * command-line flag that sets them (the CLI passes them through unchanged).
 *
 * @param method  how tensors are combined
 * @param base    the model the task vectors are measured from; required by every method but
 *                {@link MergeMethod#LINEAR}, for which it only supplies the metadata (null = none)
 * @param models  the models to merge (at least one; the same file may appear twice)
 * @param lambda  the scale of the merged task vector (finite; any sign); unused by linear
 * @param density the fraction of each task vector TIES keeps, in (0, 1]
 * @param drop    the probability with which DARE drops a task-vector entry, in [0, 1)
 * @param seed    DARE's random seed: the same seed gives the same file
 * @param type    the output's tensor type: F32, F16, Q8_0 or Q4_0 (1-D tensors such as norms stay F32)
 */
public record MergeOptions(MergeMethod method, Path base, List<Path> models, double lambda, double density,
                           double drop, long seed, GgmlType type) {

    /** The output types a merge writes. */
    public static final Set<GgmlType> OUTPUT_TYPES = Set.of(GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0);

    /** Defaults: lambda 1, density 0.5, drop 0.5, seed 0, F32 output. */
    public static final double DEFAULT_LAMBDA = 1.0;
    public static final double DEFAULT_DENSITY = 0.5;
    public static final double DEFAULT_DROP = 0.5;

    /** @throws IllegalArgumentException for a value out of range, naming its flag */
    public MergeOptions {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(type, "type");
        models = List.copyOf(models);
        if (models.isEmpty()) {
            throw new IllegalArgumentException("-m: give at least one model to merge");
        }
        if (method.needsBase() && base == null) {
            throw new IllegalArgumentException("--base: " + method.cliName()
                    + " works on task vectors (model - base), so it needs the base model they were fine-tuned from");
        }
        if (!Double.isFinite(lambda)) {
            throw new IllegalArgumentException("--lambda must be a finite number, got " + lambda);
        }
        if (!(density > 0 && density <= 1)) {
            throw new IllegalArgumentException("--density must be in (0, 1] (the fraction of each task vector kept), got "
                    + density);
        }
        if (!(drop >= 0 && drop < 1)) {
            throw new IllegalArgumentException("--drop must be in [0, 1) (the probability of dropping an entry), got "
                    + drop);
        }
        if (!OUTPUT_TYPES.contains(type)) {
            throw new IllegalArgumentException("--type: cannot write " + type + "; use f32, f16, q8_0 or q4_0");
        }
    }

    /** A builder with the defaults. */
    public static Builder builder(MergeMethod method) {
        return new Builder(method);
    }

    /** Every input file, the base first when there is one. */
    public List<Path> inputs() {
        if (base == null) {
            return models;
        }
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(base), models.stream()).toList();
    }

    /**
     * The output type by its command-line name ({@code f32}, {@code f16}, {@code q8_0}, {@code q4_0}, any case).
     *
     * @throws IllegalArgumentException naming {@code --type}
     */
    public static GgmlType parseType(String name) {
        String key = name.strip().toUpperCase(java.util.Locale.ROOT);
        for (GgmlType t : OUTPUT_TYPES) {
            if (t.name().equals(key)) {
                return t;
            }
        }
        throw new IllegalArgumentException("--type: unknown output type '" + name + "'; use f32, f16, q8_0 or q4_0");
    }

    /** Collects options; {@link #build()} validates them. */
    public static final class Builder {
        private final MergeMethod method;
        private Path base;
        private final java.util.ArrayList<Path> models = new java.util.ArrayList<>();
        private double lambda = DEFAULT_LAMBDA;
        private double density = DEFAULT_DENSITY;
        private double drop = DEFAULT_DROP;
        private long seed;
        private GgmlType type = GgmlType.F32;

        private Builder(MergeMethod method) {
            this.method = Objects.requireNonNull(method, "method");
        }

        public Builder base(Path p) {
            this.base = p;
            return this;
        }

        /** Adds a model to merge. */
        public Builder model(Path p) {
            models.add(Objects.requireNonNull(p, "model"));
            return this;
        }

        public Builder models(List<Path> ps) {
            ps.forEach(this::model);
            return this;
        }

        public Builder lambda(double v) {
            this.lambda = v;
            return this;
        }

        public Builder density(double v) {
            this.density = v;
            return this;
        }

        public Builder drop(double v) {
            this.drop = v;
            return this;
        }

        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        public Builder type(GgmlType t) {
            this.type = t;
            return this;
        }

        public MergeOptions build() {
            return new MergeOptions(method, base, models, lambda, density, drop, seed, type);
        }
    }
}
