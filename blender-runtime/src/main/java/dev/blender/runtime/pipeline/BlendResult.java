package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.generation.Candidate;
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
 */
public record BlendResult(Strategy strategy, String answer, List<Sampled> candidates, Ranking ranking,
                          List<String> rankedTexts, Candidate fused, boolean escalated, Timings timings) {

    /** A candidate and the model (file name) that wrote it. */
    public record Sampled(String model, Candidate candidate) {}

    /**
     * Milliseconds per stage; {@code firstTokenMillis} is from the request's start to the first token of
     * the final answer (the fused answer when there is one).
     */
    public record Timings(double samplingMillis, double rankingMillis, double fusionMillis, double firstTokenMillis,
                          double totalMillis) {}

    public BlendResult {
        candidates = List.copyOf(candidates);
        rankedTexts = List.copyOf(rankedTexts);
    }
}
