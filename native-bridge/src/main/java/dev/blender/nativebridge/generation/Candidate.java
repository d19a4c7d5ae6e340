package dev.blender.nativebridge.generation;

import java.util.List;
import java.util.Objects;

/**
 * One generated continuation.
 *
 * @param index          which candidate of the request (0-based)
 * @param text           the continuation's text, exactly as the model wrote it (a SentencePiece model's
 *                       first piece usually starts with a space), stop string excluded
 * @param tokens         generated token ids (end-of-generation token excluded)
 * @param logProbs       natural-log probability of each token under the model's raw distribution
 *                       (temperature 1, no filtering), so candidates compare across sampler settings
 * @param finishReason   why it stopped
 * @param promptMillis   time spent decoding the shared prompt (the same for every candidate of a request)
 * @param generationMillis time from the end of the prompt to this candidate's last token
 * @param topLogprobs    where the request asked for them ({@link GenerationRequest#withTopLogprobs(int)}), one
 *                       entry per generated token, then one for the end-of-generation token when the candidate
 *                       ended by itself; else empty
 * @param speculation    what draft-and-verify decoding did for it ({@link GenerationRequest#withSpeculation}); zero
 *                       counts without it
 */
public record Candidate(int index, String text, int[] tokens, float[] logProbs, FinishReason finishReason,
                        double promptMillis, double generationMillis, List<TopLogprobs> topLogprobs,
                        SpeculationStats speculation) {

    public Candidate {
        tokens = tokens.clone();
        logProbs = logProbs.clone();
        topLogprobs = List.copyOf(topLogprobs);
        Objects.requireNonNull(speculation, "speculation");
    }

    /** A candidate decoded without speculation. */
    public Candidate(int index, String text, int[] tokens, float[] logProbs, FinishReason finishReason,
                     double promptMillis, double generationMillis, List<TopLogprobs> topLogprobs) {
        this(index, text, tokens, logProbs, finishReason, promptMillis, generationMillis, topLogprobs,
                SpeculationStats.NONE);
    }

    /** A candidate without top log-probabilities. */
    public Candidate(int index, String text, int[] tokens, float[] logProbs, FinishReason finishReason,
                     double promptMillis, double generationMillis) {
        this(index, text, tokens, logProbs, finishReason, promptMillis, generationMillis, List.of());
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    @Override
    public float[] logProbs() {
        return logProbs.clone();
    }

    /** The same candidate with another text (its answer, the thinking part taken out). */
    public Candidate withText(String other) {
        return new Candidate(index, other, tokens, logProbs, finishReason, promptMillis, generationMillis, topLogprobs,
                speculation);
    }

    public int tokenCount() {
        return tokens.length;
    }

    /** Sum of the token log-probabilities. */
    public double totalLogProb() {
        return totalLogProb(logProbs);
    }

    /** Mean token log-probability (0 for an empty candidate): a length-fair confidence. */
    public double meanLogProb() {
        return meanLogProb(logProbs);
    }

    /** Sum of token log-probabilities, in token order: the one rule for every text that carries them. */
    public static double totalLogProb(float[] logProbs) {
        double s = 0;
        for (float f : logProbs) {
            s += f;
        }
        return s;
    }

    /** Mean of token log-probabilities (0 where there are none). */
    public static double meanLogProb(float[] logProbs) {
        return logProbs.length == 0 ? 0 : totalLogProb(logProbs) / logProbs.length;
    }

    /** Generated tokens per second of generation time. */
    public double tokensPerSecond() {
        return generationMillis <= 0 ? 0 : tokens.length * 1000.0 / generationMillis;
    }
}
