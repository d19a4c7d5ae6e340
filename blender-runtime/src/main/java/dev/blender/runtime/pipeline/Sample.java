package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import java.util.List;
import java.util.Objects;

/**
 * A candidate inside a blend, with its token ids (which stages such as the judge's pair cache and
 * speculative fusion read); {@link BlendResult.Sampled} is what the user sees of it.
 *
 * @param model    the generator (its label) that wrote it
 * @param thinking what the model thought before answering; empty for a model that does not reason
 */
record Sample(String model, Candidate candidate, String thinking) {
    Sample {
        Objects.requireNonNull(thinking, "thinking");
    }

    /** A candidate with no thinking part. */
    Sample(String model, Candidate candidate) {
        this(model, candidate, "");
    }

    BlendResult.Sampled toResult() {
        return new BlendResult.Sampled(model, Completion.of(candidate), thinking);
    }

    static List<BlendResult.Sampled> toResults(List<Sample> samples) {
        return samples.stream().map(Sample::toResult).toList();
    }
}
