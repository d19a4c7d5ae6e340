package dev.blender.runtime.combine;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SequenceDecoder;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.nativebridge.generation.TokenLoop;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * Decodes with several models at once, mixing their next-token distributions at every step
 * ({@link CombineMethod}) and feeding the chosen token back to every member. Each member runs in its
 * own context (sequence 0, cleared per request); the combination reads their logits in place.
 *
 * <p>Not thread-safe (it drives its members' contexts): one generator per thread. It does not own the
 * contexts.
 */
public final class MixedGenerator {
    /** Prompt positions scored for PackLLM-style weights: the end of the prompt is what matters. */
    static final int PERPLEXITY_WINDOW = 128;

    private final List<LlamaContext> members;
    private final CombineOptions options;
    private final MemberRows rows;
    private final VocabAlignment alignment;
    private final int n;
    private final float[] out;
    /** The combined tokens: an end of generation in any member's vocabulary ends, each written as its bytes. */
    private final TokenLoop.Tokens tokens = new TokenLoop.Tokens() {
        @Override
        public boolean isEnd(int token) {
            return isEndOfGeneration(token);
        }

        @Override
        public byte[] piece(int token) {
            return MixedGenerator.this.piece(token);
        }
    };
    /** Each member's decoder of its sequence 0, open during a {@link #generate} call. */
    private final SequenceDecoder[] decoders;
    /** Each member's total NLL of the prompt's scored window, from the last {@link #decodePrompt}. */
    private final double[] promptNll;

    public MixedGenerator(List<LlamaContext> members, CombineOptions options, VocabAlignment.Policy policy) {
        Objects.requireNonNull(members, "members");
        Objects.requireNonNull(options, "options");
        if (members.size() != options.members()) {
            throw new IllegalArgumentException(options + " combines " + options.members() + " models, got "
                    + members.size());
        }
        this.members = List.copyOf(members);
        this.options = options;
        this.rows = new MemberRows(members, policy);
        this.alignment = rows.alignment;
        this.n = rows.size;
        this.out = new float[n];
        this.decoders = new SequenceDecoder[members.size()];
        this.promptNll = new double[members.size()];
    }

    public VocabAlignment alignment() {
        return alignment;
    }

    public CombineOptions options() {
        return options;
    }

    /** Generates without streaming. */
    public Candidate generate(MixRequest request) {
        return generate(request, TokenListener.NONE);
    }

    /**
     * Generates one combined continuation. The result's tokens are ids of the combined space
     * ({@link VocabAlignment}; the members' own ids when they share a vocabulary) and its log-probs
     * are those of the combined distribution.
     */
    public Candidate generate(MixRequest request, TokenListener listener) {
        Objects.requireNonNull(request, "request");
        long start = System.nanoTime();
        int k = members.size();
        double[] nll = new double[k];
        try {
            for (int m = 0; m < k; m++) {
                LlamaModel model = members.get(m).model();
                int[] prompt = request.messages() == null ? model.vocab().tokenize(request.prompt())
                        : Generator.prompt(model, request.messages(), true);
                nll[m] = decodePrompt(m, prompt, request.perplexityTemperature() > 0 || options.adaptive());
            }
            // PackLLM's weights, when asked for, are what adaptive weights start from
            AdaptiveCombiner mixer = new AdaptiveCombiner(request.perplexityTemperature() > 0
                    && options.method() != CombineMethod.NEGATIVE_EVIDENCE
                    ? options.withWeights(perplexityWeights(nll, request.perplexityTemperature())) : options);
            if (options.adaptive()) {
                // the prompt (its last PERPLEXITY_WINDOW tokens) is the first evidence: each member's weight
                // times its probability of that text
                double[] promptLogProbs = new double[k];
                for (int m = 0; m < k; m++) {
                    promptLogProbs[m] = -promptNll[m];
                }
                mixer.observePrompt(promptLogProbs);
            }
            float[] firstOnly = new float[k];
            firstOnly[0] = 1f;
            Combiner solo = request.gate() > 0 ? Combiner.vectorized(CombineOptions.logLinear(firstOnly)) : null;
            double promptMillis = (System.nanoTime() - start) / 1e6;
            TokenLoop loop = new TokenLoop(0, request.decode(), request.decode().seed(), new int[0], tokens, listener);
            return loop.run(new TokenLoop.Source() {
                private MemorySegment[] view;

                @Override
                public int next() {
                    view = memberRows(options.method());
                    combine(view, mixer, solo, request.gate());
                    return n;
                }

                @Override
                public float[] scores() {
                    return out;
                }

                @Override
                public void chosen(int token) {
                    mixer.observe(view, n, out, token);
                }

                @Override
                public boolean feed(int token) {
                    return MixedGenerator.this.feed(token);
                }
            }, promptMillis);
        } finally {
            for (int m = 0; m < k; m++) {
                if (decoders[m] != null) {
                    decoders[m].close();
                    decoders[m] = null;
                }
            }
        }
    }

    /**
     * Decodes member m's prompt into its sequence 0; returns its mean NLL over the scored window (0 if not
     * scoring) and leaves the window's total in {@link #promptNll}.
     */
    private double decodePrompt(int m, int[] tokens, boolean score) {
        LlamaContext ctx = members.get(m);
        if (tokens.length + 1 > ctx.contextSize()) {
            throw new IllegalArgumentException("the prompt is " + tokens.length + " tokens for "
                    + ctx.model().path().getFileName() + ", whose context holds " + ctx.contextSize());
        }
        SequenceDecoder decoder = new SequenceDecoder(ctx);
        decoders[m] = decoder;
        int firstScored = score ? Math.max(0, tokens.length - 1 - PERPLEXITY_WINDOW) : tokens.length - 1;
        decoder.append(0, tokens, firstScored);
        double nll = 0;
        int scored = 0;
        if (score) {
            for (int i = firstScored; i + 1 < tokens.length; i++) {
                nll -= TextScorer.logSoftmaxAt(decoder.logits(0, i), ctx.vocabSize(), tokens[i + 1]);
                scored++;
            }
        }
        promptNll[m] = nll;
        return scored == 0 ? 0 : nll / scored;
    }

    /** PackLLM: w_k = softmax_k(-nll_k / t). */
    static float[] perplexityWeights(double[] nll, float temperature) {
        double best = Double.POSITIVE_INFINITY;
        for (double v : nll) {
            best = Math.min(best, v);
        }
        float[] w = new float[nll.length];
        double sum = 0;
        for (int k = 0; k < nll.length; k++) {
            double e = Math.exp(-(nll[k] - best) / temperature);
            w[k] = (float) e;
            sum += e;
        }
        for (int k = 0; k < w.length; k++) {
            w[k] = (float) (w[k] / sum);
        }
        return w;
    }

    /** The members' current rows over the combined tokens, as a combination by {@code method} reads them. */
    private MemorySegment[] memberRows(CombineMethod method) {
        for (int m = 0; m < members.size(); m++) {
            rows.own[m] = decoders[m].logits(0);
        }
        return rows.view(method);
    }

    /**
     * Mixes the members' rows ({@link #memberRows}) into {@link #out}; with a gate, the first member alone
     * where its top token's probability reaches it.
     */
    private void combine(MemorySegment[] view, AdaptiveCombiner mixer, Combiner solo, float gate) {
        boolean alone = false;
        if (solo != null) {
            MemorySegment first = rows.own[0];
            int size = members.get(0).vocabSize();
            // p_max = exp(max - max) / sum_i exp(x_i - max) = 1 / that sum
            double topProbability = 1.0 / VectorCombiner.sumExp(first, size, VectorCombiner.max(first, size));
            alone = topProbability >= gate;
        }
        if (!alone || mixer.options().adaptive()) {
            // adaptive weights weigh every step they will learn from, the first member's solo steps too
            mixer.combine(view, n, decoders[0].position(0), out);
        }
        if (alone) {
            // the first member's row alone, which reads the same in either gathering
            solo.combine(view, n, out);
        }
    }

    private boolean isEndOfGeneration(int u) {
        for (int m = 0; m < members.size(); m++) {
            int id = alignment.memberId(m, u);
            if (id >= 0) {
                return members.get(m).model().vocab().isEndOfGeneration(id);
            }
        }
        return false;
    }

    private byte[] piece(int u) {
        for (int m = 0; m < members.size(); m++) {
            int id = alignment.memberId(m, u);
            if (id >= 0) {
                return members.get(m).model().vocab().piece(id, false);
            }
        }
        return new byte[0];
    }

    /** Feeds combined token u to every member; false when a member's context is full. */
    private boolean feed(int u) {
        for (int m = 0; m < members.size(); m++) {
            int[] ids = alignment.feed(m, u);
            if (decoders[m].position(0) + ids.length >= members.get(m).contextSize()) {
                return false;
            }
            decoders[m].append(0, ids, ids.length - 1);
        }
        return true;
    }
}
