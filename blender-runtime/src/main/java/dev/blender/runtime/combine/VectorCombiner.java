package dev.blender.runtime.combine;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ForkJoinTask;
import dev.blender.nativebridge.math.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The combination with the Vector API, reading llama.cpp's logits in place. Scratch arrays are kept between
 * calls, a split row included (its parts run as reused pool tasks).
 *
 * <ul>
 *   <li>Log-space methods need no per-member normaliser: {@code logsoftmax(sum_k w_k logsoftmax(x_k))}
 *       equals {@code logsoftmax(sum_k w_k x_k)}, so one pass mixes raw logits (masked by the core's
 *       plausibility for negative evidence), one sums exponentials, one subtracts: one exp per token.</li>
 *   <li>Negative evidence does the same over the few tokens the core finds plausible: vectors without
 *       one are filled with -infinity and skipped by normalisation.</li>
 *   <li>The linear mixture needs each member's probabilities: per member a max pass and a pass that
 *       stores {@code exp(x - max)} while summing it, then one pass mixes and takes the log: K exps and
 *       one log per token.</li>
 * </ul>
 *
 * <p>A row of at least twice {@link #MIN_PART} tokens is split into parts done on as many cores (the calling
 * thread and the common {@link java.util.concurrent.ForkJoinPool}): each part normalises against its own
 * maximum, and the parts' sums are rescaled to the row's. At 152k tokens on two cores this took linear mixing
 * at K = 3 from 0.83 to 0.35 ms and log-linear from 0.48 to 0.19 ms (JMH {@code CombineBenchmark}, with the
 * fused multiply-adds and the mask-free log of {@link VectorMath}). Like every combiner, an instance is for one thread at a time.
 */
final class VectorCombiner implements Combiner {
    private static final VectorSpecies<Float> F = VectorMath.F;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Vectors summed in float lanes before moving into a double: float alone loses ~1e-5 over 152k tokens. */
    private static final int CHUNK = 128;
    /**
     * Tokens a core takes at least when a row is split over cores: a 152k-token row goes to up to 4, a
     * 32k one stays on the calling thread (handing a part over costs some 10-50 microseconds).
     */
    static final int MIN_PART = 32_768;
    private static final int PROCESSORS = Runtime.getRuntime().availableProcessors();
    /** Never started: asks whether a segment may be read by threads other than the caller. */
    private static final Thread ANOTHER_THREAD = Thread.ofVirtual().unstarted(() -> { });

    private final CombineOptions options;
    private final int maxParts;
    private final float[] w;
    private final boolean linear;
    private final boolean masked;
    private final float logAlpha;
    private float[][] exps = new float[0][];
    /** Per member and part: the part's maximum, its sum of exponentials, and (linear) its mixing scale. */
    private float[][] partMax = new float[0][];
    private double[][] partSum = new double[0][];
    private float[][] partScale = new float[0][];
    /** Start indices of the vectors holding plausible tokens (negative evidence). */
    private int[] live = new int[0];
    private int liveCount;

    VectorCombiner(CombineOptions options) {
        this(options, PROCESSORS);
    }

    /** With rows split over at most {@code maxParts} cores (tests split rows where this machine would not). */
    VectorCombiner(CombineOptions options, int maxParts) {
        this.maxParts = maxParts;
        this.options = options;
        this.w = options.logSpaceWeights();
        this.linear = options.method() == CombineMethod.LINEAR;
        this.masked = options.method() == CombineMethod.NEGATIVE_EVIDENCE;
        this.logAlpha = (float) Math.log(options.alpha());
    }

    @Override
    public CombineOptions options() {
        return options;
    }

    @Override
    public void reweight(float[] weights) {
        AdaptiveWeights.normaliseInto(options, weights, w);
    }

    @Override
    public void combine(MemorySegment[] logits, int n, float[] out) {
        int k = ScalarCombiner.checkInputs(logits, n, out, options);
        if (linear) {
            mixLinear(logits, k, n, out);
        } else if (masked) {
            mixPlausible(logits, k, n, out, max(logits[0], n) + logAlpha);
        } else {
            mixLogSpaceInParts(logits, k, n, out);
        }
    }

    /**
     * How many parts a row of {@code n} tokens is split into, each done by one core: at most the processors,
     * none shorter than {@link #MIN_PART} tokens, below which handing work to another core costs more than it
     * saves, and one where a row lives in a confined arena (llama.cpp's logits and arrays may be shared).
     */
    private int parts(MemorySegment[] logits, int k, int n) {
        int parts = Math.max(1, Math.min(maxParts, n / MIN_PART));
        for (int m = 0; m < k && parts > 1; m++) {
            if (!logits[m].isAccessibleBy(ANOTHER_THREAD)) {
                return 1; // a confined arena's rows: only this thread may read them
            }
        }
        return parts;
    }

    /** Token {@code [from, to)} of part {@code p} of {@code parts}, on vector boundaries. */
    private static int bound(int p, int parts, int n) {
        if (p == parts) {
            return n;
        }
        long at = (long) n * p / parts;
        return (int) (at - at % F.length());
    }

    /** What the parts of a split row do in the step in progress. */
    private enum Phase { LOG_MIX, SUBTRACT, LINEAR_EXP, LINEAR_MIX }

    /**
     * Parts 1.. of a split row, run on the common pool by tasks this combiner reuses (reinitialised each time),
     * so that a step allocates nothing: a parallel stream's task objects cost some 500 bytes a step.
     */
    private final class Part extends ForkJoinTask<Void> {
        private static final long serialVersionUID = 1L;
        private final int index;

        Part(int index) {
            this.index = index;
        }

        @Override
        public Void getRawResult() {
            return null;
        }

        @Override
        protected void setRawResult(Void value) {}

        @Override
        protected boolean exec() {
            runPart(index);
            return true;
        }
    }

    private Part[] helpers = new Part[0];
    // the row of the step in progress, set before its parts are forked (which publishes them to the pool)
    private Phase phase;
    private MemorySegment[] rowLogits;
    private int rowK;
    private int rowN;
    private int rowParts;
    private float[] rowOut;
    private float rowNorm;
    private float[] segmentArray;
    private MemorySegment segmentOfOut;

    /**
     * Runs one phase over every part, the calling thread doing part 0 and any part no pool thread has taken
     * yet (so it never waits on a busy pool alone), then waiting, briefly, for the parts being run elsewhere.
     */
    private void eachPart(Phase ph) {
        phase = ph;
        int parts = rowParts;
        if (parts == 1) {
            runPart(0);
            return;
        }
        if (helpers.length < parts) {
            helpers = new Part[parts];
            for (int p = 0; p < parts; p++) {
                helpers[p] = new Part(p);
            }
        }
        for (int p = 1; p < parts; p++) {
            helpers[p].reinitialize();
            helpers[p].fork();
        }
        Throwable failed = null;
        try {
            runPart(0);
        } catch (RuntimeException | Error e) {
            failed = e;
        }
        for (int p = parts - 1; p >= 1; p--) {
            Part h = helpers[p];
            if (h.tryUnfork()) {
                try {
                    runPart(p);
                } catch (RuntimeException | Error e) {
                    failed = failed == null ? e : failed;
                }
                continue;
            }
            while (!h.isDone()) {
                Thread.onSpinWait(); // a part takes some 100 microseconds: parking would cost as much
            }
            if (h.isCompletedAbnormally() && failed == null) {
                failed = h.getException();
            }
        }
        if (failed instanceof RuntimeException r) {
            throw r;
        }
        if (failed instanceof Error e) {
            throw e;
        }
    }

    private void runPart(int p) {
        int from = bound(p, rowParts, rowN);
        int to = bound(p + 1, rowParts, rowN);
        switch (phase) {
            case LOG_MIX -> {
                float best = mixLogSpace(rowLogits, rowK, from, to, rowOut);
                partMax[0][p] = best;
                partSum[0][p] = best == Float.NEGATIVE_INFINITY ? 0
                        : storeExp(segmentOfOut, from, to, best, null);
            }
            case SUBTRACT -> subtract(rowOut, from, to, rowNorm);
            case LINEAR_EXP -> {
                for (int m = 0; m < rowK; m++) {
                    float mx = max(rowLogits[m], from, to);
                    partMax[m][p] = mx;
                    // a part a member rules out entirely: no exp(-inf - -inf)
                    partSum[m][p] = mx == Float.NEGATIVE_INFINITY ? fillZero(exps[m], from, to)
                            : storeExp(rowLogits[m], from, to, mx, exps[m]);
                }
            }
            case LINEAR_MIX -> mixLinear(rowK, from, to, p, rowOut);
        }
    }

    private void beginRow(MemorySegment[] logits, int k, int n, float[] out) {
        if (out != segmentArray) {
            segmentArray = out;
            segmentOfOut = MemorySegment.ofArray(out); // once per output array, not per step
        }
        rowLogits = logits;
        rowK = k;
        rowN = n;
        rowOut = out;
        rowParts = parts(logits, k, n);
    }

    /**
     * Lets go of the caller's logits, which may be a closed context's; the output array stays, like the scratch
     * arrays, so that its segment view is made once.
     */
    private void endRow() {
        rowLogits = null;
        rowOut = null;
    }

    /**
     * Log-space mixing in parts: each part mixes its tokens and sums their exponentials against its own
     * maximum; the parts' sums, rescaled to the row's maximum, give the normaliser each part then subtracts.
     */
    private void mixLogSpaceInParts(MemorySegment[] logits, int k, int n, float[] out) {
        beginRow(logits, k, n, out);
        try {
            int parts = rowParts;
            ensureParts(parts);
            eachPart(Phase.LOG_MIX);
            float best = Float.NEGATIVE_INFINITY;
            for (int p = 0; p < parts; p++) {
                best = Math.max(best, partMax[0][p]);
            }
            double sum = 0;
            for (int p = 0; p < parts; p++) {
                sum += partSum[0][p] == 0 ? 0 : partSum[0][p] * Math.exp(partMax[0][p] - best);
            }
            rowNorm = best + (float) Math.log(sum);
            eachPart(Phase.SUBTRACT);
        } finally {
            endRow();
        }
    }

    private void ensureParts(int parts) {
        if (partMax.length < w.length || partMax[0].length < parts) {
            partMax = new float[Math.max(1, w.length)][parts];
            partSum = new double[Math.max(1, w.length)][parts];
        }
    }

    /**
     * Negative evidence: the plausibility mask usually keeps a handful of tokens, so vectors with no
     * plausible lane are filled with -infinity without mixing, and normalisation visits only the rest.
     */
    private void mixPlausible(MemorySegment[] logits, int k, int n, float[] out, float floor) {
        int step = F.length();
        int bound = F.loopBound(n);
        int needed = bound / step + 1;
        if (live.length < needed) {
            live = new int[needed];
        }
        float best = scanPlausible(logits, k, bound, out, floor);
        int lives = liveCount;
        int i = bound;
        for (; i < n; i++) {
            float core = logits[0].getAtIndex(JAVA_FLOAT, i);
            float v = Float.NEGATIVE_INFINITY;
            if (core >= floor) {
                v = w[0] * core;
                for (int m = 1; m < k; m++) {
                    if (w[m] != 0) {
                        v += w[m] * logits[m].getAtIndex(JAVA_FLOAT, i);
                    }
                }
            }
            out[i] = v;
            best = Math.max(best, v);
        }
        double sum = sumExpLive(out, live, lives, best);
        for (int t = bound; t < n; t++) {
            sum += Math.exp(out[t] - best);
        }
        float norm = best + (float) Math.log(sum);
        subtractLive(out, live, lives, norm);
        for (int t = bound; t < n; t++) {
            out[t] -= norm;
        }
    }

    /**
     * The vector part of {@link #mixPlausible}: mixes the vectors with a plausible lane, records where they are
     * ({@link #live}, {@link #liveCount}), fills the others with -infinity, and returns the largest mixed value.
     * Its loops are methods of their own because C2, compiling them inside one large method, boxed the vectors
     * of calls it did not inline (10 KB a step).
     */
    private float scanPlausible(MemorySegment[] logits, int k, int bound, float[] out, float floor) {
        int step = F.length();
        int lives = 0;
        float best = Float.NEGATIVE_INFINITY;
        FloatVector none = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < bound; i += step) {
            long off = (long) i * Float.BYTES;
            FloatVector core = FloatVector.fromMemorySegment(F, logits[0], off, NATIVE);
            var plausible = core.compare(VectorOperators.GE, floor);
            if (!plausible.anyTrue()) {
                none.intoArray(out, i);
                continue;
            }
            FloatVector acc = core.mul(w[0]);
            for (int m = 1; m < k; m++) {
                if (w[m] != 0) {
                    acc = FloatVector.fromMemorySegment(F, logits[m], off, NATIVE).fma(FloatVector.broadcast(F, w[m]), acc);
                }
            }
            acc = acc.blend(Float.NEGATIVE_INFINITY, plausible.not());
            acc.intoArray(out, i);
            best = Math.max(best, acc.reduceLanes(VectorOperators.MAX));
            live[lives++] = i;
        }
        liveCount = lives;
        return best;
    }

    private static void subtractLive(float[] out, int[] live, int lives, float norm) {
        for (int l = 0; l < lives; l++) {
            FloatVector.fromArray(F, out, live[l]).sub(norm).intoArray(out, live[l]);
        }
    }

    /**
     * The sum of {@code exp(x - best)} over the live vectors (see {@link #scanPlausible} for why this is a
     * method of its own).
     */
    private static double sumExpLive(float[] out, int[] live, int lives, float best) {
        double sum = 0;
        for (int l = 0; l < lives; l++) {
            sum += VectorMath.exp(FloatVector.fromArray(F, out, live[l]).sub(best)).reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    /**
     * Each part stores every member's {@code exp(x - partmax)} and sums it; the members' normalisers come from
     * the parts' sums rescaled to each row's maximum, and each part then mixes and takes the log with
     * per-part scales that fold in its maximum.
     */
    private void mixLinear(MemorySegment[] logits, int k, int n, float[] out) {
        if (exps.length < k || exps[0].length < n) {
            exps = new float[k][n];
        }
        beginRow(logits, k, n, out);
        try {
            int parts = rowParts;
            ensureParts(parts);
            if (partScale.length < k || partScale[0].length < parts) {
                partScale = new float[k][parts];
            }
            eachPart(Phase.LINEAR_EXP);
            for (int m = 0; m < k; m++) {
                float mx = Float.NEGATIVE_INFINITY;
                for (int p = 0; p < parts; p++) {
                    mx = Math.max(mx, partMax[m][p]);
                }
                double z = 0;
                for (int p = 0; p < parts; p++) {
                    z += partSum[m][p] == 0 ? 0 : partSum[m][p] * Math.exp(partMax[m][p] - mx);
                }
                for (int p = 0; p < parts; p++) {
                    partScale[m][p] = partSum[m][p] == 0 ? 0 : (float) (w[m] * Math.exp(partMax[m][p] - mx) / z);
                }
            }
            eachPart(Phase.LINEAR_MIX);
        } finally {
            endRow();
        }
    }

    private void mixLinear(int k, int from, int to, int p, float[] out) {
        int i = from;
        int bound = from + F.loopBound(to - from);
        for (; i < bound; i += F.length()) {
            FloatVector acc = FloatVector.fromArray(F, exps[0], i).mul(partScale[0][p]);
            for (int m = 1; m < k; m++) {
                acc = FloatVector.fromArray(F, exps[m], i).fma(FloatVector.broadcast(F, partScale[m][p]), acc);
            }
            VectorMath.log(acc).intoArray(out, i);
        }
        for (; i < to; i++) {
            double q = 0;
            for (int m = 0; m < k; m++) {
                q += partScale[m][p] * exps[m][i];
            }
            out[i] = (float) Math.log(q);
        }
    }

    private static double fillZero(float[] a, int from, int to) {
        java.util.Arrays.fill(a, from, to, 0f);
        return 0;
    }

    /**
     * out = sum_k w_k x_k; returns max(out). A member of weight 0 has no say, even where its row is -infinity
     * (a token it lacks, {@link VocabAlignment#gatherAll}), which 0 * -infinity would make NaN.
     */
    private float mixLogSpace(MemorySegment[] logits, int k, int from, int to, float[] out) {
        int bound = from + F.loopBound(to - from);
        FloatVector best = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = from;
        for (; i < bound; i += F.length()) {
            long off = (long) i * Float.BYTES;
            FloatVector core = FloatVector.fromMemorySegment(F, logits[0], off, NATIVE);
            FloatVector acc = w[0] == 0 ? FloatVector.zero(F) : core.mul(w[0]);
            for (int m = 1; m < k; m++) {
                if (w[m] != 0) {
                    acc = FloatVector.fromMemorySegment(F, logits[m], off, NATIVE).fma(FloatVector.broadcast(F, w[m]), acc);
                }
            }
            acc.intoArray(out, i);
            best = best.max(acc);
        }
        float b = best.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) {
            float v = 0;
            for (int m = 0; m < k; m++) {
                if (w[m] != 0) {
                    v += w[m] * logits[m].getAtIndex(JAVA_FLOAT, i);
                }
            }
            out[i] = v;
            b = Math.max(b, v);
        }
        return b;
    }

    static float max(MemorySegment seg, int n) {
        return max(seg, 0, n);
    }

    /** The largest of tokens {@code [from, to)}; {@code from} on a vector boundary of the row. */
    static float max(MemorySegment seg, int from, int to) {
        int bound = from + F.loopBound(to - from);
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = from;
        for (; i < bound; i += F.length()) {
            acc = acc.max(FloatVector.fromMemorySegment(F, seg, (long) i * Float.BYTES, NATIVE));
        }
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) {
            m = Math.max(m, seg.getAtIndex(JAVA_FLOAT, i));
        }
        return m;
    }

    /** sum_i exp(x_i - shift). */
    static double sumExp(MemorySegment seg, int n, float shift) {
        return storeExp(seg, 0, n, shift, null);
    }

    /** sum_i exp(x_i - shift), also storing each exp into {@code dst} unless it is null. */
    private static double storeExp(MemorySegment seg, int from, int to, float shift, float[] dst) {
        int bound = from + F.loopBound(to - from);
        int step = F.length();
        double s = 0;
        int i = from;
        while (i < bound) {
            int end = Math.min(bound, i + CHUNK * step);
            FloatVector acc = FloatVector.zero(F);
            for (; i < end; i += step) {
                FloatVector e = VectorMath.exp(FloatVector.fromMemorySegment(F, seg, (long) i * Float.BYTES, NATIVE)
                        .sub(shift));
                if (dst != null) {
                    e.intoArray(dst, i);
                }
                acc = acc.add(e);
            }
            s += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < to; i++) {
            float e = (float) Math.exp(seg.getAtIndex(JAVA_FLOAT, i) - shift);
            if (dst != null) {
                dst[i] = e;
            }
            s += e;
        }
        return s;
    }

    /**
     * One pass over a row after its max: {@code into[0] = sum_i e_i} and {@code into[1] = sum_i e_i (x_i - max)}
     * with {@code e_i = exp(x_i - max)}, from which the gate reads the row's normaliser and entropy
     * ({@code H = log into[0] - into[1] / into[0]}). Entries of -infinity count as nothing.
     */
    static void expStats(MemorySegment seg, int n, float max, double[] into) {
        int bound = F.loopBound(n);
        int step = F.length();
        double s = 0;
        double t = 0;
        int i = 0;
        while (i < bound) {
            int end = Math.min(bound, i + CHUNK * step);
            FloatVector accS = FloatVector.zero(F);
            FloatVector accT = FloatVector.zero(F);
            for (; i < end; i += step) {
                // below -100 e is 0; the floor keeps 0 * -infinity out of the sum
                FloatVector d = FloatVector.fromMemorySegment(F, seg, (long) i * Float.BYTES, NATIVE).sub(max).max(-100f);
                FloatVector e = VectorMath.exp(d);
                accS = accS.add(e);
                accT = e.fma(d, accT);
            }
            s += accS.reduceLanes(VectorOperators.ADD);
            t += accT.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            float d = Math.max(seg.getAtIndex(JAVA_FLOAT, i) - max, -100f);
            float e = (float) Math.exp(d);
            s += e;
            t += e * d;
        }
        into[0] = s;
        into[1] = t;
    }

    /** {@code into[i] = exp(logp[i])} for i < n. */
    static void exp(float[] logp, int n, float[] into) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            VectorMath.exp(FloatVector.fromArray(F, logp, i)).intoArray(into, i);
        }
        for (; i < n; i++) {
            into[i] = (float) Math.exp(logp[i]);
        }
    }

    /**
     * {@code sum_i p_i * max(x_i, floor)}: with p a distribution, the expectation of a member's logits under
     * it, the floor keeping tokens the member rules out finite.
     */
    static double expectation(float[] p, MemorySegment x, int n, float floor) {
        int bound = F.loopBound(n);
        int step = F.length();
        double s = 0;
        int i = 0;
        while (i < bound) {
            int end = Math.min(bound, i + CHUNK * step);
            FloatVector acc = FloatVector.zero(F);
            for (; i < end; i += step) {
                acc = FloatVector.fromArray(F, p, i)
                        .fma(FloatVector.fromMemorySegment(F, x, (long) i * Float.BYTES, NATIVE).max(floor), acc);
            }
            s += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            s += p[i] * Math.max(x.getAtIndex(JAVA_FLOAT, i), floor);
        }
        return s;
    }

    private static void subtract(float[] out, int from, int to, float value) {
        int bound = from + F.loopBound(to - from);
        int i = from;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, out, i).sub(value).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] -= value;
        }
    }
}
