package dev.blender.runtime.combine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Member weights from a gate learnt online ({@link CombineOptions.Adaptation#LEARNED}). At each step member
 * k's weight is {@code softmax_k(theta_k . f_k)} over features of that step, all in [0, 2]:
 * <ol>
 *   <li>1 (the bias, which starts at log prior_k, so that a gate without evidence is the prior);</li>
 *   <li>the entropy of member k's distribution, over log n;</li>
 *   <li>minus the log of its top probability, over log n;</li>
 *   <li>log(position) / 5, where position counts the tokens before the one predicted;</li>
 *   <li>1 when only the BOS precedes it (a text's first token, where short-context models differ most);</li>
 *   <li>member k's recent loss: a moving average (decay 0.9) of minus its log-probability of each token
 *       that came, over log n.</li>
 * </ol>
 * After each token the parameters take one gradient step on the mixture's log loss. For a linear mixture
 * the gradient of gate logit k is {@code w_k - r_k}, r_k being member k's share of the probability the
 * mixture gave the token (its posterior responsibility); for a log-linear one, whose exponents are the
 * weights, it is {@code w_k (d_k - sum_j w_j d_j)} with {@code d_k = E_p[log p_k] - log p_k(token)} over
 * log n. Both are bounded, the loss of the log-linear pool is convex in its exponents, and parameters and
 * gate logits are clipped, so weights stay finite, positive and normalised whatever the inputs. The
 * features were chosen, and the default rate, on a tuning part of TinyStories the reported figures do not
 * use (docs/mixing.md). Not thread-safe: one per generation or scorer.
 */
final class LearnedGate implements OnlineWeights {
    static final int FEATURES = 6;
    /** A member's log-probability of a token is floored here (nats): one it ruled out costs this much. */
    private static final double MAX_LOSS = 50;
    private static final double DECAY = 0.9;
    /** Bound of every parameter. */
    private static final double LIMIT = 20;
    /** Gate logits are kept within this of the largest, so that no weight reaches 0 (about 1e-13 at least). */
    private static final double SPREAD = 30;

    private final boolean linear;
    private final double rate;
    private final float[] prior;
    private final int k;
    private final double[][] theta;
    private final double[][] f;
    private final double[] gate;
    private final double[] logZ;
    private final double[] recent;
    private final double[] stats = new double[2];
    private final float[] asFloats;
    /** The combined distribution of a log-linear step, exponentiated once for every member's expectation. */
    private float[] probabilities = new float[0];
    // scratch of observe, kept so that a step allocates nothing
    private final double[] memberLogProbs;
    private final double[] gradient;
    private final double[] surprise;

    LearnedGate(CombineOptions options) {
        if (options.method() == CombineMethod.NEGATIVE_EVIDENCE) {
            throw new IllegalArgumentException("a learned gate weighs linear or log-linear mixing");
        }
        this.linear = options.method() == CombineMethod.LINEAR;
        this.rate = options.rate();
        this.prior = options.weights();
        this.k = prior.length;
        this.theta = new double[k][FEATURES];
        this.f = new double[k][FEATURES];
        this.gate = new double[k];
        this.logZ = new double[k];
        this.recent = new double[k];
        this.asFloats = new float[k];
        this.memberLogProbs = new double[k];
        this.gradient = new double[k];
        this.surprise = new double[k];
        reset();
    }

    @Override
    public void reset() {
        for (int m = 0; m < k; m++) {
            java.util.Arrays.fill(theta[m], 0);
            theta[m][0] = biasOf(prior[m]);
            recent[m] = 0;
            gate[m] = prior[m];
            asFloats[m] = prior[m];
        }
    }

    private static double biasOf(double weight) {
        return Math.max(-LIMIT, Math.log(weight));
    }

    @Override
    public float[] weigh(MemorySegment[] rows, int n, int position) {
        double logN = Math.log(Math.max(2, n));
        double pos = Math.min(2, Math.log(Math.max(1, position)) / 5);
        double first = position == 1 ? 1 : 0;
        double best = Double.NEGATIVE_INFINITY;
        for (int m = 0; m < k; m++) {
            float max = VectorCombiner.max(rows[m], n);
            double entropy;
            double logTop;
            if (max == Float.NEGATIVE_INFINITY) {
                // a member with nothing to say: as unsure as can be
                logZ[m] = Double.NEGATIVE_INFINITY;
                entropy = logN;
                logTop = -logN;
            } else {
                VectorCombiner.expStats(rows[m], n, max, stats);
                double logS = Math.log(stats[0]);
                logZ[m] = max + logS;
                entropy = logS - stats[1] / stats[0];
                logTop = -logS;
            }
            double[] x = f[m];
            x[0] = 1;
            x[1] = clip(entropy / logN, 0, 2);
            x[2] = clip(-logTop / logN, 0, 2);
            x[3] = pos;
            x[4] = first;
            x[5] = recent[m];
            double z = 0;
            for (int j = 0; j < FEATURES; j++) {
                z += theta[m][j] * x[j];
            }
            gate[m] = z;
            best = Math.max(best, z);
        }
        double sum = 0;
        for (int m = 0; m < k; m++) {
            gate[m] = Math.exp(Math.max(gate[m] - best, -SPREAD));
            sum += gate[m];
        }
        for (int m = 0; m < k; m++) {
            gate[m] /= sum;
            asFloats[m] = (float) gate[m];
        }
        return asFloats;
    }

    @Override
    public void observe(MemorySegment[] rows, int n, float[] mixed, int token) {
        double logN = Math.log(Math.max(2, n));
        double[] lp = memberLogProbs;
        for (int m = 0; m < k; m++) {
            double x = rows[m].getAtIndex(ValueLayout.JAVA_FLOAT, token);
            lp[m] = logZ[m] == Double.NEGATIVE_INFINITY ? -MAX_LOSS : Math.max(-MAX_LOSS, x - logZ[m]);
        }
        double[] grad = gradient;
        if (linear) {
            double best = Double.NEGATIVE_INFINITY;
            for (int m = 0; m < k; m++) {
                best = Math.max(best, Math.log(gate[m]) + lp[m]);
            }
            double total = 0;
            for (int m = 0; m < k; m++) {
                total += Math.exp(Math.log(gate[m]) + lp[m] - best);
            }
            for (int m = 0; m < k; m++) {
                grad[m] = gate[m] - Math.exp(Math.log(gate[m]) + lp[m] - best) / total;
            }
        } else {
            if (probabilities.length < n) {
                probabilities = new float[n];
            }
            VectorCombiner.exp(mixed, n, probabilities);
            double[] d = surprise;
            double mean = 0;
            for (int m = 0; m < k; m++) {
                double expected = logZ[m] == Double.NEGATIVE_INFINITY ? -MAX_LOSS
                        : VectorCombiner.expectation(probabilities, rows[m], n, (float) (logZ[m] - MAX_LOSS)) - logZ[m];
                d[m] = (expected - lp[m]) / logN;
                mean += gate[m] * d[m];
            }
            for (int m = 0; m < k; m++) {
                grad[m] = gate[m] * (d[m] - mean);
            }
        }
        for (int m = 0; m < k; m++) {
            double g = clip(grad[m], -1, 1);
            for (int j = 0; j < FEATURES; j++) {
                theta[m][j] = clip(theta[m][j] - rate * g * f[m][j], -LIMIT, LIMIT);
            }
            recent[m] = DECAY * recent[m] + (1 - DECAY) * (-lp[m] / logN);
        }
    }

    /**
     * A prompt's evidence moves the biases as one step of Bayesian weights with the default fixed share
     * would: each member's weight times its probability of the prompt, a little of the prior kept.
     */
    @Override
    public void observePrompt(double[] logProbs) {
        AdaptiveWeights bayes = new AdaptiveWeights(prior, CombineOptions.DEFAULT_SWITCH_RATE);
        bayes.observe(logProbs);
        for (int m = 0; m < k; m++) {
            theta[m][0] = biasOf(bayes.weight(m));
        }
    }

    @Override
    public float[] current() {
        return asFloats;
    }

    private static double clip(double v, double lo, double hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
