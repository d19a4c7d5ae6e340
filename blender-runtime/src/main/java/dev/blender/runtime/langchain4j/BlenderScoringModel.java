package dev.blender.runtime.langchain4j;

import dev.blender.pairranker.Rankings;
import dev.blender.runtime.pipeline.BlendService;
import dev.blender.runtime.pipeline.Blender;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import dev.langchain4j.model.scoring.ScoringModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The model a {@link Blender} ranks candidates with, its judge or its reranker, as a LangChain4j
 * {@link ScoringModel}: for a {@code ReRankingContentAggregator} that orders retrieved segments by how
 * well they answer the query. Higher is better in both cases, but the scales differ:
 *
 * <ul>
 *   <li><b>Judge</b> (pairwise): a segment's score is relative to the other segments of the same call:
 *       the probability, in (0, 1), that the judge prefers it to another of them, from its mean log-odds
 *       over the others with both orders of each pair averaged (so the judge's position bias cancels),
 *       that is {@code sigmoid(maxLogits / 2)} of {@link Rankings} MaxLogits. It orders segments as a
 *       blend's ranking does. 0.5 is an even match with the rest; a {@code minScore} of 0.5 keeps what
 *       beats the average. A segment alone scores 0.5 (nothing to compare it with), and equal texts
 *       are judged once. n distinct segments cost n(n-1) judge prompts.</li>
 *   <li><b>Reranker</b> (pointwise): the model's relevance logit for each segment, independent of the
 *       others.</li>
 * </ul>
 *
 * <p>Token usage: input tokens are what went through the model (judge prompts and rationales, or
 * reranker sequences). Models and memory are the blender's (its pool); the blender stays the caller's to
 * close. The scoring is {@link BlendService#score}'s. Thread-safe: each call leases its own context.
 */
public final class BlenderScoringModel implements ScoringModel {
    private final BlendService blender;

    private BlenderScoringModel(BlendService blender) {
        this.blender = blender;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Response<List<Double>> scoreAll(List<TextSegment> segments, String query) {
        Objects.requireNonNull(segments, "segments");
        Objects.requireNonNull(query, "query");
        List<String> texts = new ArrayList<>(segments.size());
        for (TextSegment s : segments) {
            texts.add(Objects.requireNonNull(s, "segment").text());
        }
        BlendService.Scores scores = blender.score(query, texts);
        return Response.from(scores.scores(), new TokenUsage(ChatBlend.count(scores.tokens()), 0));
    }

    public static final class Builder {
        private BlendService blender;

        private Builder() {}

        /** The blender whose judge or reranker scores (required). */
        public Builder blender(BlendService blender) {
            this.blender = blender;
            return this;
        }

        /** @throws IllegalArgumentException no blender, or one with neither a judge nor a reranker */
        public BlenderScoringModel build() {
            if (blender == null) {
                throw new IllegalArgumentException("blender is required");
            }
            if (blender.config().judge() == null && blender.config().reranker() == null) {
                throw new IllegalArgumentException("the blender has no judge or reranker to score with; configure"
                        + " one with Blender.builder().judge(...) or .reranker(...)");
            }
            return new BlenderScoringModel(blender);
        }
    }
}
