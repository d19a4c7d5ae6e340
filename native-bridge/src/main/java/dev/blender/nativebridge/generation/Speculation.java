package dev.blender.nativebridge.generation;

import java.util.Objects;

/**
 * Draft-and-verify decoding for a request ({@link GenerationRequest#withSpeculation}): after every token, the
 * {@code drafter} guesses up to {@code maxDraft} more, and one decode appends the token and the guess with logits
 * for every position. The sampler then reads those positions in order: greedy decoding keeps a guessed token
 * exactly when it is the argmax, so its output is the output without guesses; a sampled token is kept with the
 * probability the sampler's distribution gives it, and otherwise drawn from that distribution without it
 * (speculative sampling with a deterministic draft), so the output has the distribution of plain sampling. The
 * first token that differs from the guess is the model's own, and the KV cells of the guessed tokens after it are
 * dropped.
 *
 * @param drafter  where the guesses come from
 * @param maxDraft most tokens guessed at once (a wrong guess costs its tokens' share of a batched decode)
 */
public record Speculation(Drafter drafter, int maxDraft) {
    public Speculation {
        Objects.requireNonNull(drafter, "drafter");
        if (maxDraft < 1) {
            throw new IllegalArgumentException("maxDraft must be >= 1, was " + maxDraft);
        }
    }
}
