package dev.blender.pairranker;

import java.util.ArrayList;
import java.util.List;

/**
 * A ranker that scores each candidate (possibly in view of the others) instead of pairs: a reranker
 * model's relevance, or consensus among candidates. {@link #asPairRanker()} compares two candidates
 * as {@code s_A - s_B}, so pointwise scores plug into the same aggregations.
 */
public interface CandidateScorer {
    /** A stable name of the scorer and its settings. */
    String id();

    /** One score per candidate, higher is better. */
    double[] score(String instruction, List<String> candidates);

    /** This scorer as a pairwise ranker: the logit of a pair is the difference of the two scores. */
    default PairRanker asPairRanker() {
        CandidateScorer self = this;
        return new PairRanker() {
            @Override
            public String id() {
                return self.id();
            }

            @Override
            public double[] compare(String instruction, List<String> candidates, List<OrderedPair> pairs) {
                double[] s = self.score(instruction, new ArrayList<>(candidates));
                double[] out = new double[pairs.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = s[pairs.get(i).first()] - s[pairs.get(i).second()];
                }
                return out;
            }
        };
    }
}
