package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.SamplerOptions;
import java.util.List;

/**
 * How a {@link Blender} decodes: candidates per generator and their sampler and budget, the final answer's
 * sampler and budget, and the stop strings. Part of a {@link BlenderConfig}, whose builder checks each value.
 *
 * @param candidatesPerModel candidates sampled from each generator
 * @param candidateSampler how candidates are sampled
 * @param answerSampler how the final answer is decoded (fuser, single model, combination)
 * @param maxTokens token budget of a candidate
 * @param fusedMaxTokens token budget of the fused answer
 * @param stop strings that end a candidate or answer
 */
public record SamplingSettings(int candidatesPerModel, SamplerOptions candidateSampler, SamplerOptions answerSampler,
                               int maxTokens, int fusedMaxTokens, List<String> stop) {
    public SamplingSettings {
        stop = List.copyOf(stop);
    }
}
