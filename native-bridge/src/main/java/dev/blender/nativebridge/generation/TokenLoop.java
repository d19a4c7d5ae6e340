package dev.blender.nativebridge.generation;

import dev.blender.nativebridge.Vocab;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The rules every token loop applies to one sequence's output, in one place: cancellation (checked before each
 * token), sampling ({@link Sampler#of} from the {@link DecodeOptions}), end of generation (the end token is not
 * written), stop strings (across token boundaries, the stop excluded from the text, held back from the listener
 * until it can no longer become one: {@link StreamingText}), the length limit, the end of the context, streaming
 * to a {@link TokenListener}, and the {@link Candidate} it ends as.
 *
 * <p>{@link #run} is the loop itself for one sequence whose scores some {@link Source} computes (per-token mixing
 * of local or remote members). {@link Generator}, which steps many sequences in one decode and verifies guesses,
 * and a judge's rationale drive the same rules token by token: {@link #cancelled()}, {@link #sample},
 * {@link #take}, {@link #finish}.
 *
 * <p>Not thread-safe: one per sequence, on its generating thread. Per token it allocates only what the vocabulary
 * gives for a piece and the text the listener receives.
 */
public final class TokenLoop {
    /** How the loop reads the tokens it is given: the end of generation, and the bytes each writes. */
    public interface Tokens {
        boolean isEnd(int token);

        byte[] piece(int token);

        /** The id the output records for a token: the token itself, or -1 where ids mean nothing across steps. */
        default int id(int token) {
            return token;
        }

        /** A model's own vocabulary: its end-of-generation tokens end, pieces without special tokens' text. */
        static Tokens of(Vocab vocab) {
            return new Tokens() {
                @Override
                public boolean isEnd(int token) {
                    return vocab.isEndOfGeneration(token);
                }

                @Override
                public byte[] piece(int token) {
                    return vocab.piece(token, false);
                }
            };
        }
    }

    /** What a single-sequence loop ({@link #run}) steps through: the scores of each next token, and feeding it. */
    public interface Source {
        /**
         * Computes the scores of the next token (logits or log-probabilities over {@code 0 .. n)}) into
         * {@link #scores()}; returns n.
         */
        int next();

        /** The row {@link #next} filled; the loop samples from a copy, and a token's log-probability is its entry. */
        float[] scores();

        /** The token the sampler picked from the latest scores, before the rules see it (adaptive weights learn). */
        default void chosen(int token) {}

        /** Puts the written token into whatever produces the next scores; false when a context has no room. */
        boolean feed(int token);
    }

    private final int index;
    private final DecodeOptions options;
    private final Sampler sampler;
    private final Tokens tokens;
    private final TokenListener listener;
    private final StreamingText text;
    private final boolean penalties;
    private final long start = System.nanoTime();
    private int[] history;
    private int historyLength;
    private int generated;
    private int lastToken = -1;
    private float[] logProbs;
    private float[] scratch = new float[0];
    private FinishReason reason;
    private double generationMillis;

    /**
     * @param index   the candidate index the listener and the result carry
     * @param seed    the sampler's random stream (a batch gives each candidate its own)
     * @param context the tokens before the output, which a repetition penalty counts with it; null where token
     *                ids name different things at each step (a union of members' lists), so no penalty reads them
     */
    public TokenLoop(int index, DecodeOptions options, long seed, int[] context, Tokens tokens,
                     TokenListener listener) {
        this.index = index;
        this.options = Objects.requireNonNull(options, "options");
        this.tokens = Objects.requireNonNull(tokens, "tokens");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.sampler = Sampler.of(options.sampler(), seed);
        this.text = new StreamingText(options.stop());
        this.penalties = context != null;
        int before = context == null ? 0 : context.length;
        this.history = new int[before + Math.min(options.maxTokens(), 256)];
        if (context != null) {
            System.arraycopy(context, 0, history, 0, before);
        }
        this.historyLength = before;
        this.logProbs = new float[Math.min(options.maxTokens(), 256)];
    }

    /**
     * Runs the loop over one sequence: until {@code source}'s end token, a stop string, the length, a full context
     * or a cancellation; then streams the held-back text and returns the candidate.
     */
    public Candidate run(Source source, double promptMillis) {
        while (!cancelled()) {
            int n = source.next();
            float[] row = source.scores();
            if (scratch.length < n) {
                scratch = new float[n];
            }
            System.arraycopy(row, 0, scratch, 0, n); // the sampler's penalty rewrites what it reads
            int token = sample(scratch, n, -1);
            source.chosen(token);
            if (!take(token, row[token])) {
                break;
            }
            if (!source.feed(token)) {
                finish(FinishReason.CONTEXT_FULL);
                break;
            }
        }
        return result(promptMillis, List.of(), SpeculationStats.NONE);
    }

    /** Whether the sequence is still being written. */
    public boolean live() {
        return reason == null;
    }

    /** True, and the sequence finished as {@link FinishReason#CANCELLED}, once the request is cancelled. */
    public boolean cancelled() {
        if (live() && options.isCancelled()) {
            finish(FinishReason.CANCELLED);
        }
        return reason == FinishReason.CANCELLED;
    }

    /** The sampler's pick from {@code scores[0..n)}, which it may rewrite; {@code draft}: a guess, -1 none. */
    public int sample(float[] scores, int n, int draft) {
        return sampler.sample(scores, n, penalties ? history : null, historyLength, draft);
    }

    /**
     * The sampled token under the rules: an end token finishes the sequence unwritten; any other is written (its
     * text streamed) and finishes it when the text reaches a stop string or the output its length.
     *
     * @return whether the sequence goes on (the token then needs feeding)
     */
    public boolean take(int token, float logProb) {
        if (tokens.isEnd(token)) {
            finish(FinishReason.END_OF_GENERATION);
            return false;
        }
        int id = tokens.id(token);
        if (historyLength == history.length) {
            history = Arrays.copyOf(history, history.length * 2);
        }
        history[historyLength++] = id;
        if (generated == logProbs.length) {
            logProbs = Arrays.copyOf(logProbs, logProbs.length * 2);
        }
        logProbs[generated++] = logProb;
        lastToken = id;
        listener.onToken(index, id, text.append(tokens.piece(token)));
        if (text.stopped()) {
            finish(FinishReason.STOP);
        } else if (generated == options.maxTokens()) {
            finish(FinishReason.LENGTH);
        }
        return live();
    }

    /** Ends the sequence for a reason the caller found (a full context, a cancelled decode); no-op once ended. */
    public void finish(FinishReason why) {
        if (live()) {
            reason = Objects.requireNonNull(why, "why");
            generationMillis = (System.nanoTime() - start) / 1e6;
        }
    }

    /**
     * Text written after the sampled tokens by the caller, not the model's choice (a judge forcing its stop text
     * once the rationale's budget is spent): it joins {@link #text()}, not the tokens; nothing is streamed.
     */
    public void write(byte[] piece) {
        text.append(piece);
    }

    /** The text so far: complete characters, a stop string excluded. */
    public String text() {
        return text.text();
    }

    /** Tokens written so far. */
    public int generated() {
        return generated;
    }

    /** The last token written; -1 before the first. */
    public int lastToken() {
        return lastToken;
    }

    /** What the sequence has written so far (which a drafter continues). */
    public int[] generatedTokens() {
        return Arrays.copyOfRange(history, historyLength - generated, historyLength);
    }

    /** Why the sequence ended; null while it is live. */
    public FinishReason reason() {
        return reason;
    }

    /**
     * Streams the text held back for a stop string that never came, reports the candidate to the listener and
     * returns it. Call once, after the sequence ended.
     */
    public Candidate result(double promptMillis, List<TopLogprobs> steps, SpeculationStats speculation) {
        if (live()) {
            throw new IllegalStateException("candidate " + index + " is still being written");
        }
        String rest = text.flush();
        if (!rest.isEmpty()) {
            listener.onToken(index, -1, rest);
        }
        Candidate c = new Candidate(index, text.text(), generatedTokens(), Arrays.copyOf(logProbs, generated), reason,
                promptMillis, generationMillis, steps, speculation);
        listener.onFinish(c);
        return c;
    }
}
