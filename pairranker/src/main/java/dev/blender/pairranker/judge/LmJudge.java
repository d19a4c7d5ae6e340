package dev.blender.pairranker.judge;

import dev.blender.nativebridge.Batch;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.Sampler;
import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.PairRanker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * A pairwise judge over any loaded GGUF model: the instruction and both candidates go into one prompt
 * (a cross-encoder), the judge optionally writes a rationale, and the score of an ordered pair is
 * {@code log P(verdictFirst) - log P(verdictSecond)} at the first token where the two verdicts differ.
 *
 * <p>All pairs of a request are decoded together: the prompt prefix they share (usually the
 * instruction) is decoded once into sequence 0 and copied to the other sequences, then every pair's
 * own tokens and every rationale step go through one {@code llama_decode} for all pairs. Pairs beyond
 * the context's {@code maxSequences}, or beyond its cells, are processed in further rounds.
 *
 * <p>Not thread-safe: it drives one context. Use one judge (and context) per thread.
 */
public final class LmJudge implements PairRanker {
    private final LlamaContext ctx;
    private final JudgeTemplate template;
    private final Vocab vocab;
    private final int[] verdictPrefix;
    private final int firstVerdictToken;
    private final int secondVerdictToken;
    private final int[] stopTokens;
    private final String id;
    private final BooleanSupplier cancelled;
    private long tokensDecoded;

    public LmJudge(LlamaContext ctx, JudgeTemplate template) {
        this(ctx, template, () -> false);
    }

    /**
     * A judge that checks {@code cancelled} before every decode and then throws
     * {@link CancellationException}: a long ranking stops within one step, the context stays usable.
     */
    public LmJudge(LlamaContext ctx, JudgeTemplate template, BooleanSupplier cancelled) {
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
        this.ctx = Objects.requireNonNull(ctx, "ctx");
        this.template = Objects.requireNonNull(template, "template");
        this.vocab = ctx.model().vocab();
        int[] a = continuation(template.verdictFirst());
        int[] b = continuation(template.verdictSecond());
        int common = 0;
        while (common < a.length && common < b.length && a[common] == b[common]) {
            common++;
        }
        if (common == a.length || common == b.length) {
            throw new IllegalArgumentException("verdicts '" + template.verdictFirst() + "' and '" + template.verdictSecond()
                    + "' do not differ in a token of " + ctx.model().path().getFileName() + " (one is a prefix of the other)");
        }
        for (int[] v : new int[][] {a, b}) {
            if (v.length != common + 1) {
                String which = v == a ? template.verdictFirst() : template.verdictSecond();
                throw new IllegalArgumentException("verdict '" + which + "' is not one token after the shared part in "
                        + ctx.model().path().getFileName() + " (it is " + pieces(v, common) + "); choose verdicts the"
                        + " vocabulary has as single tokens");
            }
        }
        this.verdictPrefix = Arrays.copyOf(a, common);
        this.firstVerdictToken = a[common];
        this.secondVerdictToken = b[common];
        this.stopTokens = template.rationaleStop() == null ? new int[0] : continuation(template.rationaleStop());
        this.id = "lm-judge(" + ctx.model().path().getFileName() + ", " + template + ")";
    }

    @Override
    public String id() {
        return id;
    }

    /** Token ids of the two verdicts where they differ (for inspection and tests). */
    public int[] verdictTokens() {
        return new int[] {firstVerdictToken, secondVerdictToken};
    }

    /** How {@code text} tokenises when it follows other text (no BOS, no leading-space artefact). */
    private int[] continuation(String text) {
        int[] base = vocab.tokenize("a", false, false);
        int[] with = vocab.tokenize("a" + text, false, false);
        if (with.length <= base.length || !Arrays.equals(base, Arrays.copyOf(with, base.length))) {
            // a merge across the boundary: fall back to the text alone
            return vocab.tokenize(text, false, false);
        }
        return Arrays.copyOfRange(with, base.length, with.length);
    }

    private String pieces(int[] tokens, int from) {
        List<String> p = new ArrayList<>();
        for (int i = from; i < tokens.length; i++) {
            p.add(vocab.text(tokens[i]));
        }
        return p.toString();
    }

    @Override
    public double[] compare(String instruction, List<String> candidates, List<OrderedPair> pairs) {
        Objects.requireNonNull(instruction, "instruction");
        int[][] prompts = new int[pairs.size()][];
        for (int i = 0; i < pairs.size(); i++) {
            OrderedPair p = pairs.get(i);
            prompts[i] = vocab.tokenize(template.render(instruction, candidates.get(p.first()),
                    candidates.get(p.second())));
        }
        double[] out = new double[pairs.size()];
        int perPair = template.maxRationaleTokens() + stopTokens.length + verdictPrefix.length + 1;
        int from = 0;
        while (from < pairs.size()) {
            // as many pairs as sequences and KV cells allow
            int to = from;
            long cells = 0;
            while (to < pairs.size() && to - from < ctx.maxSequences()
                    && cells + prompts[to].length + perPair <= ctx.contextSize()) {
                cells += prompts[to].length + perPair;
                to++;
            }
            if (to == from) {
                throw new IllegalArgumentException("one judge prompt of " + prompts[from].length + " tokens plus "
                        + perPair + " for rationale and verdict does not fit the judge's context of "
                        + ctx.contextSize() + " cells; shorten the candidates or enlarge the context");
            }
            round(prompts, from, to, out);
            from = to;
        }
        return out;
    }

    /** Scores prompts[from..to) with one sequence each. */
    private void round(int[][] prompts, int from, int to, double[] out) {
        int n = to - from;
        int shared = prompts[from].length;
        for (int i = from + 1; i < to; i++) {
            shared = Math.min(shared, commonPrefix(prompts[from], prompts[i]));
        }
        shared = Math.min(shared, minLength(prompts, from, to) - 1); // every sequence keeps one token of its own
        ctx.clearKvCache();
        int capacity = Math.max(n, ctx.batchSize());
        try (Batch batch = Batch.create(capacity)) {
            for (int start = 0; start < shared; start += ctx.batchSize()) {
                batch.clear();
                for (int i = start; i < Math.min(shared, start + ctx.batchSize()); i++) {
                    batch.add(prompts[from][i], i, 0, false);
                }
                decode(batch);
            }
            for (int s = 1; s < n && shared > 0; s++) {
                ctx.copySequence(0, s);
            }
            int[] row = new int[n];
            int[] pos = new int[n];
            // each pair's own tokens but its last, in as many decodes as the batch needs ...
            int[] next = new int[n];
            Arrays.fill(next, shared);
            boolean pending = true;
            while (pending) {
                batch.clear();
                for (int s = 0; s < n; s++) {
                    int[] p = prompts[from + s];
                    while (next[s] < p.length - 1 && batch.size() < batch.capacity()) {
                        batch.add(p[next[s]], next[s], s, false);
                        next[s]++;
                    }
                }
                pending = false;
                for (int s = 0; s < n; s++) {
                    pending |= next[s] < prompts[from + s].length - 1;
                }
                if (batch.size() > 0) {
                    decode(batch);
                }
            }
            // ... then every last token in one decode, so all their logits are current together
            batch.clear();
            for (int s = 0; s < n; s++) {
                int[] p = prompts[from + s];
                row[s] = batch.add(p[p.length - 1], p.length - 1, s, true);
                pos[s] = p.length;
            }
            decode(batch);
            if (template.rationaleStop() != null) {
                rationale(batch, n, row, pos);
            }
            if (verdictPrefix.length > 0) {
                batch.clear();
                for (int s = 0; s < n; s++) {
                    for (int k = 0; k < verdictPrefix.length; k++) {
                        int r = batch.add(verdictPrefix[k], pos[s]++, s, k == verdictPrefix.length - 1);
                        row[s] = r;
                    }
                }
                decode(batch);
            }
            for (int s = 0; s < n; s++) {
                MemorySegment logits = ctx.logits(row[s]);
                out[from + s] = logits.getAtIndex(ValueLayout.JAVA_FLOAT, firstVerdictToken)
                        - logits.getAtIndex(ValueLayout.JAVA_FLOAT, secondVerdictToken);
            }
        }
    }

    /** Greedy rationale for every sequence until its text ends with the stop (forced after the budget). */
    private void rationale(Batch batch, int n, int[] row, int[] pos) {
        String stop = template.rationaleStop();
        StringBuilder[] text = new StringBuilder[n];
        boolean[] done = new boolean[n];
        int[] forced = new int[n]; // next stop token to force, once the budget is spent
        int[] steps = new int[n];
        for (int s = 0; s < n; s++) {
            text[s] = new StringBuilder();
        }
        float[] scratch = new float[ctx.vocabSize()];
        int live = n;
        while (live > 0) {
            batch.clear();
            int[] fed = new int[n];
            Arrays.fill(fed, -1);
            for (int s = 0; s < n; s++) {
                if (done[s]) {
                    continue;
                }
                int token;
                if (steps[s] >= template.maxRationaleTokens()) {
                    token = stopTokens[forced[s]++];
                } else {
                    ctx.copyLogits(row[s], scratch);
                    token = Sampler.argmax(scratch, scratch.length);
                    if (vocab.isEndOfGeneration(token)) {
                        steps[s] = template.maxRationaleTokens(); // it wants to stop: give it the stop text
                        token = stopTokens[forced[s]++];
                    }
                }
                steps[s]++;
                text[s].append(new String(vocab.piece(token, false), StandardCharsets.UTF_8));
                fed[s] = token;
            }
            for (int s = 0; s < n; s++) {
                if (fed[s] >= 0) {
                    row[s] = batch.add(fed[s], pos[s]++, s, true);
                }
            }
            decode(batch);
            live = 0;
            for (int s = 0; s < n; s++) {
                if (!done[s] && (text[s].toString().stripTrailing().endsWith(stop) || forced[s] == stopTokens.length
                        && forced[s] > 0)) {
                    done[s] = true;
                }
                live += done[s] ? 0 : 1;
            }
        }
    }

    private void decode(Batch batch) {
        if (cancelled.getAsBoolean()) {
            throw new CancellationException("ranking cancelled");
        }
        tokensDecoded += batch.size();
        ctx.decode(batch);
    }

    /** Tokens this judge has put through the model so far (prompts, rationales, verdict prefixes): its cost. */
    @Override
    public long tokensDecoded() {
        return tokensDecoded;
    }

    private static int commonPrefix(int[] a, int[] b) {
        int i = 0;
        while (i < a.length && i < b.length && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    private static int minLength(int[][] p, int from, int to) {
        int m = Integer.MAX_VALUE;
        for (int i = from; i < to; i++) {
            m = Math.min(m, p[i].length);
        }
        return m;
    }
}
