package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Tokens to decode in one {@link LlamaContext#decode} call: each with its position, the sequences it
 * belongs to (a shared prompt token may belong to several) and whether logits are wanted for it.
 * The memory is allocated once in Java and reused across {@link #clear()}s, so a decode loop
 * allocates nothing.
 *
 * <p>Not thread-safe: fill and decode a batch from one thread. Close it when done (idempotent); a
 * closed batch throws {@link IllegalStateException}.
 */
public final class Batch implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int capacity;
    private final int maxSeqIdsPerToken;
    private final MemorySegment struct;
    private final MemorySegment tokens;
    private final MemorySegment positions;
    private final MemorySegment seqCounts;
    private final MemorySegment seqIds;
    private final MemorySegment logits;
    private int size;
    private int outputs;
    private boolean closed;

    private Batch(int capacity, int maxSeqIdsPerToken) {
        this.capacity = capacity;
        this.maxSeqIdsPerToken = maxSeqIdsPerToken;
        struct = arena.allocate(Layouts.BATCH);
        tokens = arena.allocate(JAVA_INT, capacity);
        positions = arena.allocate(JAVA_INT, capacity);
        seqCounts = arena.allocate(JAVA_INT, capacity);
        seqIds = arena.allocate(JAVA_INT, (long) capacity * maxSeqIdsPerToken);
        MemorySegment seqIdPointers = arena.allocate(ADDRESS, capacity);
        for (int i = 0; i < capacity; i++) {
            seqIdPointers.setAtIndex(ADDRESS, i, seqIds.asSlice((long) i * maxSeqIdsPerToken * Integer.BYTES));
        }
        logits = arena.allocate(JAVA_BYTE, capacity);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "token"), tokens);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "embd"), MemorySegment.NULL);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "pos"), positions);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "n_seq_id"), seqCounts);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "seq_id"), seqIdPointers);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "logits"), logits);
        struct.set(JAVA_INT, 0, 0);
    }

    /** A batch for up to {@code capacity} tokens, each in one sequence. */
    public static Batch create(int capacity) {
        return create(capacity, 1);
    }

    /** A batch for up to {@code capacity} tokens, each in up to {@code maxSeqIdsPerToken} sequences. */
    public static Batch create(int capacity, int maxSeqIdsPerToken) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, was " + capacity);
        }
        if (maxSeqIdsPerToken < 1) {
            throw new IllegalArgumentException("maxSeqIdsPerToken must be >= 1, was " + maxSeqIdsPerToken);
        }
        return new Batch(capacity, maxSeqIdsPerToken);
    }

    /** Adds a token of one sequence. Returns its index in the batch (the row of its logits). */
    public int add(int token, int position, int seqId, boolean wantLogits) {
        int i = prepare(position, wantLogits);
        if (seqId < 0) {
            throw new IllegalArgumentException("sequence id must be >= 0, was " + seqId);
        }
        seqIds.setAtIndex(JAVA_INT, (long) i * maxSeqIdsPerToken, seqId);
        seqCounts.setAtIndex(JAVA_INT, i, 1);
        return commit(i, token);
    }

    /** Adds a token shared by several sequences (e.g. a common prompt). Returns its index. */
    public int add(int token, int position, int[] seqIdsOfToken, boolean wantLogits) {
        if (seqIdsOfToken.length < 1 || seqIdsOfToken.length > maxSeqIdsPerToken) {
            throw new IllegalArgumentException("a token needs 1.." + maxSeqIdsPerToken
                    + " sequence ids in this batch, got " + seqIdsOfToken.length);
        }
        int i = prepare(position, wantLogits);
        for (int k = 0; k < seqIdsOfToken.length; k++) {
            if (seqIdsOfToken[k] < 0) {
                throw new IllegalArgumentException("sequence id must be >= 0, was " + seqIdsOfToken[k]);
            }
            seqIds.setAtIndex(JAVA_INT, (long) i * maxSeqIdsPerToken + k, seqIdsOfToken[k]);
        }
        seqCounts.setAtIndex(JAVA_INT, i, seqIdsOfToken.length);
        return commit(i, token);
    }

    /**
     * Adds consecutive tokens of one sequence starting at {@code firstPosition}; only the last asks for
     * logits when {@code logitsForLast}. Returns the index of the last token.
     */
    public int addSequence(int[] tokensToAdd, int firstPosition, int seqId, boolean logitsForLast) {
        if (tokensToAdd.length == 0) {
            throw new IllegalArgumentException("no tokens to add");
        }
        if (tokensToAdd.length > capacity - size) {
            throw full(tokensToAdd.length);
        }
        int last = -1;
        for (int k = 0; k < tokensToAdd.length; k++) {
            last = add(tokensToAdd[k], firstPosition + k, seqId, logitsForLast && k == tokensToAdd.length - 1);
        }
        return last;
    }

    private int prepare(int position, boolean wantLogits) {
        checkOpen();
        if (size == capacity) {
            throw full(1);
        }
        if (position < 0) {
            throw new IllegalArgumentException("position must be >= 0, was " + position);
        }
        positions.setAtIndex(JAVA_INT, size, position);
        logits.set(JAVA_BYTE, size, (byte) (wantLogits ? 1 : 0));
        if (wantLogits) {
            outputs++;
        }
        return size;
    }

    private int commit(int i, int token) {
        tokens.setAtIndex(JAVA_INT, i, token);
        size++;
        struct.set(JAVA_INT, 0, size);
        return i;
    }

    private IllegalStateException full(int adding) {
        return new IllegalStateException("batch capacity " + capacity + " exceeded: holds " + size
                + ", adding " + adding);
    }

    /** Empties the batch for reuse. */
    public void clear() {
        checkOpen();
        size = 0;
        outputs = 0;
        struct.set(JAVA_INT, 0, 0);
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return capacity;
    }

    public int maxSeqIdsPerToken() {
        return maxSeqIdsPerToken;
    }

    /** How many tokens of the batch asked for logits. */
    public int outputCount() {
        return outputs;
    }

    public int token(int i) {
        checkIndex(i);
        return tokens.getAtIndex(JAVA_INT, i);
    }

    public int position(int i) {
        checkIndex(i);
        return positions.getAtIndex(JAVA_INT, i);
    }

    public boolean wantsLogits(int i) {
        checkIndex(i);
        return logits.get(JAVA_BYTE, i) != 0;
    }

    int seqCount(int i) {
        return seqCounts.getAtIndex(JAVA_INT, i);
    }

    int seqId(int i, int k) {
        return seqIds.getAtIndex(JAVA_INT, (long) i * maxSeqIdsPerToken + k);
    }

    private void checkIndex(int i) {
        checkOpen();
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("batch index " + i + " outside 0.." + (size - 1));
        }
    }

    MemorySegment struct() {
        checkOpen();
        return struct;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("batch is closed");
        }
    }

    public boolean isOpen() {
        return !closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }
}
