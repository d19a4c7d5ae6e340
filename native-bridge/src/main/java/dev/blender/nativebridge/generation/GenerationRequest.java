package dev.blender.nativebridge.generation;

import java.util.List;
import java.util.Objects;

/**
 * What to generate: N candidates continuing one prompt. Immutable; build with
 * {@code GenerationRequest.of(tokens).withCandidates(4).withMaxTokens(64)}.
 *
 * @param prompt       prompt tokens (BOS included when the model wants it: {@code vocab.tokenize(text)})
 * @param candidates   how many continuations to sample (they share the prompt's KV cells)
 * @param maxTokens    most tokens per candidate
 * @param sampler      sampling options, the same for every candidate
 * @param stop         strings that end a candidate when its text reaches them (excluded from the text)
 * @param seed         candidate i samples with the random stream of seed + i, so a single-candidate
 *                     request with seed + i reproduces candidate i
 * @param cancellation set from another thread to stop early; null for none
 * @param topLogprobs  how many of the most likely tokens each step reports ({@link Candidate#topLogprobs()}),
 *                     0 to 20 as OpenAI's API allows; 0 (the default) reports none and costs nothing, any other
 *                     value a partial selection over the vocabulary per step
 * @param speculation  draft-and-verify decoding ({@link Speculation}): the same greedy output, the same sampled
 *                     distribution, fewer decodes when the drafts are good; null (the default) for plain decoding
 */
public record GenerationRequest(int[] prompt, int candidates, int maxTokens, SamplerOptions sampler,
                                List<String> stop, long seed, Cancellation cancellation, int topLogprobs,
                                Speculation speculation) {
    /** The most {@link #topLogprobs} may be (OpenAI's limit, which clients expect). */
    public static final int MAX_TOP_LOGPROBS = 20;

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampler, "sampler");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token");
        }
        if (candidates < 1) {
            throw new IllegalArgumentException("candidates must be >= 1, was " + candidates);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        stop = List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
        if (topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("topLogprobs must be in [0, " + MAX_TOP_LOGPROBS + "], was "
                    + topLogprobs);
        }
        prompt = prompt.clone();
    }

    /** A request without top log-probabilities or speculation. */
    public GenerationRequest(int[] prompt, int candidates, int maxTokens, SamplerOptions sampler,
                             List<String> stop, long seed, Cancellation cancellation) {
        this(prompt, candidates, maxTokens, sampler, stop, seed, cancellation, 0, null);
    }

    /** A request without speculation. */
    public GenerationRequest(int[] prompt, int candidates, int maxTokens, SamplerOptions sampler,
                             List<String> stop, long seed, Cancellation cancellation, int topLogprobs) {
        this(prompt, candidates, maxTokens, sampler, stop, seed, cancellation, topLogprobs, null);
    }

    /** One greedy candidate of up to 128 tokens. */
    public static GenerationRequest of(int[] prompt) {
        return new GenerationRequest(prompt, 1, 128, SamplerOptions.greedy(), List.of(), 0, null, 0, null);
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }

    int promptLength() {
        return prompt.length;
    }

    int promptToken(int i) {
        return prompt[i];
    }

    public GenerationRequest withCandidates(int n) {
        return new GenerationRequest(prompt, n, maxTokens, sampler, stop, seed, cancellation, topLogprobs, speculation);
    }

    public GenerationRequest withMaxTokens(int n) {
        return new GenerationRequest(prompt, candidates, n, sampler, stop, seed, cancellation, topLogprobs, speculation);
    }

    public GenerationRequest withSampler(SamplerOptions s) {
        return new GenerationRequest(prompt, candidates, maxTokens, s, stop, seed, cancellation, topLogprobs, speculation);
    }

    public GenerationRequest withStop(List<String> s) {
        return new GenerationRequest(prompt, candidates, maxTokens, sampler, s, seed, cancellation, topLogprobs, speculation);
    }

    public GenerationRequest withSeed(long s) {
        return new GenerationRequest(prompt, candidates, maxTokens, sampler, stop, s, cancellation, topLogprobs, speculation);
    }

    public GenerationRequest withCancellation(Cancellation c) {
        return new GenerationRequest(prompt, candidates, maxTokens, sampler, stop, seed, c, topLogprobs, speculation);
    }

    public GenerationRequest withTopLogprobs(int n) {
        return new GenerationRequest(prompt, candidates, maxTokens, sampler, stop, seed, cancellation, n, speculation);
    }

    /** The same request decoded with draft-and-verify ({@link Speculation}); null for plain decoding. */
    public GenerationRequest withSpeculation(Speculation s) {
        return new GenerationRequest(prompt, candidates, maxTokens, sampler, stop, seed, cancellation, topLogprobs, s);
    }

    /** The seed of candidate {@code i}'s random stream. */
    public long candidateSeed(int i) {
        return seed + i;
    }
}
