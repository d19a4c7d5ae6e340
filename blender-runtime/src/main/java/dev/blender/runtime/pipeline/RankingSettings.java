package dev.blender.runtime.pipeline;

import dev.blender.pairranker.Aggregation;

/**
 * How a {@link Blender} ranks candidates and stops a cascade. Part of a {@link BlenderConfig}, whose builder
 * checks each value.
 *
 * @param aggregation how pairwise verdicts become a ranking
 * @param topK candidates fused
 * @param cascadeConfidence the confidence threshold of a cascade, in [0, 1]
 * @param pairCacheSize pairwise comparisons kept for reuse across requests
 */
public record RankingSettings(Aggregation aggregation, int topK, double cascadeConfidence, long pairCacheSize) {}
