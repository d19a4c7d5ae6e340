package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.ModelOptions;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a {@link Blender}'s models may take of the machine: load options, KV cells, memory budgets, parallel
 * sampling and prefix reuse. Part of a {@link BlenderConfig}, whose builder checks each value; the per-model
 * maps are keyed as {@link BlenderConfig#key} says.
 *
 * @param modelOptions threads and GPU layers of every model without its own
 * @param contextSize KV cells per sequence of every model without its own
 * @param memoryBudgetBytes weight bytes kept loaded in host memory
 * @param deviceMemoryBudgetBytes weight bytes kept loaded in GPU memory (0: the GPUs' free memory at start)
 * @param parallelMembers whether the generators sample at the same time where that is exact
 * @param prefixReuse whether pooled contexts keep their last prompt for the next request
 * @param perModelOptions a model's own load options
 * @param perModelContextSize a model's own KV cells per sequence
 */
public record ResourceSettings(ModelOptions modelOptions, int contextSize, long memoryBudgetBytes,
                               long deviceMemoryBudgetBytes, boolean parallelMembers, boolean prefixReuse,
                               Map<Path, ModelOptions> perModelOptions, Map<Path, Integer> perModelContextSize) {
    public ResourceSettings {
        perModelOptions = Map.copyOf(perModelOptions);
        perModelContextSize = Map.copyOf(perModelContextSize);
    }

    /** The options a model loads with: its own where configured, else the common ones. */
    public ModelOptions modelOptionsFor(Path model) {
        return perModelOptions.getOrDefault(model, modelOptions);
    }

    /** KV cells per sequence for a model: its own where configured, else the common size. */
    public int contextSizeFor(Path model) {
        return perModelContextSize.getOrDefault(model, contextSize);
    }
}
