package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An inference context of a {@link LlamaModel}: KV cache, compute buffers, last logits.
 *
 * <p><b>Thread safety:</b> llama.cpp contexts are single-threaded: use one context per thread. With the
 * bundled b4916 library, decodes of different contexts are serialised process-wide, because that build
 * computes wrong logits when they overlap; with v0.5.0 they run in parallel (see
 * {@code serialiseDecodes}). Everything else (tokenising, sampling, reading logits) runs in parallel. Every method is nonetheless synchronized, so a context handed between threads, or closed from another
 * thread while a decode runs, never corrupts native memory: {@link #close()} waits for the call in
 * flight, and every later call throws {@link IllegalStateException}.
 *
 * <p>Logits are read in place: {@link #logits(int)} returns a view of llama.cpp's own buffer that is
 * valid until the next {@link #decode} or {@link #close()}; using it after that throws
 * {@link IllegalStateException} instead of reading freed memory.
 */
public final class LlamaContext implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    /**
     * Whether native compute is serialised across all contexts of the process, per ABI
     * ({@link LlamaAbi#serialisesDecodes()}). With b4916, concurrent {@code llama_decode} calls on
     * different contexts (even of different models) return wrong logits: 4 threads x 20 decodes of one
     * prompt, 2 compute threads per context, gave 36 and 45 of 80 wrong in two runs, 0 with the lock.
     * v0.5.0 gave 0 of 80 without it, every run (LifecycleTest.concurrentDecodesWithoutTheLock), so
     * there each context decodes in parallel. {@value #CONCURRENT_DECODE_PROPERTY}=true lifts the lock, =false forces it.
     */
    static final String CONCURRENT_DECODE_PROPERTY = "blender.llama.concurrentDecode";
    private static volatile boolean serialiseDecodes = System.getProperty(CONCURRENT_DECODE_PROPERTY) != null
            ? !Boolean.getBoolean(CONCURRENT_DECODE_PROPERTY) : LlamaCpp.ABI.serialisesDecodes();
    private static final ReentrantLock COMPUTE = new ReentrantLock();
    // the wall time some decode of this process was in flight: two transitions a decode, under one small lock
    private static final Object IN_FLIGHT_LOCK = new Object();
    private static int inFlight;
    private static long busySince;
    private static long busyWallNanos;
    /** The automatic thread count this context was made with, or 0 where the caller chose threads. */
    private int automaticThreads;
    private int currentThreads;
    private boolean automaticBatchThreads;


    private final LlamaModel model;
    private final ContextOptions options;
    private final MemorySegment ptr;
    /** What the KV-cache calls take: the context at b4916, its llama_memory_t at v0.5.0. */
    private final MemorySegment kv;
    private final KvCells cells = new KvCells();
    private final int vocabSize;
    private final int embeddingLength;
    private final int nCtx;
    private final int nBatch;
    private final int nSeqMax;
    private final PoolingType pooling;
    /** Whether the model reads prompts with an encoder (T5): asked once, it cannot change. */
    private final boolean hasEncoder;
    /** An encoder and a decoder: decodes need an encode first. */
    private final boolean encoderDecoder;
    /** Sequence ids the last successful {@link #encode} gave input to: the decoder's cross attention reads only those. */
    private final boolean[] encoded;
    private final Cleaner.Cleanable cleanable;
    /** Which batch rows of the last successful decode have logits; null before any decode. */
    private boolean[] outputs = new boolean[0];
    private int lastBatchSize;
    /** Bumped by everything that may change what the KV cache holds or means (see {@link #kvVersion()}). */
    private long kvVersion;
    /** Scope of the logits views handed out since the last decode; closed when they go stale. */
    private Arena views;
    private boolean closed;
    /** Adapters set on this context, in the order set, with their native pointers and scales. */
    private final Map<LoraAdapter, Applied> loras = new LinkedHashMap<>();
    /** The adapters' handles, released by {@link Free} after the context is freed, even by the Cleaner. */
    private final Set<NativeHandle> loraHandles = ConcurrentHashMap.newKeySet();

    private record Applied(MemorySegment ptr, float scale) {}

    private LlamaContext(LlamaModel model, ContextOptions options, MemorySegment ptr, NativeHandle modelHandle) {
        this.model = model;
        this.options = options;
        this.ptr = ptr;
        this.vocabSize = model.vocab().size();
        this.embeddingLength = model.embeddingLength();
        try {
            this.nCtx = (int) LlamaCpp.n_ctx.invokeExact(ptr);
            this.nBatch = (int) LlamaCpp.n_batch.invokeExact(ptr);
            this.nSeqMax = (int) LlamaCpp.n_seq_max.invokeExact(ptr);
            this.pooling = PoolingType.of((int) LlamaCpp.pooling_type.invokeExact(ptr));
            this.kv = LlamaCpp.get_memory == null ? ptr : (MemorySegment) LlamaCpp.get_memory.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
        this.hasEncoder = model.hasEncoder();
        this.encoderDecoder = hasEncoder && model.hasDecoder();
        this.encoded = new boolean[nSeqMax];
        this.cleanable = CLEANER.register(this, new Free(ptr, modelHandle, loraHandles));
    }

    /**
     * Frees the context, then lets go of its adapters and the model (adapters hold the model too):
     * runs once, from close() or the Cleaner.
     */
    private record Free(MemorySegment ptr, NativeHandle modelHandle, Set<NativeHandle> loraHandles) implements Runnable {
        @Override
        public void run() {
            try {
                LlamaCpp.free.invokeExact(ptr);
            } catch (Throwable t) {
                throw LlamaCpp.rethrow(t);
            } finally {
                for (NativeHandle h : loraHandles) {
                    h.release();
                }
                loraHandles.clear();
                modelHandle.release();
            }
        }
    }

    static LlamaContext create(LlamaModel model, NativeHandle modelHandle, ContextOptions options) {
        MemorySegment modelPtr = modelHandle.retain();
        boolean ok = false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = (MemorySegment) LlamaCpp.context_default_params.invokeExact((SegmentAllocator) arena);
            int threads = options.threads() > 0 ? options.threads()
                    : model.options().threads() > 0 ? model.options().threads() : ContextOptions.automaticThreads();
            int batchThreads = options.batchThreads() > 0 ? options.batchThreads() : threads;
            LlamaCpp.ABI.writeContextParams(params, options, threads, batchThreads);
            LlamaBackend.takeErrors();
            MemorySegment ptr = (MemorySegment) LlamaCpp.init_from_model.invokeExact(modelPtr, params);
            if (ptr.equals(MemorySegment.NULL)) {
                String why = LlamaBackend.takeErrors();
                throw new LlamaException("llama.cpp could not create a context for " + model.path().getFileName()
                        + " with " + options + (why.isEmpty() ? "" : ": " + why.replace('\n', ' ').strip()));
            }
            LlamaContext ctx = new LlamaContext(model, options, ptr, modelHandle);
            if (options.threads() == 0 && model.options().threads() == 0) {
                ctx.automaticThreads = threads; // follows the free cores at every decode
                ctx.currentThreads = threads;
                ctx.automaticBatchThreads = options.batchThreads() == 0;
            }
            ok = true;
            return ctx;
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            if (!ok) {
                modelHandle.release();
            }
        }
    }

    public LlamaModel model() {
        return model;
    }

    public ContextOptions options() {
        return options;
    }

    /** KV-cache cells actually allocated (llama.cpp may round the requested size up). */
    public int contextSize() {
        return nCtx;
    }

    /** Most tokens one decode may carry. */
    public int batchSize() {
        return nBatch;
    }

    /** Sequence ids accepted: {@code 0 .. maxSequences()-1}. */
    public int maxSequences() {
        return nSeqMax;
    }

    public PoolingType pooling() {
        return pooling;
    }

    /** Length of a logits row. */
    public int vocabSize() {
        return vocabSize;
    }

    /** Changes the thread counts for later decodes; the context no longer follows the free cores. */
    public synchronized void setThreads(int threads, int batchThreads) {
        if (threads < 1 || batchThreads < 1) {
            throw new IllegalArgumentException("threads and batchThreads must be >= 1, were " + threads + ", "
                    + batchThreads);
        }
        checkOpen();
        automaticThreads = 0;
        try {
            LlamaCpp.set_n_threads.invokeExact(ptr, threads, batchThreads);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** The physical batch size llama.cpp splits a decode into. */
    public synchronized int microBatchSize() {
        checkOpen();
        try {
            return (int) LlamaCpp.n_ubatch.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Threads used for batch (prompt) decoding. */
    public synchronized int batchThreads() {
        checkOpen();
        try {
            return (int) LlamaCpp.n_threads_batch.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Threads used for single-token decoding. */
    public synchronized int threads() {
        checkOpen();
        try {
            return (int) LlamaCpp.n_threads.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * Runs the model over a batch. Every token id, sequence id and the batch size are checked first
     * (llama.cpp aborts the process on some of these). Views from {@link #logits(int)} taken before
     * this call become invalid.
     *
     * @throws DecodeException llama.cpp refused or failed the batch; {@link DecodeException#isKvCacheFull()}
     *                         when the KV cache has no room for it
     */
    public synchronized void decode(Batch batch) {
        Objects.requireNonNull(batch, "batch");
        checkOpen();
        validate(batch);
        if (encoderDecoder) {
            checkEncoded(batch);
        }
        invalidateViews();
        lastBatchSize = 0;
        kvVersion++; // even a failed decode may have written cells
        int used = usedCells();
        if (used + batch.size() > nCtx) {
            // llama.cpp would fail this too, after logging; refusing here gives the reason in words
            throw new DecodeException(1, "no KV-cache room for a batch of " + batch.size() + " tokens: " + used
                    + " of the context's " + nCtx + " cells are in use by its sequences; remove finished"
                    + " sequences or create the context with a larger contextSize");
        }
        int rc = compute(false, batch);
        if (rc != 0) {
            String why = LlamaBackend.takeErrors().replace('\n', ' ').strip();
            String msg = switch (rc) {
                case 1 -> "no KV-cache slot for a batch of " + batch.size() + " tokens: the context's " + nCtx
                        + " cells are used up or fragmented; remove finished sequences or create the context"
                        + " with a larger contextSize";
                case 2 -> "decode aborted";
                default -> "llama_decode failed with " + rc;
            };
            throw new DecodeException(rc, why.isEmpty() ? msg : msg + " (" + why + ")");
        }
        cells.add(batch);
        int n = batch.size();
        if (outputs.length < n) {
            outputs = new boolean[Math.max(n, outputs.length * 2)];
        }
        for (int i = 0; i < n; i++) {
            outputs[i] = batch.wantsLogits(i);
        }
        lastBatchSize = n;
    }

    /**
     * Runs the encoder of an encoder-decoder model (T5) over a prompt: every token with its position
     * ({@code 0..n-1}) and the sequences whose decoder will read it. The decoder's cross attention then reads this
     * input for those sequences until the next encode, which replaces it for all of them; the KV cache is left as
     * it is, but what its cells were computed against changes ({@link #kvVersion()} moves on). The whole prompt goes
     * into one encode: llama.cpp cannot split a non-causal pass, so it must fit {@link #batchSize()} and
     * {@link #microBatchSize()}. A prompt shared by several candidates is encoded once with all their sequence ids
     * on every token. Views from {@link #logits(int)} become invalid, and there are no logits until the next decode.
     *
     * @throws IllegalStateException    the model has no encoder (decoder-only: {@link #decode} its prompt instead)
     * @throws IllegalArgumentException the batch is empty or longer than one micro-batch, or has a bad token or
     *                                  sequence id
     * @throws LlamaException           llama.cpp failed the encode
     */
    public synchronized void encode(Batch batch) {
        Objects.requireNonNull(batch, "batch");
        checkOpen();
        if (!hasEncoder) {
            throw new IllegalStateException("model " + model.path().getFileName() + " ("
                    + model.gguf().architecture().orElse("?") + ") is decoder-only: it has no encoder to encode with;"
                    + " decode its prompt instead");
        }
        validate(batch);
        int n = batch.size();
        int micro = microBatchSize();
        if (n > micro) {
            // llama.cpp asserts this (the encoder cannot split its non-causal pass), which would end the process
            throw new IllegalArgumentException("an encoder prompt of " + n + " tokens exceeds this context's"
                    + " microBatchSize " + micro + " (the encoder reads the whole prompt in one pass); shorten it or"
                    + " create the context with larger batchSize, microBatchSize and contextSize");
        }
        invalidateViews();
        lastBatchSize = 0;
        kvVersion++;
        Arrays.fill(encoded, false); // until this encode succeeds
        int rc = compute(true, batch);
        if (rc != 0) {
            String why = LlamaBackend.takeErrors().replace('\n', ' ').strip();
            throw new LlamaException("llama_encode failed with " + rc + " for a prompt of " + n + " tokens of "
                    + model.path().getFileName() + (why.isEmpty() ? "" : " (" + why + ")"));
        }
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < batch.seqCount(i); k++) {
                encoded[batch.seqId(i, k)] = true;
            }
        }
    }

    /** Whether sequence {@code seq} has encoder input from the last {@link #encode} (always false for decoder-only models). */
    public synchronized boolean isEncoded(int seq) {
        checkSeq(seq);
        return encoded[seq];
    }

    private void validate(Batch batch) {
        int n = batch.size();
        if (n == 0) {
            throw new IllegalArgumentException("batch is empty");
        }
        if (n > nBatch) {
            throw new IllegalArgumentException("batch of " + n + " tokens exceeds this context's batchSize " + nBatch
                    + "; split it or create the context with a larger batchSize");
        }
        Vocab vocab = model.vocab();
        for (int i = 0; i < n; i++) {
            vocab.checkToken(batch.token(i));
            int seqs = batch.seqCount(i);
            for (int k = 0; k < seqs; k++) {
                checkSeq(batch.seqId(i, k));
            }
        }
    }

    /**
     * The decoder's cross attention reads the encoder input of each token's sequences: llama.cpp asserts (ends the
     * process) when there was no encode at all, and gives NaN logits for a sequence the encode did not include.
     */
    private void checkEncoded(Batch batch) {
        for (int i = 0; i < batch.size(); i++) {
            for (int k = 0; k < batch.seqCount(i); k++) {
                int seq = batch.seqId(i, k);
                if (!encoded[seq]) {
                    throw new IllegalStateException("model " + model.path().getFileName() + " is an encoder-decoder"
                            + " model and sequence " + seq + " has no encoded prompt: encode the prompt for it"
                            + " (LlamaContext.encode, with sequence " + seq + " on its tokens) before decoding");
                }
            }
        }
    }

    private void checkSeq(int seq) {
        if (seq < 0 || seq >= nSeqMax) {
            throw new IllegalArgumentException("sequence id " + seq + " outside 0.." + (nSeqMax - 1)
                    + " (create the context with maxSequences > " + seq + ")");
        }
    }

    private void checkOutput(int i) {
        if (i < 0 || i >= lastBatchSize || !outputs[i]) {
            throw new IllegalArgumentException("no logits for batch row " + i + ": the last decoded batch had "
                    + lastBatchSize + " rows and only rows added with wantLogits=true have logits");
        }
    }

    /**
     * A context on automatic threads decodes with the cores other processes leave free ({@link CpuLoad}): all of
     * them on a quiet machine, fewer beside other work, where llama.cpp's spinning threads would stall.
     */
    private void followFreeCores() {
        int n = CpuLoad.freeCores(automaticThreads);
        if (n != currentThreads) {
            try {
                LlamaCpp.set_n_threads.invokeExact(ptr, n, automaticBatchThreads ? n : batchThreads());
            } catch (Throwable t) {
                throw LlamaCpp.rethrow(t);
            }
            currentThreads = n;
        }
    }

    /** One {@code llama_encode} or {@code llama_decode}, taking turns process-wide where the ABI needs it. */
    private int compute(boolean encode, Batch batch) {
        if (automaticThreads > 0) {
            followFreeCores();
        }
        boolean serialise = serialiseDecodes;
        if (serialise) {
            COMPUTE.lock();
        }
        computeStarted(System.nanoTime());
        try {
            LlamaBackend.takeErrors();
            return encode ? (int) LlamaCpp.encode.invokeExact(ptr, batch.struct())
                    : (int) LlamaCpp.decode.invokeExact(ptr, batch.struct());
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            computeEnded(System.nanoTime());
            if (serialise) {
                COMPUTE.unlock();
            }
        }
    }

    /**
     * Nanoseconds of wall time during which at least one {@code llama_decode} or {@code llama_encode} of this
     * process was running: the part of a request's wall time llama.cpp had, however many members decoded at once.
     */
    public static long computeWallNanos() {
        synchronized (IN_FLIGHT_LOCK) {
            return inFlight > 0 ? busyWallNanos + (System.nanoTime() - busySince) : busyWallNanos;
        }
    }

    private static void computeStarted(long now) {
        synchronized (IN_FLIGHT_LOCK) {
            if (inFlight++ == 0) {
                busySince = now;
            }
        }
    }

    private static void computeEnded(long now) {
        synchronized (IN_FLIGHT_LOCK) {
            if (--inFlight == 0) {
                busyWallNanos += now - busySince;
            }
        }
    }

    /**
     * The logits of batch row {@code i} of the last decode, in place ({@code vocabSize()} floats), as a
     * read-only view valid until the next decode or close.
     */
    public synchronized MemorySegment logits(int i) {
        checkOpen();
        checkOutput(i);
        if (views == null) {
            views = Arena.ofShared();
        }
        return rawLogits(i).reinterpret((long) vocabSize * Float.BYTES, views, null).asReadOnly();
    }

    /** Copies the logits of batch row {@code i} of the last decode into {@code dst} (length >= vocabSize()). */
    public synchronized void copyLogits(int i, float[] dst) {
        checkOpen();
        checkOutput(i);
        if (dst.length < vocabSize) {
            throw new IllegalArgumentException("destination holds " + dst.length + " floats, needs " + vocabSize);
        }
        MemorySegment.copy(rawLogits(i).reinterpret((long) vocabSize * Float.BYTES), JAVA_FLOAT, 0, dst, 0, vocabSize);
    }

    /** The logits of batch row {@code i} as a new array. */
    public float[] logitsArray(int i) {
        float[] out = new float[vocabSize];
        copyLogits(i, out);
        return out;
    }

    private MemorySegment rawLogits(int i) {
        try {
            MemorySegment p = (MemorySegment) LlamaCpp.get_logits_ith.invokeExact(ptr, i);
            if (p.equals(MemorySegment.NULL)) {
                throw new LlamaException("llama.cpp has no logits for row " + i
                        + (options.embeddings() ? " (the context computes embeddings, not logits)" : ""));
            }
            return p;
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * The pooled embedding of a sequence after a decode of a context made with embeddings on and a
     * pooling other than NONE; for {@link PoolingType#RANK} it is the one relevance score.
     */
    public synchronized float[] sequenceEmbedding(int seq) {
        checkOpen();
        checkSeq(seq);
        if (!options.embeddings() || pooling == PoolingType.NONE) {
            throw new IllegalStateException("sequence embeddings need a context created with embeddings on and a "
                    + "pooling type other than NONE (this one: embeddings=" + options.embeddings() + ", pooling="
                    + pooling + ")");
        }
        try {
            MemorySegment p = (MemorySegment) LlamaCpp.get_embeddings_seq.invokeExact(ptr, seq);
            if (p.equals(MemorySegment.NULL)) {
                throw new LlamaException("no embedding for sequence " + seq + " in the last decode");
            }
            int n = pooling == PoolingType.RANK ? 1 : embeddingLength;
            return p.reinterpret((long) n * Float.BYTES).toArray(JAVA_FLOAT);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** The per-token embedding of batch row {@code i} (context with embeddings on, pooling NONE). */
    public synchronized float[] tokenEmbedding(int i) {
        checkOpen();
        checkOutput(i);
        if (!options.embeddings()) {
            throw new IllegalStateException("token embeddings need a context created with embeddings on");
        }
        try {
            MemorySegment p = (MemorySegment) LlamaCpp.get_embeddings_ith.invokeExact(ptr, i);
            if (p.equals(MemorySegment.NULL)) {
                throw new LlamaException("no embedding for batch row " + i + " in the last decode");
            }
            return p.reinterpret((long) embeddingLength * Float.BYTES).toArray(JAVA_FLOAT);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    // ---- LoRA adapters ----

    /**
     * Applies {@code adapter} to later decodes of this context with {@code scale} (each adapted matrix
     * becomes {@code W + scale * alpha/rank * B·A}, or {@code W + scale * B·A} when the adapter's alpha is
     * 0), or changes its scale if it is already set. Several adapters add up. KV cells decoded before keep
     * what they were computed with: clear or remove the sequences that should see the adapter.
     *
     * @throws IllegalArgumentException the adapter was loaded against another model, or the scale is not finite
     * @throws IllegalStateException this context or the adapter is closed
     */
    public synchronized void setLoraAdapter(LoraAdapter adapter, float scale) {
        kvVersion++;
        Objects.requireNonNull(adapter, "adapter");
        checkOpen();
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("LoRA scale must be finite, was " + scale);
        }
        if (adapter.model() != model) {
            throw new IllegalArgumentException(adapter + " was loaded against " + adapter.model().path().getFileName()
                    + ", not against this context's model " + model.path().getFileName()
                    + "; load it against this model (an adapter belongs to one loaded model)");
        }
        Applied previous = loras.get(adapter);
        MemorySegment ptr = previous != null ? previous.ptr() : adapter.retain(this);
        if (previous == null) {
            loraHandles.add(adapter.handle());
        }
        loras.put(adapter, new Applied(ptr, scale));
        try {
            if (LlamaCpp.set_adapter_lora != null) {
                int rc = (int) LlamaCpp.set_adapter_lora.invokeExact(this.ptr, ptr, scale);
                if (rc != 0) {
                    throw new LlamaException("llama_set_adapter_lora failed with " + rc + " for " + adapter);
                }
            } else {
                setNativeList();
            }
        } catch (Throwable t) {
            if (previous != null) {
                loras.put(adapter, previous);
            } else {
                loras.remove(adapter);
                loraHandles.remove(adapter.handle());
                adapter.release(this);
            }
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * Stops applying {@code adapter} to later decodes; the adapter stays loaded for other uses.
     *
     * @return false when it was not set on this context
     */
    public synchronized boolean removeLoraAdapter(LoraAdapter adapter) {
        kvVersion++;
        Objects.requireNonNull(adapter, "adapter");
        checkOpen();
        Applied applied = loras.remove(adapter);
        if (applied == null) {
            return false;
        }
        try {
            if (LlamaCpp.rm_adapter_lora != null) {
                int rc = (int) LlamaCpp.rm_adapter_lora.invokeExact(ptr, applied.ptr());
                if (rc != 0) {
                    throw new LlamaException("llama_rm_adapter_lora failed with " + rc + " for " + adapter);
                }
            } else {
                setNativeList();
            }
        } catch (Throwable t) {
            loras.put(adapter, applied);
            throw LlamaCpp.rethrow(t);
        }
        loraHandles.remove(adapter.handle());
        adapter.release(this);
        return true;
    }

    /** Stops applying every adapter to later decodes. */
    public synchronized void clearLoraAdapters() {
        kvVersion++;
        checkOpen();
        try {
            if (LlamaCpp.clear_adapter_lora != null) {
                LlamaCpp.clear_adapter_lora.invokeExact(ptr);
            } else {
                int rc = (int) LlamaCpp.set_adapters_lora.invokeExact(ptr, MemorySegment.NULL, 0L, MemorySegment.NULL);
            }
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
        for (LoraAdapter adapter : List.copyOf(loras.keySet())) {
            loras.remove(adapter);
            loraHandles.remove(adapter.handle());
            adapter.release(this);
        }
    }

    /** The adapters set on this context and their scales, in the order they were first set. */
    public synchronized Map<LoraAdapter, Float> loraAdapters() {
        Map<LoraAdapter, Float> out = new LinkedHashMap<>();
        loras.forEach((a, applied) -> out.put(a, applied.scale()));
        return Collections.unmodifiableMap(out);
    }

    /** v0.5.0 only replaces the whole list: hands it the Java one. */
    private void setNativeList() throws Throwable {
        int n = loras.size();
        if (n == 0) {
            int rc = (int) LlamaCpp.set_adapters_lora.invokeExact(ptr, MemorySegment.NULL, 0L, MemorySegment.NULL);
            return; // always 0: v0.5.0 cannot fail to empty the list
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ptrs = arena.allocate(ValueLayout.ADDRESS, n);
            MemorySegment scales = arena.allocate(JAVA_FLOAT, n);
            int i = 0;
            for (Applied a : loras.values()) {
                ptrs.setAtIndex(ValueLayout.ADDRESS, i, a.ptr());
                scales.setAtIndex(JAVA_FLOAT, i, a.scale());
                i++;
            }
            int rc = (int) LlamaCpp.set_adapters_lora.invokeExact(ptr, ptrs, (long) n, scales);
            if (rc != 0) {
                throw new LlamaException("llama_set_adapters_lora failed with " + rc);
            }
        }
    }

    // ---- a kept prefix (ContextOptions.prefixReuse) ----

    private static final int[] NO_TOKENS = new int[0];
    /** The tokens sequence 0's cells hold, left by the last SequenceDecoder for the next one; empty: none. */
    private int[] keptPrefix = NO_TOKENS;
    /** The {@link #kvVersion()} the kept tokens belong to: any later change to the cache or adapters voids them. */
    private long keptVersion = -1;

    /**
     * Hands over the tokens sequence 0 holds from the last {@link
     * dev.blender.nativebridge.generation.SequenceDecoder} of a {@code prefixReuse} context (empty when none,
     * or when anything changed the cache or the adapters since), and forgets them here: one decoder at a
     * time owns them.
     */
    public synchronized int[] takeKeptPrefix() {
        int[] tokens = keptVersion == kvVersion ? keptPrefix : NO_TOKENS;
        keptPrefix = NO_TOKENS;
        return tokens;
    }

    /** Records the tokens sequence 0's cells hold at positions {@code 0..tokens.length-1}, for the next decoder. */
    public synchronized void keepPrefix(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        if (!closed && options.prefixReuse()) {
            keptPrefix = tokens.clone();
            keptVersion = kvVersion;
        }
    }

    // ---- KV cache ----

    /** Empties the KV cache of every sequence. */
    public synchronized void clearKvCache() {
        checkOpen();
        kvVersion++;
        invalidateViews();
        try {
            LlamaCpp.kv_clear.invokeExact(kv);
            cells.clear();
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * Removes positions {@code [from, to)} of sequence {@code seq} from the KV cache; {@code seq < 0}
     * means every sequence, {@code from < 0} from the start, {@code to < 0} to the end.
     *
     * @return false when llama.cpp cannot remove a partial range (it then removes nothing)
     */
    public synchronized boolean removeSequence(int seq, int from, int to) {
        checkOpen();
        kvVersion++;
        if (seq >= 0) {
            checkSeq(seq);
        }
        try {
            boolean removed = (boolean) LlamaCpp.kv_seq_rm.invokeExact(kv, seq, from, to);
            if (removed) {
                cells.remove(seq, from, to);
            }
            return removed;
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Removes a whole sequence from the KV cache. */
    public boolean removeSequence(int seq) {
        return removeSequence(seq, -1, -1);
    }

    /**
     * Makes sequence {@code dst} share the cells of {@code src} at positions {@code [from, to)}
     * ({@code -1} = open end): how a prompt decoded once serves several candidates.
     */
    public synchronized void copySequence(int src, int dst, int from, int to) {
        checkOpen();
        kvVersion++;
        checkSeq(src);
        checkSeq(dst);
        try {
            LlamaCpp.kv_seq_cp.invokeExact(kv, src, dst, from, to);
            cells.copy(src, dst, from, to);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Copies the whole of sequence {@code src} to {@code dst}. */
    public void copySequence(int src, int dst) {
        copySequence(src, dst, -1, -1);
    }

    /** Removes every sequence but {@code seq}. */
    public synchronized void keepSequence(int seq) {
        checkOpen();
        kvVersion++;
        checkSeq(seq);
        try {
            LlamaCpp.kv_seq_keep.invokeExact(kv, seq);
            cells.keep(seq);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Shifts positions {@code [from, to)} of a sequence by {@code delta}. */
    public synchronized void shiftSequence(int seq, int from, int to, int delta) {
        checkOpen();
        kvVersion++;
        checkSeq(seq);
        try {
            LlamaCpp.kv_seq_add.invokeExact(kv, seq, from, to, delta);
            cells.shift(seq, from, to, delta);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** The largest position of a sequence in the KV cache, or -1 when the sequence is empty. */
    public synchronized int sequenceMaxPosition(int seq) {
        checkOpen();
        checkSeq(seq);
        if (cells.maxPosition(seq) < 0) {
            return -1; // b4916 would answer 0, v0.5.0 -1: one answer on every ABI
        }
        try {
            return (int) LlamaCpp.kv_seq_pos_max.invokeExact(kv, seq);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * A number that changes whenever what the KV cache holds, or what its cells mean, may have changed: every
     * decode, KV-cache edit and LoRA adapter change. Whoever leaves sequences in the cache to reuse later
     * (a prompt prefix decoded once for several calls) compares it to tell that no one else used the context
     * in between.
     */
    public synchronized long kvVersion() {
        return kvVersion;
    }

    /** KV-cache cells in use by at least one sequence (a cell shared by copied sequences counts once). */
    public synchronized int usedCells() {
        checkOpen();
        return cells.used();
    }

    /** Whether decodes of different contexts take turns (per ABI unless configured). */
    public static boolean decodesSerialised() {
        return serialiseDecodes;
    }

    /** For tests that measure what the lock prevents. */
    static void serialiseDecodes(boolean on) {
        serialiseDecodes = on;
    }

    /** The Java model's largest position of a sequence (-1 = empty): checks {@link KvCells}. */
    synchronized int trackedMaxPosition(int seq) {
        return cells.maxPosition(seq);
    }

    /** llama.cpp's own count of used cells, where the ABI has one (b4916): checks {@link KvCells}. */
    synchronized int nativeUsedCells() {
        checkOpen();
        if (LlamaCpp.kv_self_used_cells == null) {
            throw new UnsupportedOperationException("llama.cpp " + LlamaBackend.version() + " does not count used cells");
        }
        try {
            return (int) LlamaCpp.kv_self_used_cells.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    MemorySegment pointer() {
        checkOpen();
        return ptr;
    }

    private void invalidateViews() {
        if (views != null) {
            views.close();
            views = null;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("context of " + model.path().getFileName() + " is closed");
        }
    }

    public synchronized boolean isOpen() {
        return !closed;
    }

    /** Frees the context; waits for a call in flight on another thread. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        invalidateViews();
        model.forget(this);
        for (LoraAdapter adapter : loras.keySet()) {
            adapter.forget(this);
        }
        loras.clear();
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "LlamaContext[" + model.path().getFileName() + ", n_ctx=" + nCtx + ", n_seq_max=" + nSeqMax
                + (closed ? ", closed" : "") + "]";
    }
}
