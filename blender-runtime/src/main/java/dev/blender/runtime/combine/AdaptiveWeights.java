package dev.blender.runtime.combine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Online Bayesian member weights with fixed share (Herbster and Warmuth's "tracking the best expert"):
 * after each token x, every member's weight is multiplied by its probability of x and renormalised,
 * then {@code switchRate} of the total flows back to the prior. Without the share, the posterior of a
 * member that was worse for a while would never recover; with it, no member's weight falls below
 * {@code switchRate} times its prior. The linear mixture with these weights is the Bayesian predictive
 * distribution, whose loss exceeds the best member's by at most log(1/prior) plus the sharing cost;
 * log-linear mixing uses the same weights as its exponents. Not thread-safe: one per generation or scorer.
 */
final class AdaptiveWeights implements OnlineWeights {
    private final double[] prior;
    private final double share;
    private final double[] w;
    private final float[] asFloats;
    private final double[] memberLogProbs;

    AdaptiveWeights(CombineOptions options) {
        this(options.weights(), options.rate());
    }

    /** Weights starting at {@code prior} (normalised) with this fixed-share rate. */
    AdaptiveWeights(float[] prior, double share) {
        this.prior = new double[prior.length];
        for (int k = 0; k < prior.length; k++) {
            this.prior[k] = prior[k];
        }
        this.share = share;
        this.w = this.prior.clone();
        this.asFloats = new float[prior.length];
        this.memberLogProbs = new double[prior.length];
    }

    @Override
    public void reset() {
        System.arraycopy(prior, 0, w, 0, w.length);
    }

    @Override
    public float[] weigh(MemorySegment[] rows, int n, int position) {
        return current();
    }

    @Override
    public void observe(MemorySegment[] rows, int n, float[] mixed, int token) {
        double[] lp = memberLogProbs; // kept: a step allocates nothing
        for (int m = 0; m < rows.length; m++) {
            lp[m] = logProbability(rows[m], n, token);
        }
        observe(lp);
    }

    @Override
    public void observePrompt(double[] logProbs) {
        observe(logProbs);
    }

    /** The weights now, as doubles (the gate reads a prompt's posterior from them). */
    double weight(int k) {
        return w[k];
    }

    @Override
    public float[] current() {
        for (int k = 0; k < w.length; k++) {
            asFloats[k] = (float) w[k];
        }
        return asFloats;
    }

    /** Bayes' update with each member's log-probability of the token that came, then the share. */
    void observe(double[] memberLogProbs) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < w.length; k++) {
            if (w[k] > 0) {
                max = Math.max(max, Math.log(w[k]) + memberLogProbs[k]);
            }
        }
        if (max == Double.NEGATIVE_INFINITY) {
            return; // no member saw the token coming: nothing to learn from it
        }
        double sum = 0;
        for (int k = 0; k < w.length; k++) {
            w[k] = w[k] > 0 ? Math.exp(Math.log(w[k]) + memberLogProbs[k] - max) : 0;
            sum += w[k];
        }
        for (int k = 0; k < w.length; k++) {
            w[k] = (1 - share) * (w[k] / sum) + share * prior[k];
        }
    }

    /** log softmax(row)[index] over the first n entries. */
    static double logProbability(MemorySegment row, int n, int index) {
        float max = VectorCombiner.max(row, n);
        if (max == Float.NEGATIVE_INFINITY) {
            return Double.NEGATIVE_INFINITY;
        }
        return row.getAtIndex(ValueLayout.JAVA_FLOAT, index) - max - Math.log(VectorCombiner.sumExp(row, n, max));
    }

    /** Validated, normalised weights into a combiner's array. */
    static void normaliseInto(CombineOptions options, float[] weights, float[] into) {
        if (options.method() == CombineMethod.NEGATIVE_EVIDENCE) {
            throw new IllegalStateException("negative evidence has no member weights to change");
        }
        if (weights.length != into.length) {
            throw new IllegalArgumentException(weights.length + " weights for " + into.length + " members");
        }
        double sum = 0;
        for (float x : weights) {
            if (!(x >= 0) || Float.isInfinite(x)) {
                throw new IllegalArgumentException("weights must be finite and >= 0, got " + java.util.Arrays.toString(weights));
            }
            sum += x;
        }
        if (sum <= 0) {
            throw new IllegalArgumentException("weights must not all be 0");
        }
        for (int k = 0; k < into.length; k++) {
            into[k] = (float) (weights[k] / sum);
        }
    }
}
