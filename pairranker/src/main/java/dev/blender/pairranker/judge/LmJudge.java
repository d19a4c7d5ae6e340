package dev.blender.pairranker.judge;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.chat.ChatOptions;
import dev.blender.nativebridge.generation.DecodeOptions;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.SequenceDecoder;
import dev.blender.nativebridge.generation.SequenceDecoder.LogitsFor;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.nativebridge.generation.TokenLoop;
import dev.blender.pairranker.OrderedPair;
import dev.blender.pairranker.PairRanker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * A pairwise judge over any loaded GGUF model: the instruction and both candidates go into one prompt
 * (a cross-encoder), the judge optionally writes a rationale, and the score of an ordered pair is
 * {@code log P(verdictFirst) - log P(verdictSecond)} at the first token where the two verdicts differ. An
 * instruction-tuned judge ({@link JudgeTemplate#useChatTemplate()}) reads the comparison as a user's turn in
 * its own chat format, and its verdict is the start of its answer.
 *
 * <p>All pairs of a request are decoded together: every prompt prefix that several pairs share (the
 * instruction, and the first candidate with it for pairs that show it first) is decoded once and copied
 * to the sequences that need it ({@link SequenceDecoder#prefillShared}), then every rationale step goes
 * through one {@code llama_decode} for all pairs. Pairs beyond the context's {@code maxSequences}, or
 * beyond its cells, are processed in further rounds. The sequences of the last round stay in the
 * context's KV cache, and the next call starts from the prefixes they hold while no one else has used the
 * context (a bubble ranking's next comparison shows the same instruction and the incumbent again).
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
    /** The judge's own chat format frames each comparison (the template asks for it and the model has one). */
    private final boolean chat;
    private long tokensDecoded;
    private long tokensGenerated;
    /** What the last round left in the KV cache, for the next call's shared prefixes; null: nothing. */
    private SequenceDecoder.Snapshot kept;

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
        this.chat = template.useChatTemplate() && vocab.chatTemplate().isPresent();
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

    /**
     * The prompt tokens of one comparison. In chat form the comparison is the user's turn and the answer starts
     * at once: a reasoning template is asked not to think, and a thinking part its generation prompt opens
     * anyway is closed, so the verdict is the assistant's first word.
     */
    private int[] prompt(String comparison) {
        if (!chat) {
            return vocab.tokenize(comparison);
        }
        return vocab.tokenizeChat(chatPrompt(comparison));
    }

    private String chatPrompt(String comparison) {
        String rendered = vocab.applyChatTemplate(List.of(ChatMessage.user(comparison)),
                ChatOptions.defaults().withVariable(ChatOptions.ENABLE_THINKING, false));
        return vocab.reasoning().closeThinking(rendered);
    }

    /**
     * How {@code text} tokenises where the judge writes it: after other text ({@code "a"}), or at the start of the
     * answer in chat form; the tokens the text adds there, or the text alone where it merges across the boundary.
     */
    private int[] continuation(String text) {
        Function<String, int[]> tokens = chat ? vocab::tokenizeChat : t -> vocab.tokenize(t, false, false);
        String before = chat ? chatPrompt("x") : "a";
        int[] base = tokens.apply(before);
        int[] with = tokens.apply(before + text);
        if (with.length > base.length && Arrays.equals(base, Arrays.copyOf(with, base.length))) {
            return Arrays.copyOfRange(with, base.length, with.length);
        }
        return vocab.tokenize(text, false, false);
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
            prompts[i] = prompt(template.render(instruction, candidates.get(p.first()), candidates.get(p.second())));
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
            round(prompts, from, to, cells, out);
            from = to;
        }
        return out;
    }

    /** Scores prompts[from..to), which need at most {@code cells} KV cells unshared, with one sequence each. */
    private void round(int[][] prompts, int from, int to, long cells, double[] out) {
        int n = to - from;
        SequenceDecoder.Snapshot resume = kept;
        kept = null;
        try (SequenceDecoder decoder = new SequenceDecoder(ctx, this::checkCancelled, resume)) {
            try {
                int[] seqs = emptySequences(decoder, n);
                if (seqs == null || decoder.freeCells() < cells) {
                    decoder.reset(); // what the last round left does not leave room for this one
                    seqs = emptySequences(decoder, n);
                }
                score(decoder, seqs, Arrays.copyOfRange(prompts, from, to), from, out);
                kept = decoder.snapshot();
            } finally {
                tokensDecoded += decoder.tokensDecoded();
            }
        }
    }

    /** The first {@code n} sequence ids that hold nothing, or null when fewer are free. */
    private static int[] emptySequences(SequenceDecoder decoder, int n) {
        int[] seqs = new int[n];
        int k = 0;
        for (int s = 0; s < decoder.context().maxSequences() && k < n; s++) {
            if (!decoder.isLive(s)) {
                seqs[k++] = s;
            }
        }
        return k == n ? seqs : null;
    }

    private boolean checkCancelled() {
        if (cancelled.getAsBoolean()) {
            throw new CancellationException("ranking cancelled");
        }
        return false;
    }

    private void score(SequenceDecoder decoder, int[] seqs, int[][] prompts, int from, double[] out) {
        int n = seqs.length;
        decoder.prefillShared(seqs, prompts);
        // the last round's sequences have lent their prefixes: their cells go to the rationales
        boolean[] mine = new boolean[ctx.maxSequences()];
        for (int s : seqs) {
            mine[s] = true;
        }
        for (int s = 0; s < mine.length; s++) {
            if (!mine[s]) {
                decoder.end(s);
            }
        }
        double[] early = null;
        if (template.rationaleStop() != null) {
            early = rationale(decoder, seqs);
        }
        if (verdictPrefix.length > 0) {
            int[][] prefix = new int[n][];
            Arrays.fill(prefix, verdictPrefix);
            decoder.append(seqs, prefix, LogitsFor.LAST);
        }
        for (int i = 0; i < n; i++) {
            out[from + i] = early != null && verdictPrefix.length == 0 ? early[i] : verdict(decoder, seqs[i]);
        }
    }

    private double verdict(SequenceDecoder decoder, int seq) {
        MemorySegment logits = decoder.logits(seq);
        return logits.getAtIndex(ValueLayout.JAVA_FLOAT, firstVerdictToken)
                - logits.getAtIndex(ValueLayout.JAVA_FLOAT, secondVerdictToken);
    }

    /**
     * Greedy rationale for every sequence until its text ends with the stop (forced after the budget).
     * Returns each sequence's verdict score as its rationale ended: with no verdict prefix decoded after
     * the rationale, a sequence that ended before the others has no current logits later.
     */
    private double[] rationale(SequenceDecoder decoder, int[] seqIds) {
        int n = seqIds.length;
        String stop = template.rationaleStop();
        int budget = template.maxRationaleTokens();
        // the rationale's stop is no stop string: it is text the rationale ends with, decoded before the verdict
        DecodeOptions greedy = DecodeOptions.greedy(Math.max(1, budget));
        TokenLoop.Tokens tokens = TokenLoop.Tokens.of(vocab);
        TokenLoop[] written = new TokenLoop[n];
        boolean[] done = new boolean[n];
        int[] forced = new int[n]; // next stop token to force, once the budget is spent
        double[] verdicts = new double[n];
        for (int s = 0; s < n; s++) {
            written[s] = new TokenLoop(s, greedy, 0, null, tokens, TokenListener.NONE);
            if (budget == 0) {
                written[s].finish(FinishReason.LENGTH);
            }
        }
        float[] scratch = new float[ctx.vocabSize()];
        int live = n;
        while (live > 0) {
            int[] seqs = new int[live];
            int[][] fed = new int[live][];
            int k = 0;
            for (int s = 0; s < n; s++) {
                if (done[s]) {
                    continue;
                }
                int[] next = null;
                if (written[s].live()) {
                    decoder.copyLogits(seqIds[s], scratch);
                    int token = written[s].sample(scratch, scratch.length, -1);
                    // an end token is not written: the judge wants to stop, and is given the stop text at once
                    if (written[s].take(token, 0f) || written[s].reason() != FinishReason.END_OF_GENERATION) {
                        next = new int[] {token};
                    }
                }
                if (next == null) {
                    // the budget is spent: the stop text goes in in one decode, as far as it is needed
                    next = forcedStop(written[s], forced[s]);
                    forced[s] += next.length;
                }
                seqs[k] = seqIds[s];
                fed[k++] = next;
            }
            decoder.append(seqs, fed, LogitsFor.LAST);
            for (int[] f : fed) {
                tokensGenerated += f.length;
            }
            live = 0;
            for (int s = 0; s < n; s++) {
                if (!done[s] && (written[s].text().stripTrailing().endsWith(stop)
                        || forced[s] == stopTokens.length && forced[s] > 0)) {
                    done[s] = true;
                    if (verdictPrefix.length == 0) {
                        verdicts[s] = verdict(decoder, seqIds[s]);
                    }
                }
                live += done[s] ? 0 : 1;
            }
        }
        return verdicts;
    }

    /**
     * The stop tokens from {@code from} on, up to the first after which the text ends with the stop (what
     * forcing them one step at a time would feed), each written to the rationale's text.
     */
    private int[] forcedStop(TokenLoop rationale, int from) {
        String stop = template.rationaleStop();
        int to = from;
        while (to < stopTokens.length) {
            rationale.write(vocab.piece(stopTokens[to++], false));
            if (rationale.text().stripTrailing().endsWith(stop)) {
                break;
            }
        }
        return Arrays.copyOfRange(stopTokens, from, to);
    }

    /** Tokens this judge has put through the model so far (prompts, rationales, verdict prefixes): its cost. */
    @Override
    public long tokensDecoded() {
        return tokensDecoded;
    }

    /** Rationale tokens this judge has written so far (part of {@link #tokensDecoded()}). */
    @Override
    public long tokensGenerated() {
        return tokensGenerated;
    }
}
