package dev.blender.nativebridge.generation;

import dev.blender.nativebridge.math.VectorMath;
import java.util.SplittableRandom;

/**
 * The random draw of {@link Sampler#of}: top-k, top-p and min-p on the untempered distribution, then temperature
 * and a seeded draw. The three truncations share one sorted candidate buffer (top-p reads the order top-k left,
 * min-p filters it in place), which is why they are one stage rather than three: apart, each would sort or copy
 * the vocabulary again. Scratch buffers are allocated on first use and reused, so a decode loop allocates nothing.
 */
final class TruncatedDraw implements Sampler {
    private final SamplerOptions options;
    private final SplittableRandom random;
    private int[] ids = new int[0];
    private float[] values = new float[0];
    private float candidateMax;
    private double candidateSum;

    TruncatedDraw(SamplerOptions options, long seed) {
        if (options.isGreedy()) {
            throw new IllegalArgumentException("a draw needs a temperature > 0 (greedy picks the argmax)");
        }
        this.options = options;
        this.random = new SplittableRandom(seed);
    }

    /**
     * Samples a token id when {@code draft} was guessed for this position (speculative decoding; -1: no guess):
     * the guess is kept with the probability p(draft) of the distribution {@link #sample(float[], int, int[], int)}
     * draws from, and otherwise a token is drawn from p with the guess's mass taken out and the rest renormalised.
     * Every token then comes out with probability p: p(draft) directly, any other t with (1 - p(draft)) x p(t) /
     * (1 - p(draft)). Greedy sampling is the argmax, guess or not. The random stream is used differently from the
     * unguessed draw, so a seed gives another (equally likely) sample than without the guess.
     */
    @Override
    public int sample(float[] scores, int n, int[] history, int historyLength, int draft) {
        Sampler.checkRange(scores, n);
        int count = candidates(scores, n);
        // softmax over the candidates, untempered: top-p and min-p are defined on the model's distribution
        float max = candidateMax;
        double sum = candidateSum;
        if (options.topP() < 1f) {
            // candidates are sorted by score here (see candidates())
            double cumulative = 0;
            int keep = count;
            for (int i = 0; i < count; i++) {
                cumulative += Math.exp(values[i] - max) / sum;
                if (cumulative >= options.topP()) {
                    keep = i + 1;
                    break;
                }
            }
            count = keep;
        }
        if (options.minP() > 0f) {
            // p_i >= minP * p_max  <=>  s_i - max >= log(minP)
            float floor = max + (float) Math.log(options.minP());
            int kept = 0;
            for (int i = 0; i < count; i++) {
                if (values[i] >= floor) {
                    values[kept] = values[i];
                    ids[kept] = ids[i];
                    kept++;
                }
            }
            count = kept;
        }
        // with top-k off this runs over the whole vocabulary, so it is vectorised
        double total = VectorMath.expInto(values, count, max, 1f / options.temperature(), values);
        if (draft >= 0) {
            int at = -1;
            for (int i = 0; i < count; i++) {
                if (ids[i] == draft) {
                    at = i;
                    break;
                }
            }
            // a guess outside the candidate set has p = 0: it is rejected, and p without it is p, the plain draw
            if (at >= 0) {
                return speculative(count, at, total);
            }
        }
        double r = random.nextDouble() * total;
        double acc = 0;
        for (int i = 0; i < count; i++) {
            acc += values[i];
            if (r < acc) {
                return ids[i];
            }
        }
        return ids[count - 1];
    }

    /** Keeps candidate {@code at} with its probability, else draws from the others (values: unnormalised p). */
    private int speculative(int count, int at, double total) {
        if (random.nextDouble() * total < values[at]) {
            return ids[at];
        }
        // summed apart rather than total - p(at), which loses the others' mass to rounding when p(at) is near 1
        double rest = 0;
        for (int i = 0; i < count; i++) {
            if (i != at) {
                rest += values[i];
            }
        }
        if (!(rest > 0)) {
            return ids[at]; // nothing else has mass: the rejection was rounding
        }
        double r = random.nextDouble() * rest;
        double acc = 0;
        int last = at;
        for (int i = 0; i < count; i++) {
            if (i == at) {
                continue;
            }
            acc += values[i];
            last = i;
            if (r < acc) {
                return ids[i];
            }
        }
        return ids[last];
    }

    /**
     * Fills ids/values with the candidate set, sorted by descending score whenever top-p needs it, and
     * sets {@link #candidateMax} and {@link #candidateSum} (the softmax normaliser over the set).
     */
    private int candidates(float[] scores, int n) {
        int k = options.topK() > 0 ? Math.min(options.topK(), n) : n;
        ensure(k);
        if (k < n) {
            topK(scores, n, k);
            normalise(k);
            return k;
        }
        if (options.topP() < 1f) {
            normaliser(scores, n);
            float max = candidateMax;
            double sum = candidateSum;
            // The top-p set is a prefix of the tokens by descending score: select the best 256, and only
            // if they do not reach p, 8x more, and so on. Exact; for a peaked distribution one small pass.
            int m = Math.min(n, 256);
            while (true) {
                ensure(m);
                topK(scores, n, m);
                double cumulative = 0;
                for (int i = 0; i < m && cumulative < options.topP(); i++) {
                    cumulative += Math.exp(values[i] - max) / sum;
                }
                if (cumulative >= options.topP() || m == n) {
                    break;
                }
                m = (int) Math.min(n, m * 8L);
            }
            return m;
        }
        for (int i = 0; i < n; i++) {
            ids[i] = i;
            values[i] = scores[i];
        }
        normalise(n);
        return n;
    }

    private void normalise(int count) {
        normaliser(values, count);
    }

    /** Sets candidateMax and candidateSum = sum_i exp(v_i - max) over v[0..count). */
    private void normaliser(float[] v, int count) {
        float max = VectorMath.max(v, count);
        candidateMax = max;
        candidateSum = VectorMath.sumExp(v, count, max);
    }

    /** Selects the k best with a min-heap in ids/values, then sorts them best first. */
    private void topK(float[] scores, int n, int k) {
        for (int i = 0; i < k; i++) {
            ids[i] = i;
            values[i] = scores[i];
            siftUp(i);
        }
        for (int i = k; i < n; i++) {
            if (scores[i] > values[0]) {
                ids[0] = i;
                values[0] = scores[i];
                siftDown(0, k);
            }
        }
        // heap-sort in place: repeatedly move the smallest to the end -> descending order
        for (int end = k - 1; end > 0; end--) {
            swap(0, end);
            siftDown(0, end);
        }
    }

    private void siftUp(int i) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (values[i] >= values[parent]) {
                return;
            }
            swap(i, parent);
            i = parent;
        }
    }

    private void siftDown(int i, int size) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= size) {
                return;
            }
            int m = l + 1 < size && values[l + 1] < values[l] ? l + 1 : l;
            if (values[i] <= values[m]) {
                return;
            }
            swap(i, m);
            i = m;
        }
    }

    private void swap(int a, int b) {
        float v = values[a];
        values[a] = values[b];
        values[b] = v;
        int t = ids[a];
        ids[a] = ids[b];
        ids[b] = t;
    }

    private void ensure(int k) {
        if (ids.length < k) {
            ids = new int[k];
            values = new float[k];
        }
    }
}
