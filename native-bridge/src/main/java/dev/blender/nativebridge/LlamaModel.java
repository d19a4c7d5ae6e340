package dev.blender.nativebridge;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.ModelChecks;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A GGUF model loaded by llama.cpp. The file is validated in Java first ({@link GgufFile#read}, then
 * {@link ModelChecks#check} for what llama.cpp's loaders assert on), so a malformed file throws {@link dev.blender.nativebridge.gguf.GgufFormatException} and never reaches
 * native code that would abort the process.
 *
 * <p><b>Thread safety:</b> a model is safe to share between threads: its {@link #vocab() vocabulary}
 * may be used concurrently and each thread may create its own {@link LlamaContext}. {@link #close()}
 * closes every context of this model and frees the weights once calls in flight on other threads have
 * returned; any later use throws {@link IllegalStateException}. A Cleaner frees a model that was never
 * closed, but only as a safety net: close models explicitly (try-with-resources).
 */
public final class LlamaModel implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private static final System.Logger LOG = System.getLogger(LlamaBackend.LOGGER_NAME);
    /** The CPU fallback of {@code gpuLayers} is said once per process, not once per model. */
    private static final AtomicBoolean GPU_FALLBACK_WARNED = new AtomicBoolean();

    private final Path path;
    private final ModelOptions options;
    /** Whether llama.cpp mapped the file ({@link #loadedWith}), decided once at load. */
    private final boolean mapped;
    private final GgufFile gguf;
    private final NativeHandle handle;
    private final Vocab vocab;
    private final Set<LlamaContext> contexts = ConcurrentHashMap.newKeySet();
    private final Set<LoraAdapter> adapters = ConcurrentHashMap.newKeySet();
    private final Cleaner.Cleanable cleanable;

    private LlamaModel(Path path, ModelOptions options, boolean mapped, GgufFile gguf, MemorySegment ptr) {
        this.path = path;
        this.options = options;
        this.mapped = mapped;
        this.gguf = gguf;
        this.handle = new NativeHandle(ptr, LlamaModel::free, "model " + path.getFileName());
        MemorySegment vocabPtr;
        try {
            vocabPtr = (MemorySegment) LlamaCpp.model_get_vocab.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
        this.vocab = new Vocab(this, vocabPtr);
        NativeHandle h = handle;
        this.cleanable = CLEANER.register(this, h::releaseOwner);
    }

    /** Loads a model with {@link ModelOptions#defaults()}. */
    public static LlamaModel load(Path path) {
        return load(path, ModelOptions.defaults());
    }

    /**
     * Validates and loads a GGUF model.
     *
     * @throws dev.blender.nativebridge.gguf.GgufFormatException the file is missing, unreadable or not a valid GGUF file
     * @throws ModelLoadException the file is valid GGUF but llama.cpp cannot load it (the message carries
     *                            llama.cpp's reason, e.g. an unknown architecture), or, with
     *                            {@link ModelOptions#probeLoad()}, loading it killed the probing child JVM
     */
    public static LlamaModel load(Path path, ModelOptions options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        Path abs = path.toAbsolutePath();
        GgufFile gguf = check(abs, options);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = (MemorySegment) LlamaCpp.model_default_params.invokeExact((SegmentAllocator) arena);
            ModelOptions effective = loadedWith(gguf, options);
            LlamaCpp.ABI.writeModelParams(params, effective);
            LlamaBackend.takeErrors();
            MemorySegment ptr = (MemorySegment) LlamaCpp.model_load_from_file.invokeExact(
                    arena.allocateFrom(abs.toString()), params);
            if (ptr.equals(MemorySegment.NULL)) {
                String why = LlamaBackend.takeErrors().replace('\n', ' ').strip();
                throw new ModelLoadException(abs, "llama.cpp " + LlamaBackend.version() + " could not load " + abs
                        + (why.isEmpty() ? "" : ": " + why) + newerLibraryHint(gguf, why));
            }
            return new LlamaModel(abs, options, effective.mmap(), gguf, ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /**
     * The options llama.cpp gets: CPU only where no GPU is there, and the file read rather than mapped where
     * llama.cpp would copy the weights out of the mapping anyway. It repacks the Q4_0 and IQ4_NL matrices it
     * multiplies on the CPU into a buffer of their own, and the mapped pages they came from stay resident beside
     * the copies: a 0.5B Q4_0 model (342 MB) took 760 MB mapped and 500 MB read, on both ABIs. Only CPU-only loads
     * are read; with layers on a GPU the mapping serves the offloaded layers.
     */
    private static ModelOptions loadedWith(GgufFile gguf, ModelOptions options) {
        ModelOptions o = options.gpuLayers() != 0 && !hasGpu() ? options.withGpuLayers(0) : options;
        if (o.mmap() && !o.vocabOnly() && o.gpuLayers() == 0
                && gguf.tensors().stream().anyMatch(t -> repackedOnCpu(t.name(), t))) {
            o = o.withMmap(false);
        }
        return o;
    }

    /**
     * Whether llama.cpp may keep this weight repacked for its CPU kernels (the CPU_AARCH64 / CPU_REPACK buffer):
     * a Q4_0 or IQ4_NL matrix of rows a multiple of 4 (Q4_0 with {@code ne[1] % 8 == 0} on AVX2 or SVE, Q4_0 and
     * IQ4_NL with {@code ne[1] % 4 == 0} on NEON). Embeddings are looked up by row, never repacked. Which CPU runs
     * is not asked: the weakest condition counts.
     */
    static boolean repackedOnCpu(String name, TensorInfo w) {
        return (w.type() == GgmlType.Q4_0
                || w.type() == GgmlType.IQ4_NL)
                && w.dims().length >= 2 && w.dim(1) % 4 == 0 && !name.endsWith(LoraAdapter.TOKEN_EMBD);
    }

    /**
     * Whether llama.cpp maps the file: as {@link ModelOptions#mmap()} asks, except where it would repack the
     * weights on the CPU (see {@link ModelOptions#mmap()}).
     */
    public boolean mapped() {
        return mapped;
    }

    /**
     * What {@link #load} does before llama.cpp loads the file here: reads and validates it in Java for the running
     * llama.cpp ({@link ModelChecks}) and, with {@link ModelOptions#probeLoad()}, probes it in a child JVM
     * ({@link ModelProbe}); for a caller that wants to know whether a file is safe to load without loading it.
     *
     * @return the parsed file
     * @throws dev.blender.nativebridge.gguf.GgufFormatException the file is missing, unreadable, not valid GGUF, or
     *                            fails a check
     * @throws ModelLoadException with probeLoad, loading it killed the probing child JVM or did not finish in time
     */
    public static GgufFile check(Path path, ModelOptions options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        LlamaBackend.ensureInitialized();
        Path abs = path.toAbsolutePath();
        GgufFile gguf = GgufFile.read(abs);
        ModelChecks.check(gguf, LlamaCpp.ABI);
        if (options.probeLoad()) {
            ModelProbe.check(abs, options);
        }
        return gguf;
    }

    /**
     * Where an architecture or a pre-tokenizer (the regex that splits text before BPE, tokenizer.ggml.pre) is
     * unknown to b4916, which library loads it and how to get it: both mean a model family newer than b4916.
     */
    private static String newerLibraryHint(GgufFile gguf, String why) {
        if (LlamaCpp.ABI != LlamaAbi.B4916) {
            return "";
        }
        String what;
        if (why.contains("unknown model architecture")) {
            what = "architecture '" + gguf.architecture().orElse("?") + "'";
        } else if (why.contains("unknown pre-tokenizer type")) {
            what = "pre-tokenizer '" + gguf.string("tokenizer.ggml.pre").orElse("?") + "' (tokenizer.ggml.pre)";
        } else {
            return "";
        }
        return ". The " + what + " is newer than llama.cpp b4916 (the bundled library); llama.cpp v0.5.0 loads it:"
                + " run `blender natives install cpu` (or cuda) and set BLENDER_LLAMA_LIBRARY, or"
                + " -Dblender.llama.library, to the folder it prints";
    }

    /** For tests of the warning: the next fallback warns again. */
    static void forgetGpuFallbackWarning() {
        GPU_FALLBACK_WARNED.set(false);
    }

    /** Whether layers can be offloaded; warns once when they were asked for and cannot be. */
    private static boolean hasGpu() {
        boolean gpu = LlamaBackend.devices().stream().anyMatch(d -> d.kind().isGpu());
        if (!gpu && GPU_FALLBACK_WARNED.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "gpuLayers asks for GPU offload, but llama.cpp " + LlamaBackend.version()
                    + " at " + LlamaBackend.libraryPath() + " found no GPU device; running on the CPU. For NVIDIA GPUs"
                    + " run `blender natives install cuda` and set BLENDER_LLAMA_LIBRARY to the folder it prints.");
        }
        return gpu;
    }

    private static void free(MemorySegment ptr) {
        try {
            LlamaCpp.model_free.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** Creates a context with {@link ContextOptions#defaults()}. */
    public LlamaContext newContext() {
        return newContext(ContextOptions.defaults());
    }

    /** Creates a context (KV cache and compute buffers) for this model. Close it when done. */
    public LlamaContext newContext(ContextOptions options) {
        Objects.requireNonNull(options, "options");
        if (this.options.vocabOnly()) {
            throw new IllegalStateException("model " + path.getFileName()
                    + " was loaded with vocabOnly: it has no weights to run; load it without vocabOnly");
        }
        LlamaContext ctx = LlamaContext.create(this, handle, options);
        contexts.add(ctx);
        return ctx;
    }

    void forget(LlamaContext ctx) {
        contexts.remove(ctx);
    }

    /** Loads an adapter against this model ({@link LoraAdapter#load}); the model closes it with itself. */
    LoraAdapter register(java.util.function.Function<NativeHandle, LoraAdapter> loader) {
        LoraAdapter adapter = loader.apply(handle);
        adapters.add(adapter);
        return adapter;
    }

    void forget(LoraAdapter adapter) {
        adapters.remove(adapter);
    }

    /** LoRA adapters loaded against this model and still open. */
    public List<LoraAdapter> openAdapters() {
        return List.copyOf(adapters);
    }

    /** The file this model was loaded from (absolute). */
    public Path path() {
        return path;
    }

    public ModelOptions options() {
        return options;
    }

    /** The GGUF header, metadata and tensor table, as read and validated in Java before loading. */
    public GgufFile gguf() {
        return gguf;
    }

    /** The model's vocabulary (the same object on every call). */
    public Vocab vocab() {
        return vocab;
    }

    /** llama.cpp's one-line description, e.g. "llama ?B all F32". */
    public String description() {
        MemorySegment ptr = handle.retain();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            int n = (int) LlamaCpp.model_desc.invokeExact(ptr, buf, 256L);
            return n <= 0 ? "" : buf.getString(0);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            handle.release();
        }
    }

    /** Bytes of all weight tensors. */
    public long sizeBytes() {
        MemorySegment ptr = handle.retain();
        try {
            return (long) LlamaCpp.model_size.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            handle.release();
        }
    }

    public long parameterCount() {
        MemorySegment ptr = handle.retain();
        try {
            return (long) LlamaCpp.model_n_params.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            handle.release();
        }
    }

    /** The context length the model was trained with. */
    public int trainingContextLength() {
        return intProperty(LlamaCpp.model_n_ctx_train);
    }

    public int embeddingLength() {
        return intProperty(LlamaCpp.model_n_embd);
    }

    public int layerCount() {
        return intProperty(LlamaCpp.model_n_layer);
    }

    public int headCount() {
        return intProperty(LlamaCpp.model_n_head);
    }

    private int intProperty(MethodHandle mh) {
        MemorySegment ptr = handle.retain();
        try {
            return (int) mh.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            handle.release();
        }
    }

    /**
     * Whether the model has an encoder that reads the prompt ({@link LlamaContext#encode}) before its decoder
     * generates: true for encoder-decoder models such as T5 / Flan-T5 (LLM-Blender's released GenFuser), false
     * for decoder-only models, which read the prompt with {@link LlamaContext#decode}.
     */
    public boolean hasEncoder() {
        return boolProperty(LlamaCpp.model_has_encoder);
    }

    /**
     * Whether the model has a decoder, i.e. can generate: false only for encoder-only models (e.g.
     * {@code t5encoder}, which computes embeddings).
     */
    public boolean hasDecoder() {
        return boolProperty(LlamaCpp.model_has_decoder);
    }

    /**
     * Whether the model keeps a recurrent state (Mamba, RWKV, and hybrids of attention and such layers): its memory
     * cannot forget the last positions of a sequence alone, so {@link LlamaContext#removeSequence(int, int, int)}
     * of a partial range fails, and nothing that rolls a sequence back (speculative decoding) can use it.
     */
    public boolean hasRecurrentState() {
        return (LlamaCpp.model_is_recurrent != null && boolProperty(LlamaCpp.model_is_recurrent))
                || (LlamaCpp.model_is_hybrid != null && boolProperty(LlamaCpp.model_is_hybrid));
    }

    /**
     * The token an encoder-decoder model's decoder starts every answer from: the model's own
     * ({@code <arch>.decoder_start_token_id}, T5's padding token), else BOS, else the padding token, which is
     * what llama.cpp's examples and Hugging Face fall back to.
     *
     * @throws IllegalStateException the model has no encoder (a decoder-only model continues its prompt and has
     *                               no start token), or it names none and has neither BOS nor padding
     */
    public int decoderStartToken() {
        if (!hasEncoder()) {
            throw new IllegalStateException("model " + path.getFileName() + " (" + gguf.architecture().orElse("?")
                    + ") has no encoder, so no decoder start token: a decoder-only model continues its prompt");
        }
        int start = intProperty(LlamaCpp.model_decoder_start_token);
        if (start >= 0 && start < vocab.size()) {
            return start;
        }
        if (vocab.bos() >= 0) {
            return vocab.bos();
        }
        if (vocab.pad() >= 0) {
            return vocab.pad();
        }
        throw new IllegalStateException("encoder-decoder model " + path.getFileName() + " names no decoder start"
                + " token (decoder_start_token_id) and has neither a BOS nor a padding token to start from");
    }

    private boolean boolProperty(MethodHandle mh) {
        MemorySegment ptr = handle.retain();
        try {
            return (boolean) mh.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            handle.release();
        }
    }

    /** The model's default chat template ({@code tokenizer.chat_template}), if it has one. */
    public Optional<String> chatTemplate() {
        MemorySegment ptr = handle.retain();
        try {
            MemorySegment s = (MemorySegment) LlamaCpp.model_chat_template.invokeExact(ptr, MemorySegment.NULL);
            return s.equals(MemorySegment.NULL) ? Optional.empty()
                    : Optional.of(s.reinterpret(Long.MAX_VALUE).getString(0, StandardCharsets.UTF_8));
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            handle.release();
        }
    }

    /** Contexts of this model that are still open. */
    public List<LlamaContext> openContexts() {
        return List.copyOf(contexts);
    }

    public boolean isOpen() {
        return handle.isOpen();
    }

    MemorySegment retain() {
        return handle.retain();
    }

    void release() {
        handle.release();
    }

    /**
     * Closes every context of this model, then its LoRA adapters, then frees the model once native calls
     * in flight have returned (an adapter is never freed after its model). Idempotent.
     */
    @Override
    public void close() {
        for (LlamaContext ctx : contexts) {
            ctx.close();
        }
        for (LoraAdapter adapter : adapters) {
            adapter.close();
        }
        cleanable.clean();
    }

    /** True once the native model has actually been freed (for leak tests). */
    boolean isFreed() {
        return handle.isFreed();
    }

    @Override
    public String toString() {
        return "LlamaModel[" + path.getFileName() + (isOpen() ? "" : ", closed") + "]";
    }
}
