package dev.blender.runtime.combine;

import java.util.Arrays;
import java.util.Objects;

/**
 * A combination: the method and its parameters. Immutable; use the factories.
 *
 * @param method  the mixing rule
 * @param weights per-member weights for LINEAR and LOG_LINEAR (normalised to sum 1); unused otherwise
 * @param lambda  strength of the positive-minus-negative term for NEGATIVE_EVIDENCE
 * @param alpha   plausibility threshold of NEGATIVE_EVIDENCE, relative to the core's top probability
 * @param adaptation LINEAR and LOG_LINEAR only: whether and how the weights learn online from the tokens
 *                   so far, starting from {@code weights} as the prior ({@link Adaptation})
 * @param rate     the adaptation's rate: the fixed-share rate of {@link Adaptation#BAYES}, in [0, 1); the
 *                 learning rate of {@link Adaptation#LEARNED}, finite and >= 0; unused when FIXED
 */
public record CombineOptions(CombineMethod method, float[] weights, float lambda, float alpha, Adaptation adaptation,
                             float rate) {

    /** How member weights change from token to token. */
    public enum Adaptation {
        /** The given weights at every step. */
        FIXED,
        /**
         * Online Bayesian weights with fixed share: each member weighted by its prior times its probability
         * of the tokens so far, with {@code rate} of the weight flowing back to the prior at every token, so a
         * member that fell behind can recover when the text changes ({@link AdaptiveWeights}).
         */
        BAYES,
        /**
         * A gate learnt online: at each step the weights are a softmax over members of a linear function of
         * what each member's distribution looks like then (its entropy, its top probability, its recent
         * loss, the position), trained by gradient descent on the mixture's own log loss with learning rate
         * {@code rate}; it starts at the prior and only moves with evidence ({@link LearnedGate}).
         */
        LEARNED
    }

    /** The rate a {@link Adaptation#BAYES} combination uses unless told otherwise. */
    public static final float DEFAULT_SWITCH_RATE = 0.01f;

    /** The rate a {@link Adaptation#LEARNED} combination uses unless told otherwise. */
    public static final float DEFAULT_LEARNING_RATE = 0.1f;

    /** Fixed weights. */
    public CombineOptions(CombineMethod method, float[] weights, float lambda, float alpha) {
        this(method, weights, lambda, alpha, Adaptation.FIXED, 0);
    }

    public CombineOptions {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(adaptation, "adaptation");
        weights = weights.clone();
        if (adaptation == Adaptation.BAYES && !(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("the switch rate must be in [0, 1), was " + rate);
        }
        if (adaptation == Adaptation.LEARNED && !(rate >= 0 && rate < Float.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("the learning rate must be finite and >= 0, was " + rate);
        }
        if (adaptation != Adaptation.FIXED && method == CombineMethod.NEGATIVE_EVIDENCE) {
            throw new IllegalArgumentException("adaptive weights are for linear and log-linear mixing, not negative"
                    + " evidence, whose members play fixed roles");
        }
        if (method == CombineMethod.NEGATIVE_EVIDENCE) {
            if (!(lambda >= 0) || Float.isInfinite(lambda)) {
                throw new IllegalArgumentException("lambda must be a finite value >= 0, was " + lambda);
            }
            if (!(alpha > 0 && alpha <= 1)) {
                throw new IllegalArgumentException("alpha must be in (0, 1], was " + alpha);
            }
            if (weights.length < 2 || weights.length > 3) {
                throw new IllegalArgumentException("negative evidence takes 2 members (core, negative) or 3 (core,"
                        + " positive, negative), got " + weights.length);
            }
        } else {
            if (weights.length < 1) {
                throw new IllegalArgumentException("at least one member weight is needed");
            }
            double sum = 0;
            for (float w : weights) {
                if (!(w >= 0) || Float.isInfinite(w)) {
                    throw new IllegalArgumentException("weights must be finite and >= 0, got " + Arrays.toString(weights));
                }
                sum += w;
            }
            if (sum <= 0) {
                throw new IllegalArgumentException("weights must not all be 0, got " + Arrays.toString(weights));
            }
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (float) (weights[i] / sum);
            }
        }
    }

    /** Mixture of probabilities with the given weights (normalised). */
    public static CombineOptions linear(float... weights) {
        return new CombineOptions(CombineMethod.LINEAR, weights, 0, 1);
    }

    /** Product of experts with the given weights (normalised). */
    public static CombineOptions logLinear(float... weights) {
        return new CombineOptions(CombineMethod.LOG_LINEAR, weights, 0, 1);
    }

    /** Equal weights for {@code members} models. */
    public static CombineOptions equal(CombineMethod method, int members) {
        float[] w = new float[members];
        Arrays.fill(w, 1f);
        return new CombineOptions(method, w, 0, 1);
    }

    /**
     * Negative evidence over {@code members} (2: core, negative; 3: core, positive, negative) with
     * strength {@code lambda} and plausibility threshold {@code alpha} (0.1 is the usual choice).
     */
    public static CombineOptions negativeEvidence(int members, float lambda, float alpha) {
        return new CombineOptions(CombineMethod.NEGATIVE_EVIDENCE, new float[members], lambda, alpha);
    }

    /** Number of models this combination takes. */
    public int members() {
        return weights.length;
    }

    @Override
    public float[] weights() {
        return weights.clone();
    }

    /** Same method and parameters, new weights (for per-request weights such as PackLLM's). */
    public CombineOptions withWeights(float... w) {
        return new CombineOptions(method, w, lambda, alpha, adaptation, rate);
    }

    /** The same combination with these weights as the prior of online Bayesian weights (fixed share). */
    public CombineOptions adaptive(float switchRate) {
        return new CombineOptions(method, weights, lambda, alpha, Adaptation.BAYES, switchRate);
    }

    /** The same combination with these weights as the prior of a gate learnt online at this learning rate. */
    public CombineOptions learned(float learningRate) {
        return new CombineOptions(method, weights, lambda, alpha, Adaptation.LEARNED, learningRate);
    }

    /** The same combination with this adaptation at its default rate (none for FIXED). */
    public CombineOptions adapting(Adaptation a) {
        return adapting(a, null);
    }

    /** The same combination with this adaptation at this rate (null: the adaptation's default). */
    public CombineOptions adapting(Adaptation a, Float rate) {
        return switch (a) {
            case FIXED -> new CombineOptions(method, weights, lambda, alpha);
            case BAYES -> adaptive(rate != null ? rate : DEFAULT_SWITCH_RATE);
            case LEARNED -> learned(rate != null ? rate : DEFAULT_LEARNING_RATE);
        };
    }

    /** True when the weights learn online (and so read every member's log-probabilities of the text). */
    public boolean adaptive() {
        return adaptation != Adaptation.FIXED;
    }

    /**
     * The weights of the log-space sum every non-linear method reduces to:
     * log-linear uses its weights; negative evidence is {@code (1, lambda, -lambda)} or, with the core as
     * its own positive, {@code (1 + lambda, -lambda)}.
     */
    float[] logSpaceWeights() {
        return switch (method) {
            case LINEAR, LOG_LINEAR -> weights.clone();
            case NEGATIVE_EVIDENCE -> weights.length == 3
                    ? new float[] {1f, lambda, -lambda}
                    : new float[] {1f + lambda, -lambda};
        };
    }

    @Override
    public String toString() {
        return method == CombineMethod.NEGATIVE_EVIDENCE
                ? "negative-evidence(members=" + weights.length + ", lambda=" + lambda + ", alpha=" + alpha + ")"
                : dev.blender.runtime.Names.id(method) + Arrays.toString(weights)
                        + switch (adaptation) {
                            case FIXED -> "";
                            case BAYES -> "(adaptive, switch rate " + rate + ")";
                            case LEARNED -> "(learned gate, learning rate " + rate + ")";
                        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CombineOptions c && c.method == method && Arrays.equals(c.weights, weights)
                && c.lambda == lambda && c.alpha == alpha && c.adaptation == adaptation && c.rate == rate;
    }

    @Override
    public int hashCode() {
        return Objects.hash(method, Arrays.hashCode(weights), lambda, alpha, adaptation, rate);
    }
}
