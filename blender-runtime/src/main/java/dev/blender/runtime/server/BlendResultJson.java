package dev.blender.runtime.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.pipeline.BlendResult;

/**
 * What a blend did, as JSON: the same fields in {@code blender run --json} and in the server's
 * {@code blender} extension object, so that one reader understands both.
 */
public final class BlendResultJson {
    private BlendResultJson() {}

    /**
     * Adds {@code candidates} (model, text), {@code ranking} (text, score; best first) with its
     * {@code aggregation}, {@code fused}, and {@code routed} (the generators a route stage chose, best first;
     * only when one ran and chose) when {@code stages} is set; then {@code escalated} (CASCADE),
     * {@code failures} (model, error: members that did not answer; only when one did not), {@code notes} (kind,
     * message, value: approximations remote members made; only when there are some) and
     * {@code timings} (milliseconds per stage, {@code first_token_ms} null when no token came).
     */
    public static ObjectNode putDetails(ObjectNode into, BlendResult r, boolean stages) {
        if (stages) {
            ArrayNode candidates = into.putArray("candidates");
            for (BlendResult.Sampled s : r.candidates()) {
                candidates.addObject().put("model", s.model()).put("text", s.candidate().text().strip());
            }
            if (!r.ranked().isEmpty()) {
                ArrayNode ranking = into.putArray("ranking");
                for (BlendResult.Ranked x : r.ranked()) {
                    ObjectNode o = ranking.addObject().put("text", x.text()).put("votes", x.votes());
                    if (x.score() != null) {
                        o.put("score", x.score());
                    }
                }
                into.put("ordered_by", r.orderedBy());
            }
            if (r.fused() != null) {
                into.put("fused", r.fused().text().strip());
            } else {
                into.putNull("fused");
            }
            if (!r.routed().isEmpty()) {
                r.routed().forEach(into.putArray("routed")::add);
            }
        }
        into.put("escalated", r.escalated());
        if (!r.failures().isEmpty()) {
            ArrayNode failures = into.putArray("failures");
            r.failures().forEach(f -> failures.addObject().put("model", f.model()).put("error", f.error()));
        }
        if (!r.notes().isEmpty()) {
            ArrayNode notes = into.putArray("notes");
            r.notes().forEach(n -> notes.addObject().put("kind", n.kind()).put("message", n.message())
                    .put("value", n.value()));
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
