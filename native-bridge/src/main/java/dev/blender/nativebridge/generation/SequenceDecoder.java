package dev.blender.nativebridge.generation;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.blender.nativebridge.Batch;
import dev.blender.nativebridge.DecodeException;
import dev.blender.nativebridge.LlamaContext;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Several sequences of one {@link LlamaContext}, decoded together: the one decode loop that candidate
 * generation, mixing, judging and scoring share.
 *
 * <p>An encoder-decoder model (T5) reads its prompt with {@link #encode} first; its sequences then hold only
 * what the decoder wrote, starting from the model's decoder start token.
 *
 * <p>A sequence is a sequence id of the context ({@code 0 .. maxSequences()-1}) with the tokens put
 * into it so far. {@link #prefill} puts a prompt into an empty sequence; {@link #fork} gives another
 * sequence the same tokens by copying KV cells, not by decoding them again ({@link #prefillShared}
 * does both for several prompts, decoding each shared prefix once); {@link #append} and
 * {@link #step} add tokens to any set of live sequences in one {@code llama_decode}, or in several when
 * they exceed the context's batch size; {@link #end} frees a sequence's cells. The decoder keeps each
 * sequence's next position, so callers never compute one.
 *
 * <p>Logits: an append asks for the logits of some of its tokens (none, the last, all, or from an
 * index on), and {@link #logits(int)} / {@link #logits(int, int)} read them in place until the next
 * decode of this decoder. A view held past that throws {@link IllegalStateException}, and asking for
 * logits a later decode has replaced throws too, naming why: llama.cpp keeps only the last decode's
 * logits, so a sequence left out of a step has none. A forked sequence reads its source's logits.
 *
 * <p>Capacity: an append that needs more KV cells than are free fails before anything is decoded,
 * with a {@link DecodeException} whose {@link DecodeException#isKvCacheFull()} is true; check
 * {@link #freeCells()} first to end a generation cleanly instead.
 *
 * <p>Cancellation: the supplier given at construction is asked before every native decode; when it
 * answers true the append throws {@link CancellationException}. After any exception from an append,
 * {@link #reset()} before decoding again: tokens of earlier batches may already be in the cache.
 *
 * <p>The decoder empties the context's KV cache when created, unless it resumes the sequences an earlier
 * decoder left ({@link Snapshot}; then they lend their prefixes to {@link #prefillShared}), and assumes it
 * alone uses the context until closed. On a context created with
 * {@link dev.blender.nativebridge.ContextOptions#prefixReuse()} it keeps sequence 0 instead: what sequence 0
 * held when the previous decoder closed (and its prompt after {@link #end(int) end(0)}) stays in the cache,
 * and a {@link #prefill} of sequence 0 decodes only the part of its prompt after the tokens it shares with
 * that, at least its last token (whose logits it needs); {@link #reusedTokens()} counts what it did not
 * decode. Anything else that writes the context's cache or its LoRA adapters in between
 * ({@link LlamaContext#kvVersion()}) voids the kept tokens, so they are never reused stale. Not thread-safe:
 * it drives one context, like the context's own thread rules. Close it (idempotent) to free its batch;
 * closing does not close the context.
 */
public final class SequenceDecoder implements AutoCloseable {
    /** Which of a sequence's appended tokens get logits. */
    public enum LogitsFor {
        NONE, LAST, ALL
    }

    private final LlamaContext ctx;
    private final BooleanSupplier cancelled;
    private final Batch batch;
    private final int vocabSize;
    private final boolean[] live;
    private final int[] next;
    /** The tokens each sequence holds: {@code held[s][0 .. next[s])}. */
    private final int[][] held;
    /** The append whose outputs each sequence's logits come from; -1 none. */
    private final long[] outCall;
    /** Position of a sequence's first token with logits in that append. */
    private final int[] outFrom;
    private final int[] outCount;
    /** Per output token: its row in the context's last decode (>= 0), or {@code -1 - i} for pinned copy i. */
    private final int[][] outSlot;
    /** Copies of logits from earlier batches of a split append, which the later batches overwrote natively. */
    private final List<MemorySegment> pinned = new ArrayList<>();
    private Arena pinArena;
    private long call;
    private long tokensDecoded;
    private long reusedTokens;
    /** The context's prefixReuse: sequence 0 outlives end(0) and this decoder. */
    private final boolean keep;
    /** Tokens sequence 0's cells hold while it is not live (kept from before); null: none. */
    private int[] reusable;
    /** False once an append failed part way: the cache may then hold cells that {@code held} does not list. */
    private boolean intact = true;
    /** Where sequence 0's first append ended: its prompt, kept by end(0). */
    private int prompt0;
    // scratch for the order rows go into batches, reused so a decode loop allocates little
    private int[] rowSeq = new int[16];
    private int[] rowIndex = new int[16];
    private boolean closed;

    /** A decoder that is never cancelled. */
    public SequenceDecoder(LlamaContext ctx) {
        this(ctx, () -> false);
    }

    /** A decoder that asks {@code cancelled} before every decode (see the class comment). */
    public SequenceDecoder(LlamaContext ctx, BooleanSupplier cancelled) {
        this(ctx, cancelled, null);
    }

    /**
     * A decoder that takes over the sequences an earlier decoder of this context left in its KV cache
     * ({@link #snapshot()}), as sources for {@link #prefillShared} and {@link #fork(int, int, int)}, when no
     * one has used the context since ({@link LlamaContext#kvVersion()}); otherwise, or with a null
     * snapshot, it empties the cache as a new decoder does. Resumed sequences have no logits.
     */
    public SequenceDecoder(LlamaContext ctx, BooleanSupplier cancelled, Snapshot resume) {
        this.ctx = Objects.requireNonNull(ctx, "ctx");
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
        int seqs = ctx.maxSequences();
        this.vocabSize = ctx.vocabSize();
        this.live = new boolean[seqs];
        this.next = new int[seqs];
        this.held = new int[seqs][];
        this.outCall = new long[seqs];
        this.outFrom = new int[seqs];
        this.outCount = new int[seqs];
        this.outSlot = new int[seqs][];
        Arrays.fill(outCall, -1);
        this.keep = ctx.options().prefixReuse();
        int[] kept = keep && resume == null ? ctx.takeKeptPrefix() : new int[0];
        if (resume != null && resume.context == ctx && resume.kvVersion == ctx.kvVersion()
                && resume.tokens.length == seqs) {
            for (int s = 0; s < seqs; s++) {
                if (resume.tokens[s] != null) {
                    live[s] = true;
                    held[s] = resume.tokens[s].clone();
                    next[s] = held[s].length;
                }
            }
        } else if (kept.length > 0 && ctx.sequenceMaxPosition(0) == kept.length - 1) {
            ctx.keepSequence(0);
            reusable = kept;
        } else {
            ctx.clearKvCache();
        }
        this.batch = Batch.create(ctx.batchSize());
    }

    /**
     * What this decoder's sequences hold, for a later decoder of the same context to resume
     * ({@link #SequenceDecoder(LlamaContext, BooleanSupplier, Snapshot)}). Take it after the last decode.
     */
    public Snapshot snapshot() {
        checkOpen();
        int[][] tokens = new int[live.length][];
        for (int s = 0; s < live.length; s++) {
            if (live[s]) {
                tokens[s] = Arrays.copyOf(held[s], next[s]);
            }
        }
        return new Snapshot(ctx, ctx.kvVersion(), tokens);
    }

    /** The sequences a decoder left in its context's KV cache (see {@link #snapshot()}). Immutable. */
    public static final class Snapshot {
        private final LlamaContext context;
        private final long kvVersion;
        private final int[][] tokens;

        private Snapshot(LlamaContext context, long kvVersion, int[][] tokens) {
            this.context = context;
            this.kvVersion = kvVersion;
            this.tokens = tokens;
        }

        /** Whether a decoder made from this now finds the sequences still there. */
        public boolean isCurrent() {
            return context.isOpen() && context.kvVersion() == kvVersion;
        }
    }

    public LlamaContext context() {
        return ctx;
    }

    /** Ends every sequence and empties the KV cache. */
    public void reset() {
        checkOpen();
        unpin();
        ctx.clearKvCache();
        reusable = null;
        intact = true;
        Arrays.fill(live, false);
        Arrays.fill(next, 0);
        Arrays.fill(held, null);
        Arrays.fill(outCall, -1);
    }

    /** Whether a sequence holds tokens. */
    public boolean isLive(int seq) {
        checkSeq(seq);
        return live[seq];
    }

    /** How many tokens a sequence holds: the position its next token gets. */
    public int position(int seq) {
        checkSeq(seq);
        return next[seq];
    }

    /** The tokens a sequence holds, in order (empty for an empty sequence). */
    public int[] tokens(int seq) {
        checkSeq(seq);
        return live[seq] ? Arrays.copyOf(held[seq], next[seq]) : new int[0];
    }

    /** KV cells no sequence uses (a cell shared by forked sequences counts once). */
    public int freeCells() {
        checkOpen();
        return ctx.contextSize() - ctx.usedCells();
    }

    /** Tokens put through the model by this decoder (forks cost none). */
    public long tokensDecoded() {
        return tokensDecoded;
    }

    /** Prompt tokens that prefills of sequence 0 found kept in the cache instead of decoding them. */
    public long reusedTokens() {
        return reusedTokens;
    }

    /**
     * For an encoder-decoder model (T5): runs the encoder over {@code prompt} once for all of {@code seqs}, whose
     * decoders then read it through cross attention; {@link #prefill} each (or prefill one and {@link #fork} it)
     * with the decoder's start ({@link dev.blender.nativebridge.LlamaModel#decoderStartToken()}) to generate. The
     * input replaces the previous encode's for every sequence, so the sequences must be empty (a live one was
     * decoded against the old input), and so does what sequence 0 kept from an earlier decoder. Puts nothing in
     * the KV cache.
     *
     * @throws IllegalStateException    the model has no encoder, or one of {@code seqs} holds tokens
     * @throws IllegalArgumentException an empty prompt, no or repeated sequences, or a prompt longer than the
     *                                  context's micro-batch (the encoder reads it in one pass)
     * @throws CancellationException    cancelled before the encode
     */
    public void encode(int[] prompt, int[] seqs) {
        checkOpen();
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(seqs, "seqs");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("an empty prompt gives the encoder nothing to read");
        }
        if (seqs.length == 0) {
            throw new IllegalArgumentException("no sequences to encode the prompt for");
        }
        boolean[] seen = new boolean[live.length];
        for (int s : seqs) {
            checkSeq(s);
            if (seen[s]) {
                throw new IllegalArgumentException("sequence " + s + " appears twice");
            }
            seen[s] = true;
            if (live[s]) {
                throw new IllegalStateException("sequence " + s + " holds " + next[s] + " tokens decoded against the"
                        + " previous encoder input; end it before encoding a new prompt");
            }
        }
        if (cancelled.getAsBoolean()) {
            throw new CancellationException("encoding cancelled");
        }
        dropReusable();
        unpin();
        call++; // no sequence's logits survive an encode
        try (Batch b = Batch.create(prompt.length, seqs.length)) {
            for (int i = 0; i < prompt.length; i++) {
                b.add(prompt[i], i, seqs, false);
            }
            ctx.encode(b);
        }
        tokensDecoded += prompt.length;
    }

    /** Decodes a prompt into an empty sequence, with logits for its last token. */
    public void prefill(int seq, int[] prompt) {
        prefill(seq, prompt, new int[0]);
    }

    /**
     * Decodes a prompt into an empty sequence followed by a guess at its first tokens (speculative decoding), in the
     * same decode, with logits for the prompt's last token and every guessed one; {@link #truncate} then takes back
     * what the model does not agree with. Only the prompt counts as the prompt that a context with prefix reuse
     * keeps.
     */
    public void prefill(int seq, int[] prompt, int[] guess) {
        Objects.requireNonNull(guess, "guess");
        checkSeq(seq);
        if (live[seq]) {
            throw new IllegalArgumentException("sequence " + seq + " already holds " + next[seq]
                    + " tokens; prefill starts an empty sequence (end it first, or append)");
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("an empty prompt gives no logits to continue from");
        }
        if (seq == 0 && reusable != null) {
            // the last prompt token is decoded even when kept: its logits are what the caller reads
            int shared = 0;
            int most = Math.min(reusable.length, prompt.length - 1);
            while (shared < most && reusable[shared] == prompt[shared]) {
                shared++;
            }
            reusable = null;
            if (shared == 0 || !ctx.removeSequence(0, shared, -1)) {
                ctx.removeSequence(0);
                shared = 0;
            }
            if (shared > 0) {
                live[0] = true;
                next[0] = shared;
                outCall[0] = -1;
                held[0] = Arrays.copyOf(prompt, Math.max(16, prompt.length));
                prompt0 = prompt.length;
                reusedTokens += shared;
                append(0, concat(Arrays.copyOfRange(prompt, shared, prompt.length), guess), prompt.length - shared - 1);
                prompt0 = prompt.length;
                return;
            }
        }
        append(seq, concat(prompt, guess), prompt.length - 1);
        if (seq == 0) {
            prompt0 = prompt.length; // the guess is not the prompt: end(0) keeps only the prompt
        }
    }

    private static int[] concat(int[] a, int[] b) {
        if (b.length == 0) {
            return a;
        }
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /**
     * Appends tokens to one sequence, with logits for {@code tokens[firstOutput..]}
     * ({@code firstOutput == tokens.length}: none).
     */
    public void append(int seq, int[] tokens, int firstOutput) {
        decode(new int[] {seq}, new int[][] {tokens}, new int[] {firstOutput});
    }

    /** Appends {@code tokens[i]} to sequence {@code seqs[i]} for every i, in as few decodes as the batch allows. */
    public void append(int[] seqs, int[][] tokens, LogitsFor logits) {
        Objects.requireNonNull(logits, "logits");
        int[] first = new int[seqs.length];
        for (int i = 0; i < seqs.length; i++) {
            first[i] = switch (logits) {
                case NONE -> tokens[i].length;
                case LAST -> Math.max(0, tokens[i].length - 1);
                case ALL -> 0;
            };
        }
        decode(seqs, tokens, first);
    }

    /** Appends one token to each of {@code seqs}, with logits: one generation step of them all. */
    public void step(int[] seqs, int[] tokens) {
        if (seqs.length != tokens.length) {
            throw new IllegalArgumentException(seqs.length + " sequences but " + tokens.length + " tokens");
        }
        int[][] one = new int[seqs.length][];
        int[] first = new int[seqs.length];
        for (int i = 0; i < seqs.length; i++) {
            one[i] = new int[] {tokens[i]};
        }
        decode(seqs, one, first);
    }

    /**
     * Makes empty sequence {@code dst} hold what {@code src} holds, sharing its KV cells; {@code dst}
     * reads {@code src}'s current logits until its own next decode.
     */
    public void fork(int src, int dst) {
        checkOpen();
        checkSeq(src);
        checkSeq(dst);
        if (!live[src]) {
            throw new IllegalArgumentException("sequence " + src + " holds no tokens to fork");
        }
        if (live[dst] || src == dst) {
            throw new IllegalArgumentException("sequence " + dst + " already holds tokens; fork into an empty one");
        }
        if (dst == 0) {
            dropReusable();
        }
        ctx.copySequence(src, dst);
        live[dst] = true;
        next[dst] = next[src];
        held[dst] = Arrays.copyOf(held[src], next[src]);
        outCall[dst] = outCall[src];
        outFrom[dst] = outFrom[src];
        outCount[dst] = outCount[src];
        outSlot[dst] = outSlot[src] == null ? null : outSlot[src].clone();
    }

    /**
     * Makes empty sequence {@code dst} hold the first {@code length} tokens of {@code src}, sharing their KV
     * cells. With all of them it is {@link #fork(int, int)}; with fewer, {@code dst} has no logits until its
     * next decode.
     */
    public void fork(int src, int dst, int length) {
        checkOpen();
        checkSeq(src);
        checkSeq(dst);
        if (!live[src] || length < 1 || length > next[src]) {
            throw new IllegalArgumentException("sequence " + src + " holds " + next[src] + " tokens; cannot fork "
                    + length + " of them");
        }
        if (length == next[src]) {
            fork(src, dst);
            return;
        }
        if (live[dst] || src == dst) {
            throw new IllegalArgumentException("sequence " + dst + " already holds tokens; fork into an empty one");
        }
        extend(src, dst, length);
    }

    /**
     * Gives {@code dst} (empty, or holding what {@code src} holds up to its own length) {@code src}'s cells
     * up to position {@code to}; {@code dst} has no logits afterwards.
     */
    private void extend(int src, int dst, int to) {
        int from = live[dst] ? next[dst] : 0;
        ctx.copySequence(src, dst, from, to);
        int[] h = held[dst] == null || held[dst].length < to ? Arrays.copyOf(held[dst] == null ? new int[0] : held[dst],
                Math.max(to, 16)) : held[dst];
        System.arraycopy(held[src], from, h, from, to - from);
        held[dst] = h;
        live[dst] = true;
        next[dst] = to;
        outCall[dst] = -1;
    }

    /**
     * Puts {@code prompts[i]} into empty sequence {@code seqs[i]} for every i, each with logits for its last
     * token, decoding each prefix once: where prompts share a prefix, and where a live sequence outside
     * {@code seqs} already holds one (left by earlier calls or a resumed decoder), the cells are shared by
     * KV copy instead of decoded again. The prefixes go in one decode per level of the prompts' prefix tree,
     * the last tokens in one more. Gives the logits of prefilling each prompt alone, up to float summation
     * order.
     */
    public void prefillShared(int[] seqs, int[][] prompts) {
        checkOpen();
        Objects.requireNonNull(seqs, "seqs");
        Objects.requireNonNull(prompts, "prompts");
        if (seqs.length != prompts.length) {
            throw new IllegalArgumentException(seqs.length + " sequences but " + prompts.length + " prompts");
        }
        boolean[] target = new boolean[live.length];
        for (int i = 0; i < seqs.length; i++) {
            checkSeq(seqs[i]);
            if (target[seqs[i]]) {
                throw new IllegalArgumentException("sequence " + seqs[i] + " appears twice");
            }
            target[seqs[i]] = true;
            if (live[seqs[i]]) {
                throw new IllegalArgumentException("sequence " + seqs[i] + " already holds " + next[seqs[i]]
                        + " tokens; prefill starts an empty sequence (end it first, or append)");
            }
            if (prompts[i].length == 0) {
                throw new IllegalArgumentException("an empty prompt gives no logits to continue from");
            }
        }
        if (seqs.length == 0) {
            return;
        }
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < seqs.length; i++) {
            all.add(i);
        }
        // every sequence decodes its last token itself, in the final step, so that all have logits together
        List<PrefixNode> level = List.of(prefixTree(prompts, all, 0, 0));
        while (!level.isEmpty()) {
            List<Integer> appendSeqs = new ArrayList<>();
            List<int[]> appendTokens = new ArrayList<>();
            List<PrefixNode> below = new ArrayList<>();
            for (PrefixNode node : level) {
                int carrier = seqs[node.carrier];
                int[] path = prompts[node.carrier];
                int have = live[carrier] ? next[carrier] : 0;
                // a live sequence outside this prefill that already holds more of the path lends its cells
                int bestSource = -1;
                int best = have;
                for (int s = 0; s < live.length; s++) {
                    if (live[s] && !target[s] && s != carrier) {
                        int m = Math.min(commonPrefix(held[s], next[s], path, node.to), node.to);
                        if (m > best) {
                            best = m;
                            bestSource = s;
                        }
                    }
                }
                if (bestSource >= 0) {
                    extend(bestSource, carrier, best);
                    have = best;
                }
                if (have < node.to) {
                    appendSeqs.add(carrier);
                    appendTokens.add(Arrays.copyOfRange(path, have, node.to));
                }
                below.add(node);
            }
            if (!appendSeqs.isEmpty()) {
                append(appendSeqs.stream().mapToInt(Integer::intValue).toArray(), appendTokens.toArray(int[][]::new),
                        LogitsFor.NONE);
            }
            List<PrefixNode> nextLevel = new ArrayList<>();
            for (PrefixNode node : below) {
                int carrier = seqs[node.carrier];
                // the prompts that end here and the branches below start from the carrier's cells
                for (int m : node.ending) {
                    if (m != node.carrier && node.to > 0) {
                        extend(carrier, seqs[m], node.to);
                    }
                }
                for (PrefixNode child : node.children) {
                    if (child.carrier != node.carrier && node.to > 0) {
                        extend(carrier, seqs[child.carrier], node.to);
                    }
                    nextLevel.add(child);
                }
            }
            level = nextLevel;
        }
        int[] last = new int[seqs.length];
        for (int i = 0; i < seqs.length; i++) {
            last[i] = prompts[i][prompts[i].length - 1];
        }
        step(seqs, last);
    }

    /**
     * A node of the prefix tree over {@code prompts[i][0 .. length - 1)} for i in {@code members}: the
     * span {@code [from, to)} all of them share, decoded into the sequence of {@code carrier} (the first
     * member, which continues into the first branch), the members whose prefix ends at {@code to}, and the
     * branches that go on.
     */
    private record PrefixNode(int from, int to, int carrier, List<Integer> ending, List<PrefixNode> children) {}

    private static PrefixNode prefixTree(int[][] prompts, List<Integer> members, int from, int depth) {
        if (depth > 4096) {
            throw new IllegalStateException("prefix tree deeper than 4096 levels");
        }
        int end = Integer.MAX_VALUE;
        for (int m : members) {
            end = Math.min(end, prompts[m].length - 1);
        }
        int to = from;
        int[] first = prompts[members.get(0)];
        while (to < end) {
            int t = first[to];
            boolean same = true;
            for (int m : members) {
                if (prompts[m][to] != t) {
                    same = false;
                    break;
                }
            }
            if (!same) {
                break;
            }
            to++;
        }
        List<Integer> ending = new ArrayList<>();
        java.util.Map<Integer, List<Integer>> branches = new java.util.LinkedHashMap<>();
        for (int m : members) {
            if (prompts[m].length - 1 == to) {
                ending.add(m);
            } else {
                branches.computeIfAbsent(prompts[m][to], k -> new ArrayList<>()).add(m);
            }
        }
        List<PrefixNode> children = new ArrayList<>();
        for (List<Integer> b : branches.values()) {
            children.add(prefixTree(prompts, b, to, depth + 1));
        }
        return new PrefixNode(from, to, members.get(0), ending, children);
    }

    private static int commonPrefix(int[] a, int aLength, int[] b, int bLength) {
        int n = Math.min(aLength, bLength);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    /** Frees a sequence's cells (those it shares with others stay theirs); no-op for an empty one. */
    public void end(int seq) {
        checkOpen();
        checkSeq(seq);
        if (live[seq]) {
            if (seq == 0 && keep && intact && prompt0 > 0 && prompt0 <= next[0]
                    && ctx.removeSequence(0, prompt0, -1)) {
                // the prompt stays for a later prefill: its cells are shared with the forks anyway
                reusable = Arrays.copyOf(held[0], prompt0);
            } else {
                ctx.removeSequence(seq);
            }
            live[seq] = false;
            next[seq] = 0;
            held[seq] = null;
            outCall[seq] = -1;
        }
    }

    /**
     * Drops a sequence's tokens from position {@code length} on, so that it holds its first {@code length}: how a
     * speculative step takes back the drafted tokens the model did not agree with. The logits of the positions
     * kept stay readable as they were; the next append continues at {@code length}.
     *
     * @throws IllegalArgumentException {@code length} outside {@code 1 .. position(seq)}
     * @throws IllegalStateException    the model's memory cannot drop a partial range (a recurrent model, see
     *                                  {@link dev.blender.nativebridge.LlamaModel#hasRecurrentState()}); the
     *                                  sequence is then as it was
     */
    public void truncate(int seq, int length) {
        checkOpen();
        checkSeq(seq);
        if (!live[seq] || length < 1 || length > next[seq]) {
            throw new IllegalArgumentException("sequence " + seq + " holds " + next[seq] + " tokens; cannot keep "
                    + length + " of them");
        }
        if (length == next[seq]) {
            return;
        }
        if (!ctx.removeSequence(seq, length, -1)) {
            throw new IllegalStateException("the memory of " + ctx.model().path().getFileName() + " cannot drop the"
                    + " last positions of a sequence (a recurrent state)");
        }
        next[seq] = length;
        if (seq == 0 && prompt0 > length) {
            prompt0 = length; // end(0) keeps only what sequence 0 still holds
        }
        if (outCall[seq] >= 0) {
            outCount[seq] = Math.max(0, Math.min(outCount[seq], length - outFrom[seq]));
        }
    }

    /** The logits after a sequence's last token, in place (see the class comment for how long). */
    public MemorySegment logits(int seq) {
        checkSeq(seq);
        return logits(seq, next[seq] - 1);
    }

    /** The logits after the token at {@code position} of a sequence's latest append. */
    public MemorySegment logits(int seq, int position) {
        checkOpen();
        checkSeq(seq);
        if (!live[seq]) {
            throw new IllegalStateException("sequence " + seq + " holds no tokens, so it has no logits");
        }
        if (outCall[seq] < 0) {
            throw new IllegalStateException("sequence " + seq + " has no logits: its last tokens were decoded"
                    + " without asking for any");
        }
        if (outCall[seq] != call) {
            throw new IllegalStateException("sequence " + seq + "'s logits are stale: a later decode of other"
                    + " sequences replaced them (llama.cpp keeps only the last decode's); read them before that");
        }
        int k = position - outFrom[seq];
        if (k < 0 || k >= outCount[seq]) {
            throw new IllegalStateException("no logits for position " + position + " of sequence " + seq
                    + ": its latest append asked for " + (outCount[seq] == 0 ? "none"
                    : "positions " + outFrom[seq] + ".." + (outFrom[seq] + outCount[seq] - 1)));
        }
        int slot = outSlot[seq][k];
        return slot >= 0 ? ctx.logits(slot) : pinned.get(-1 - slot);
    }

    /** Copies the logits after a sequence's last token into {@code dst} (length >= vocabSize). */
    public void copyLogits(int seq, float[] dst) {
        MemorySegment.copy(logits(seq), JAVA_FLOAT, 0, dst, 0, vocabSize);
    }

    /**
     * The pooled embedding of a sequence of an embeddings context (for rank pooling, its score), after an
     * append that gave that sequence outputs and was the decoder's latest.
     */
    public float[] sequenceEmbedding(int seq) {
        checkOpen();
        checkSeq(seq);
        if (!live[seq] || outCall[seq] != call || outCount[seq] == 0) {
            throw new IllegalStateException("sequence " + seq + " was not in the latest decode with outputs");
        }
        return ctx.sequenceEmbedding(seq);
    }

    private void decode(int[] seqs, int[][] tokens, int[] firstOutput) {
        checkOpen();
        Objects.requireNonNull(seqs, "seqs");
        Objects.requireNonNull(tokens, "tokens");
        if (seqs.length != tokens.length) {
            throw new IllegalArgumentException(seqs.length + " sequences but " + tokens.length + " token lists");
        }
        int total = 0;
        boolean[] seen = new boolean[live.length];
        for (int i = 0; i < seqs.length; i++) {
            int s = seqs[i];
            checkSeq(s);
            if (seen[s]) {
                throw new IllegalArgumentException("sequence " + s + " appears twice in one append");
            }
            seen[s] = true;
            if (firstOutput[i] < 0 || firstOutput[i] > tokens[i].length) {
                throw new IllegalArgumentException("first token with logits " + firstOutput[i] + " outside 0.."
                        + tokens[i].length + " for sequence " + s);
            }
            total += tokens[i].length;
        }
        if (total == 0) {
            return;
        }
        if (seen[0] && !live[0]) {
            dropReusable(); // sequence 0 starts afresh: the kept tokens are not its prefix
        }
        int free = freeCells();
        if (total > free) {
            throw new DecodeException(1, "no KV-cache room for " + total + " more tokens: " + free + " of the"
                    + " context's " + ctx.contextSize() + " cells are free; end finished sequences or create the"
                    + " context with a larger contextSize");
        }
        int capacity = batch.capacity();
        boolean split = total > capacity;
        if (split && ctx.options().embeddings()) {
            // pooling needs each sequence whole in one decode: a split one would be pooled in halves
            throw new IllegalArgumentException(total + " tokens exceed the embeddings context's batchSize "
                    + capacity + "; pooled sequences must go into one decode");
        }
        plan(seqs, tokens, firstOutput, total, split);
        unpin();
        call++;
        for (int i = 0; i < seqs.length; i++) {
            int s = seqs[i];
            if (tokens[i].length == 0) {
                continue;
            }
            int have = live[s] ? next[s] : 0;
            int need = have + tokens[i].length;
            if (held[s] == null || held[s].length < need) {
                held[s] = Arrays.copyOf(held[s] == null ? new int[0] : held[s], Math.max(need, have * 2));
            }
            System.arraycopy(tokens[i], 0, held[s], have, tokens[i].length);
            live[s] = true;
            outCall[s] = -1; // until the append succeeds
            outFrom[s] = next[s] + firstOutput[i];
            outCount[s] = tokens[i].length - firstOutput[i];
            if (outSlot[s] == null || outSlot[s].length < outCount[s]) {
                outSlot[s] = new int[Math.max(outCount[s], 1)];
            }
        }
        int[] where = new int[live.length]; // sequence id -> index into seqs
        int[] start = new int[seqs.length];
        for (int i = 0; i < seqs.length; i++) {
            where[seqs[i]] = i;
            start[i] = next[seqs[i]];
        }
        if (seen[0] && start[where[0]] == 0) {
            prompt0 = tokens[where[0]].length; // what end(0) keeps
        }
        for (int from = 0; from < total; from += capacity) {
            int to = Math.min(total, from + capacity);
            if (cancelled.getAsBoolean()) {
                intact = false; // some batches of this append may be in the cache already
                throw new CancellationException("decoding cancelled");
            }
            batch.clear();
            for (int r = from; r < to; r++) {
                int i = where[rowSeq[r]];
                int k = rowIndex[r];
                batch.add(tokens[i][k], start[i] + k, rowSeq[r], k >= firstOutput[i]);
            }
            tokensDecoded += batch.size();
            try {
                ctx.decode(batch);
            } catch (RuntimeException e) {
                intact = false;
                throw e;
            }
            boolean last = to == total;
            for (int r = from; r < to; r++) {
                int i = where[rowSeq[r]];
                int k = rowIndex[r];
                if (k >= firstOutput[i]) {
                    outSlot[rowSeq[r]][k - firstOutput[i]] = last ? r - from : pin(r - from);
                }
            }
            for (int r = from; r < to; r++) {
                int i = where[rowSeq[r]];
                next[rowSeq[r]] = Math.max(next[rowSeq[r]], start[i] + rowIndex[r] + 1);
            }
        }
        for (int i = 0; i < seqs.length; i++) {
            if (tokens[i].length > 0) {
                outCall[seqs[i]] = call;
            }
        }
    }

    /**
     * The order rows go into batches. When all fit one batch: sequence by sequence, each one's tokens in
     * order. Otherwise every token without logits first, so the ones with logits (a suffix of each
     * sequence's tokens, which keeps each sequence in order) share the last batch as far as they fit and
     * few logits need copying out of earlier batches.
     */
    private void plan(int[] seqs, int[][] tokens, int[] firstOutput, int total, boolean split) {
        if (rowSeq.length < total) {
            rowSeq = new int[Math.max(total, rowSeq.length * 2)];
            rowIndex = new int[rowSeq.length];
        }
        int r = 0;
        if (!split) {
            for (int i = 0; i < seqs.length; i++) {
                for (int k = 0; k < tokens[i].length; k++) {
                    rowSeq[r] = seqs[i];
                    rowIndex[r++] = k;
                }
            }
            return;
        }
        for (int i = 0; i < seqs.length; i++) {
            for (int k = 0; k < firstOutput[i]; k++) {
                rowSeq[r] = seqs[i];
                rowIndex[r++] = k;
            }
        }
        for (int i = 0; i < seqs.length; i++) {
            for (int k = firstOutput[i]; k < tokens[i].length; k++) {
                rowSeq[r] = seqs[i];
                rowIndex[r++] = k;
            }
        }
    }

    /** Frees the cells kept for sequence 0 before something else goes into it. */
    private void dropReusable() {
        if (reusable != null) {
            reusable = null;
            ctx.removeSequence(0);
        }
    }

    private int pin(int row) {
        if (pinArena == null) {
            pinArena = Arena.ofShared();
        }
        MemorySegment copy = pinArena.allocate(JAVA_FLOAT, vocabSize);
        MemorySegment.copy(ctx.logits(row), 0, copy, 0, (long) vocabSize * Float.BYTES);
        pinned.add(copy.asReadOnly());
        return -pinned.size();
    }

    private void unpin() {
        if (pinArena != null) {
            pinArena.close();
            pinArena = null;
        }
        pinned.clear();
    }

    private void checkSeq(int seq) {
        if (seq < 0 || seq >= live.length) {
            throw new IllegalArgumentException("sequence id " + seq + " outside 0.." + (live.length - 1)
                    + " (create the context with maxSequences > " + seq + ")");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("sequence decoder is closed");
        }
    }

    /** Frees the decoder's batch and copied logits; the context and its KV cache stay as they are. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            unpin();
            batch.close();
            if (keep && ctx.isOpen()) {
                int[] tokens = live[0] ? (intact ? Arrays.copyOf(held[0], next[0]) : null) : reusable;
                if (tokens != null && tokens.length > 0) {
                    ctx.keepPrefix(tokens);
                }
            }
        }
    }
}
