package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.pairranker.Ranking;
import java.util.List;

/**
 * Everything a blend produced: the answer, the candidates it came from (which model wrote each), the
 * ranking with its scores, the fused answer, and what each stage took.
 *
 * @param strategy   the strategy that ran (CASCADE reports whether it escalated in {@code escalated})
 * @param answer     the final text
 * @param candidates sampled candidates; empty for SINGLE and TOKEN_COMBINE
 * @param ranking    the judge's ranking of the distinct candidate texts ({@code rankedTexts}), or null
 * @param rankedTexts the distinct candidate texts the ranking's indices refer to
 * @param fused      the fuser's output, or null when there was no fusion
 * @param escalated  CASCADE only: true when the first model was not confident enough
 * @param timings    per-stage wall times
 * @param usage      tokens each stage put through a model
 * @param finishReason why the answer ended: its end-of-generation token, a stop string, the token budget
 *                   ({@link FinishReason#LENGTH}) or a full context
 */
public record BlendResult(Strategy strategy, String answer, List<Sampled> candidates, Ranking ranking,
                          List<String> rankedTexts, Candidate fused, boolean escalated, Timings timings, Usage usage,
                          FinishReason finishReason) {

    /** A candidate and the model (file name) that wrote it. */
    public record Sampled(String model, Candidate candidate) {}

    /**
     * Milliseconds per stage; {@code firstTokenMillis} is from the request's start to the first token of
     * the final answer (the fused answer when there is one).
     */
    public record Timings(double samplingMillis, double rankingMillis, double fusionMillis, double firstTokenMillis,
                          double totalMillis) {}

    /**
     * What one stage decoded: {@code promptTokens} read (prompts, and for the judge everything it put
     * through its model) and {@code generatedTokens} sampled. Stages: {@code sampling}, {@code ranking},
     * {@code fusion}, {@code answer} (SINGLE, CASCADE's first try), {@code mixing} (TOKEN_COMBINE, every
     * member counted). Pairs the judge had already compared (the shared pair cache) cost nothing.
     */
    public record StageUsage(String stage, long promptTokens, long generatedTokens) {
        public long totalTokens() {
            return promptTokens + generatedTokens;
        }
    }

    /** Every stage's tokens, in the order the stages ran. */
    public record Usage(List<StageUsage> stages) {
        public Usage {
            stages = List.copyOf(stages);
        }

        public long promptTokens() {
            return stages.stream().mapToLong(StageUsage::promptTokens).sum();
        }

        public long generatedTokens() {
            return stages.stream().mapToLong(StageUsage::generatedTokens).sum();
        }

        public long totalTokens() {
            return promptTokens() + generatedTokens();
        }
    }

    public BlendResult {
        candidates = List.copyOf(candidates);
        rankedTexts = List.copyOf(rankedTexts);
    }
}
