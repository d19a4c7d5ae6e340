package dev.blender.runtime.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Strategy;

/**
 * What a blend did, as JSON: the same fields in {@code blender run --json} and in the server's
 * {@code blender} extension object, so that one reader understands both.
 */
public final class BlendResultJson {
    private BlendResultJson() {}

    /**
     * Adds {@code candidates} (model, text), {@code ranking} (text, score; best first) with its
     * {@code aggregation}, and {@code fused} when {@code stages} is set; then {@code escalated} (CASCADE)
     * and {@code timings} (milliseconds per stage, {@code first_token_ms} null when no token came).
     */
    public static ObjectNode putDetails(ObjectNode into, BlendResult r, boolean stages) {
        if (stages) {
            ArrayNode candidates = into.putArray("candidates");
            for (BlendResult.Sampled s : r.candidates()) {
                candidates.addObject().put("model", s.model()).put("text", s.candidate().text().strip());
            }
            if (r.ranking() != null) {
                ArrayNode ranking = into.putArray("ranking");
                double[] scores = r.ranking().scores();
                for (int i : r.ranking().order()) {
                    ranking.addObject().put("text", r.rankedTexts().get(i)).put("score", scores[i]);
                }
                into.put("aggregation", r.ranking().aggregation().name());
            }
            if (r.fused() != null) {
                into.put("fused", r.fused().text().strip());
            } else {
                into.putNull("fused");
            }
        }
        if (r.strategy() == Strategy.CASCADE) {
            into.put("escalated", r.escalated());
        }
        BlendResult.Timings t = r.timings();
        ObjectNode timings = into.putObject("timings");
        timings.put("sampling_ms", t.samplingMillis());
        timings.put("ranking_ms", t.rankingMillis());
        timings.put("fusion_ms", t.fusionMillis());
        if (t.firstTokenMillis() >= 0) {
            timings.put("first_token_ms", t.firstTokenMillis());
        } else {
            timings.putNull("first_token_ms");
        }
        timings.put("total_ms", t.totalMillis());
        return into;
    }
}
