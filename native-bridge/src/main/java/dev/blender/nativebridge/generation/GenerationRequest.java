package dev.blender.nativebridge.generation;

import java.util.List;
import java.util.Objects;

/**
 * What to generate: N candidates continuing one prompt. Immutable; build with
 * {@code GenerationRequest.of(tokens).withCandidates(4).withMaxTokens(64)}.
 *
 * @param prompt       prompt tokens (BOS included when the model wants it: {@code vocab.tokenize(text)})
 * @param candidates   how many continuations to sample (they share the prompt's KV cells)
 * @param decode       most tokens, sampler, stop strings, seed and cancellation, the same for every candidate;
 *                     candidate i samples with the random stream of seed + i, so a single-candidate request with
 *                     seed + i reproduces candidate i
 * @param topLogprobs  how many of the most likely tokens each step reports ({@link Candidate#topLogprobs()}),
 *                     0 to 20 as OpenAI's API allows; 0 (the default) reports none and costs nothing, any other
 *                     value a partial selection over the vocabulary per step
 * @param speculation  draft-and-verify decoding ({@link Speculation}): the same greedy output, the same sampled
 *                     distribution, fewer decodes when the drafts are good; null (the default) for plain decoding
 */
public record GenerationRequest(int[] prompt, int candidates, DecodeOptions decode, int topLogprobs,
                                Speculation speculation) {
    /** The most {@link #topLogprobs} may be (OpenAI's limit, which clients expect). */
    public static final int MAX_TOP_LOGPROBS = 20;

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(decode, "decode");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token");
        }
        if (candidates < 1) {
            throw new IllegalArgumentException("candidates must be >= 1, was " + candidates);
        }
        if (topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("topLogprobs must be in [0, " + MAX_TOP_LOGPROBS + "], was "
                    + topLogprobs);
        }
        prompt = prompt.clone();
    }

    /** A request with its decoding settings spelt out, without top log-probabilities or speculation. */
    public GenerationRequest(int[] prompt, int candidates, int maxTokens, SamplerOptions sampler,
                             List<String> stop, long seed, Cancellation cancellation) {
        this(prompt, candidates, new DecodeOptions(maxTokens, sampler, stop, seed, cancellation), 0, null);
    }

    /** One greedy candidate of up to 128 tokens. */
    public static GenerationRequest of(int[] prompt) {
        return new GenerationRequest(prompt, 1, DecodeOptions.greedy(128), 0, null);
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }

    int promptLength() {
        return prompt.length;
    }

    public int maxTokens() {
        return decode.maxTokens();
    }

    public SamplerOptions sampler() {
        return decode.sampler();
    }

    public List<String> stop() {
        return decode.stop();
    }

    public long seed() {
        return decode.seed();
    }

    public Cancellation cancellation() {
        return decode.cancellation();
    }

    public GenerationRequest withCandidates(int n) {
        return new GenerationRequest(prompt, n, decode, topLogprobs, speculation);
    }

    public GenerationRequest withDecode(DecodeOptions d) {
        return new GenerationRequest(prompt, candidates, d, topLogprobs, speculation);
    }

    public GenerationRequest withMaxTokens(int n) {
        return withDecode(decode.withMaxTokens(n));
    }

    public GenerationRequest withSampler(SamplerOptions s) {
        return withDecode(decode.withSampler(s));
    }

    public GenerationRequest withStop(List<String> s) {
        return withDecode(decode.withStop(s));
    }

    public GenerationRequest withSeed(long s) {
        return withDecode(decode.withSeed(s));
    }

    public GenerationRequest withCancellation(Cancellation c) {
        return withDecode(decode.withCancellation(c));
    }

    public GenerationRequest withTopLogprobs(int n) {
        return new GenerationRequest(prompt, candidates, decode, n, speculation);
    }

    /** The same request decoded with draft-and-verify ({@link Speculation}); null for plain decoding. */
    public GenerationRequest withSpeculation(Speculation s) {
        return new GenerationRequest(prompt, candidates, decode, topLogprobs, s);
    }

    /** The seed of candidate {@code i}'s random stream. */
    public long candidateSeed(int i) {
        return decode.seed() + i;
    }
}
