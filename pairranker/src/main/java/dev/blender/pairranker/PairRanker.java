package dev.blender.pairranker;

import java.util.List;

/**
 * A cross-encoder that reads an instruction and two candidates together and says which is better.
 * {@link #compare} returns, for each ordered pair, the logit that the candidate in the first position
 * is better than the one in the second ({@code s_A - s_B} in LLM-Blender's terms). One order alone
 * carries the ranker's position bias; the aggregations ({@link Aggregation}) score both orders and
 * average, as LLM-Blender does.
 *
 * <p>Rankers take all the pairs of one request at once so that an implementation can batch them.
 * Implementations say whether they are thread-safe.
 */
public interface PairRanker {
    /** A stable name of the ranker and its settings: part of every cache key. */
    String id();

    /**
     * Scores ordered pairs of {@code candidates} for {@code instruction}; the result has one logit
     * per pair, in order.
     */
    double[] compare(String instruction, List<String> candidates, List<OrderedPair> pairs);

    /** Tokens this ranker has put through a model so far: its cost (0 for a ranker that decodes none). */
    default long tokensDecoded() {
        return 0;
    }

    /** Of {@link #tokensDecoded()}, the tokens the ranker wrote itself (a judge's rationales). */
    default long tokensGenerated() {
        return 0;
    }
}
