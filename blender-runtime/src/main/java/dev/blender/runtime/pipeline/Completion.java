package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.SpeculationStats;
import dev.blender.nativebridge.generation.TopLogprobs;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A text one model wrote in a blend: a candidate ({@link BlendResult.Sampled}) or the fused answer
 * ({@link BlendResult#fused()}).
 *
 * <p>Immutable, so thread-safe.
 *
 * @param text             the text exactly as the model wrote it (a SentencePiece model's first piece usually
 *                         starts with a space), stop string excluded
 * @param tokenCount       tokens generated (the end-of-generation token excluded)
 * @param logProbs         natural-log probability of each token under the model's raw distribution (temperature
 *                         1, no filtering), so texts compare across sampler settings; empty where the model
 *                         gave none (a remote member)
 * @param finishReason     why it ended
 * @param promptMillis     time spent reading the prompt (the same for every candidate of one sampling)
 * @param generationMillis time from the end of the prompt to its last token
 * @param topLogprobs      where the request asked for them ({@link BlendRequest.Builder#topLogprobs}), one entry
 *                         per generated token, then one for the end-of-generation token when it ended by itself;
 *                         else empty
 * @param speculation      what draft-and-verify decoding did for it; zero counts without it
 */
public record Completion(String text, int tokenCount, float[] logProbs, FinishReason finishReason, double promptMillis,
                         double generationMillis, List<TokenLogprobs> topLogprobs, Speculation speculation) {

    public Completion {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(finishReason, "finishReason");
        logProbs = logProbs.clone();
        topLogprobs = List.copyOf(topLogprobs);
        Objects.requireNonNull(speculation, "speculation");
    }

    /** Why a text ended. */
    public enum FinishReason {
        /** The model produced an end-of-generation token (EOS, EOT). */
        END_OF_GENERATION,
        /** It reached the token budget. */
        LENGTH,
        /** Its text reached one of the stop strings (removed from the text). */
        STOP,
        /** The context had no room left for it. */
        CONTEXT_FULL,
        /** The request was cancelled. */
        CANCELLED
    }

    /**
     * One generation step's log-probabilities: the token chosen and the most likely tokens of the model's raw
     * distribution (temperature 1, before filtering), best first. The chosen token need not be among them.
     */
    public record TokenLogprobs(Alternative chosen, List<Alternative> top) {
        public TokenLogprobs {
            Objects.requireNonNull(chosen, "chosen");
            top = List.copyOf(top);
        }
    }

    /**
     * One token with its log-probability.
     *
     * @param text    how servers write it: a control or end-of-generation token as its own text ({@code </s>}),
     *                any other as its piece decoded as UTF-8 (a piece that is part of a character gets
     *                replacement characters: read {@code bytes})
     * @param bytes   what it adds to the text: its piece, or for a control token the UTF-8 of {@code text}
     * @param logprob natural-log probability under the model's raw distribution
     */
    public record Alternative(String text, byte[] bytes, float logprob) {
        public Alternative {
            Objects.requireNonNull(text, "text");
            bytes = bytes.clone();
        }

        @Override
        public byte[] bytes() {
            return bytes.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Alternative a && text.equals(a.text) && Arrays.equals(bytes, a.bytes)
                    && Float.compare(logprob, a.logprob) == 0;
        }

        @Override
        public int hashCode() {
            return Objects.hash(text, Arrays.hashCode(bytes), logprob);
        }

        @Override
        public String toString() {
            return "Alternative[text=" + text + ", logprob=" + logprob + "]";
        }
    }

    /**
     * What speculative decoding did ({@link #speculation()}, {@link BlendResult.StageUsage#speculation()}); all
     * zero without it.
     *
     * @param drafted      guessed tokens put through the model to be checked
     * @param accepted     of those, the tokens kept (each one read without a decode of its own)
     * @param decodes      decodes the tokens took after the prompt
     * @param decodesSaved decodes plain decoding would have taken for the same tokens, minus {@link #decodes}
     */
    public record Speculation(int drafted, int accepted, int decodes, int decodesSaved) {
        public static final Speculation NONE = new Speculation(0, 0, 0, 0);

        /** The sum of two, for a stage that generated several times. */
        public Speculation plus(Speculation o) {
            return new Speculation(drafted + o.drafted, accepted + o.accepted, decodes + o.decodes,
                    decodesSaved + o.decodesSaved);
        }

        /** Share of the guessed tokens kept (0 when none was guessed). */
        public double acceptanceRate() {
            return drafted == 0 ? 0 : (double) accepted / drafted;
        }

        Speculation plus(SpeculationStats o) {
            return plus(of(o));
        }

        static Speculation of(SpeculationStats s) {
            return new Speculation(s.drafted(), s.accepted(), s.decodes(), s.decodesSaved());
        }
    }

    @Override
    public float[] logProbs() {
        return logProbs.clone();
    }

    /** Sum of the token log-probabilities. */
    public double totalLogProb() {
        return Candidate.totalLogProb(logProbs);
    }

    /** Mean token log-probability (0 where there are none): a length-fair confidence. */
    public double meanLogProb() {
        return Candidate.meanLogProb(logProbs);
    }

    /** Generated tokens per second of generation time. */
    public double tokensPerSecond() {
        return generationMillis <= 0 ? 0 : tokenCount * 1000.0 / generationMillis;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Completion c && text.equals(c.text) && tokenCount == c.tokenCount
                && Arrays.equals(logProbs, c.logProbs) && finishReason == c.finishReason
                && Double.compare(promptMillis, c.promptMillis) == 0
                && Double.compare(generationMillis, c.generationMillis) == 0 && topLogprobs.equals(c.topLogprobs)
                && speculation.equals(c.speculation);
    }

    @Override
    public int hashCode() {
        return Objects.hash(text, tokenCount, Arrays.hashCode(logProbs), finishReason, promptMillis, generationMillis,
                topLogprobs, speculation);
    }

    @Override
    public String toString() {
        return "Completion[text=" + text + ", tokenCount=" + tokenCount + ", finishReason=" + finishReason + "]";
    }

    /** A generated candidate in the user's terms: no token ids. */
    static Completion of(Candidate c) {
        return c == null ? null : new Completion(c.text(), c.tokenCount(), c.logProbs(), reason(c.finishReason()),
                c.promptMillis(), c.generationMillis(), c.topLogprobs().stream().map(Completion::step).toList(),
                Speculation.of(c.speculation()));
    }

    static FinishReason reason(dev.blender.nativebridge.generation.FinishReason r) {
        return r == null ? null : FinishReason.valueOf(r.name());
    }

    private static TokenLogprobs step(TopLogprobs t) {
        return new TokenLogprobs(alternative(t.chosen()), t.top().stream().map(Completion::alternative).toList());
    }

    private static Alternative alternative(TopLogprobs.Alternative a) {
        return new Alternative(a.text(), a.bytes(), a.logprob());
    }
}
