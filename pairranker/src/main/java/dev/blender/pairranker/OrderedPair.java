package dev.blender.pairranker;

/**
 * Candidate {@code first} shown in the first position and {@code second} in the second, by index into
 * the request's candidate list. A ranker's score for it is the logit that the first is better.
 */
public record OrderedPair(int first, int second) {
    public OrderedPair {
        if (first < 0 || second < 0) {
            throw new IllegalArgumentException("candidate indices must be >= 0, got (" + first + ", " + second + ")");
        }
        if (first == second) {
            throw new IllegalArgumentException("a candidate is not compared with itself (" + first + ")");
        }
    }

    public OrderedPair reversed() {
        return new OrderedPair(second, first);
    }
}
