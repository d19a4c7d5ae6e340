package dev.blender.nativebridge;

import dev.blender.nativebridge.AdapterFormatException.Problem;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufValue;
import dev.blender.nativebridge.gguf.GgufValueType;
import dev.blender.nativebridge.gguf.ModelChecks;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A LoRA adapter (a GGUF file of low-rank factors {@code B·A} added to some of a model's matrices) loaded
 * by llama.cpp against one {@link LlamaModel}, and applied to any of that model's contexts with a scale:
 *
 * <pre>{@code
 * try (LoraAdapter add = LoraAdapter.load(model, Path.of("add-r8.gguf"))) {
 *     ctx.setLoraAdapter(add, 1.0f);   // later decodes see base + scale * alpha/rank * B·A
 *     ...
 *     ctx.removeLoraAdapter(add);      // or ctx.clearLoraAdapters()
 * }
 * }</pre>
 *
 * <p>The file is validated in Java against the model's tensor table first ({@link #validate}); what
 * llama.cpp would assert on or refuse throws {@link AdapterFormatException} naming the problem. Only
 * matrices are adapted: llama.cpp skips {@code *_norm.weight} tensors in an adapter file, so a fine-tune
 * that also moved norms cannot be reproduced exactly by any adapter.
 *
 * <p><b>Ownership:</b> the adapter belongs to its model and keeps it alive; {@link LlamaModel#close()}
 * closes its contexts, then its adapters, then frees the weights, so an adapter is never freed after its
 * model. A context that has the adapter set holds it too: {@link #close()} first removes the adapter
 * from every context it is set on, and the native adapter is freed once no decode can use it. Any use of
 * a closed adapter throws {@link IllegalStateException}.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    /** Suffixes llama.cpp pairs up; {@code _norm.weight} tensors it skips silently. */
    static final String A = ".lora_a";
    static final String B = ".lora_b";
    private static final String NORM = "_norm.weight";
    static final String TOKEN_EMBD = "token_embd.weight";

    private final LlamaModel model;
    private final Path path;
    private final float alpha;
    private final Map<String, Integer> ranks;
    private final NativeHandle handle;
    private final Set<LlamaContext> contexts = ConcurrentHashMap.newKeySet();
    private final Cleaner.Cleanable cleanable;

    private LoraAdapter(LlamaModel model, Path path, float alpha, Map<String, Integer> ranks, MemorySegment ptr,
                        NativeHandle modelHandle) {
        this.model = model;
        this.path = path;
        this.alpha = alpha;
        this.ranks = ranks;
        this.handle = new NativeHandle(ptr, new Free(modelHandle), "LoRA adapter " + path.getFileName());
        NativeHandle h = handle;
        this.cleanable = CLEANER.register(this, h::releaseOwner);
    }

    /** Frees the adapter, then lets go of the model it was loaded against. */
    private record Free(NativeHandle modelHandle) implements java.util.function.Consumer<MemorySegment> {
        @Override
        public void accept(MemorySegment ptr) {
            try {
                LlamaCpp.adapter_lora_free.invokeExact(ptr);
            } catch (Throwable t) {
                throw LlamaCpp.rethrow(t);
            } finally {
                modelHandle.release();
            }
        }
    }

    /**
     * Validates the adapter file against {@code model} ({@link #validate}, then what the running llama.cpp cannot
     * take) and loads it; with the model's {@link ModelOptions#probeLoad()}, first in a child JVM over the model's
     * file ({@link ModelProbe#checkAdapter}).
     *
     * @throws dev.blender.nativebridge.gguf.GgufFormatException the file is missing or not valid GGUF
     * @throws AdapterFormatException the file is GGUF but not a LoRA adapter this llama.cpp can apply to this model
     * @throws ModelLoadException with probe-load, loading the adapter killed the probing child JVM or took too long
     * @throws LlamaException llama.cpp refused it all the same (the message carries its reason)
     * @throws IllegalStateException the model is closed
     */
    public static LoraAdapter load(LlamaModel model, Path path) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(path, "path");
        Path abs = path.toAbsolutePath();
        GgufFile file = GgufFile.read(abs);
        Map<String, Integer> ranks = validate(file, model.gguf());
        if (LlamaCpp.ABI == LlamaAbi.B4916) {
            refuseRepackedBaseTensors(file, model.gguf(), ranks.keySet());
        }
        if (model.options().probeLoad()) {
            ModelProbe.checkAdapter(model.path(), abs, model.options());
        }
        float alpha = (float) file.real("adapter.lora.alpha").orElse(0);
        LoraAdapter adapter = model.register(modelHandle -> {
            MemorySegment modelPtr = modelHandle.retain();
            boolean ok = false;
            try (Arena arena = Arena.ofConfined()) {
                LlamaBackend.takeErrors();
                MemorySegment ptr = (MemorySegment) LlamaCpp.adapter_lora_init.invokeExact(modelPtr,
                        arena.allocateFrom(abs.toString()));
                if (ptr.equals(MemorySegment.NULL)) {
                    String why = LlamaBackend.takeErrors().replace('\n', ' ').strip();
                    throw new LlamaException("llama.cpp " + LlamaBackend.version() + " could not load the LoRA adapter "
                            + abs + " for " + model.path().getFileName() + (why.isEmpty() ? "" : ": " + why));
                }
                ok = true;
                return new LoraAdapter(model, abs, alpha, ranks, ptr, modelHandle);
            } catch (Throwable t) {
                throw LlamaCpp.rethrow(t);
            } finally {
                if (!ok) {
                    modelHandle.release();
                }
            }
        });
        return adapter;
    }

    /**
     * Checks that {@code adapter} is a LoRA adapter llama.cpp can load against {@code base} and apply, mirroring
     * llama-adapter.cpp (b4916 and v0.5.0 alike) and the graph code that multiplies by the factors. The metadata
     * it reads ({@code general.type} = {@code adapter}, {@code adapter.type} = {@code lora}, the same
     * {@code general.architecture}, as strings; {@code adapter.lora.alpha} a finite FLOAT32 if present); every
     * tensor a {@code .lora_a}/{@code .lora_b} factor (or a {@code _norm.weight}, which llama.cpp skips), paired
     * by the name left once every {@code .lora_a} (or {@code .lora_b}) is cut out of it, as llama.cpp pairs them
     * (a later factor for the same name replaces an earlier one); the base tensor a matrix; the factors matrices
     * of a type llama.cpp multiplies with (F32, F16, BF16 or quantised); and the shapes it multiplies: for a base
     * tensor of {@code ne = [in, out]}, {@code lora_a [in, r]} and {@code lora_b [r, out]}; for
     * {@code token_embd.weight} ({@code [n_embd, n_vocab]}), which is looked up by row instead,
     * {@code lora_a [r, n_vocab]} and {@code lora_b [r, n_embd]}.
     *
     * <p>What depends on the running llama.cpp (b4916 repacks some quantised matrices, and writing factors
     * beside them crashes it) is checked by {@link #load}, not here.
     *
     * @return the rank of each adapted base tensor, by name
     * @throws AdapterFormatException naming the first problem
     * @throws dev.blender.nativebridge.gguf.GgufFormatException a metadata key with a zero byte ({@code BAD_KEY})
     */
    public static Map<String, Integer> validate(GgufFile adapter, GgufFile base) {
        Path p = adapter.path();
        // gguf.cpp gguf_find_key compares keys with strcmp: "general.type\0x" would answer for general.type
        ModelChecks.checkKeys(adapter);
        for (String key : new String[] {"general.type", "general.architecture", "adapter.type"}) {
            // llama-adapter.cpp get_kv_str: gguf_get_val_str asserts GGML_ASSERT(type == GGUF_TYPE_STRING)
            GgufValue v = adapter.metadata().get(key);
            if (v != null && v.type() != GgufValueType.STRING) {
                throw new AdapterFormatException(p, Problem.BAD_METADATA_TYPE, key + " is a " + v.type()
                        + ", llama.cpp reads it only as a STRING (and aborts on anything else)");
            }
        }
        // llama.cpp compares what gguf_get_val_str hands out: C strings, cut at a zero byte
        String type = adapter.string("general.type").map(ModelChecks::asC).orElse(null);
        if (!"adapter".equals(type)) {
            throw new AdapterFormatException(p, Problem.NOT_AN_ADAPTER, "general.type is "
                    + describe(adapter, "general.type") + ", expected \"adapter\" (is this a model rather than an adapter?)");
        }
        String adapterType = adapter.string("adapter.type").map(ModelChecks::asC).orElse(null);
        if (!"lora".equals(adapterType)) {
            throw new AdapterFormatException(p, Problem.NOT_LORA, "adapter.type is " + describe(adapter, "adapter.type")
                    + ", expected \"lora\" (llama.cpp loads only LoRA adapters this way)");
        }
        String arch = adapter.string("general.architecture").map(ModelChecks::asC).orElse("(none)");
        String baseArch = base.architecture().map(ModelChecks::asC).orElse("(none)");
        if (!arch.equals(baseArch)) {
            throw new AdapterFormatException(p, Problem.ARCHITECTURE_MISMATCH, "the adapter is for architecture '" + arch
                    + "' but " + base.path().getFileName() + " is '" + baseArch + "'");
        }
        GgufValue alpha = adapter.metadata().get("adapter.lora.alpha");
        if (alpha != null && alpha.type() != GgufValueType.FLOAT32) {
            // llama.cpp reads it with gguf_get_val_f32, which asserts the type and aborts the process
            throw new AdapterFormatException(p, Problem.BAD_METADATA_TYPE, "adapter.lora.alpha is a " + alpha.type()
                    + ", llama.cpp reads it only as a FLOAT32");
        }
        if (alpha instanceof GgufValue.Real r && !Double.isFinite(r.value())) {
            // llama.cpp takes it, and every adapted product, so every logit, becomes NaN or infinite: sampling
            // from those is undefined (std::discrete_distribution in llama.cpp's dist sampler)
            throw new AdapterFormatException(p, Problem.BAD_ALPHA, "adapter.lora.alpha is " + r.value()
                    + "; it must be a finite number (the scale is alpha / rank)");
        }
        // llama-adapter.cpp: for each tensor in file order, a name ending in .lora_a (.lora_b) with every
        // ".lora_a" (".lora_b") cut out is the base tensor's (replace_all), the last such factor wins;
        // *_norm.weight is skipped; anything else throws "has unexpected suffix"
        Map<String, TensorInfo[]> pairs = new TreeMap<>();
        for (TensorInfo t : adapter.tensors()) {
            String name = t.name();
            if (name.endsWith(A)) {
                pairs.computeIfAbsent(name.replace(A, ""), k -> new TensorInfo[2])[0] = t;
            } else if (name.endsWith(B)) {
                pairs.computeIfAbsent(name.replace(B, ""), k -> new TensorInfo[2])[1] = t;
            } else if (!name.endsWith(NORM)) {
                throw new AdapterFormatException(p, Problem.UNEXPECTED_TENSOR, "tensor '" + name
                        + "' ends neither in .lora_a nor .lora_b");
            }
        }
        if (pairs.isEmpty()) {
            // llama.cpp would load it and change nothing: an empty adapter is a mistake worth naming
            throw new AdapterFormatException(p, Problem.NO_TENSORS, "it holds no .lora_a/.lora_b tensor pair");
        }
        boolean tiedEmbeddings = base.tensor("output.weight").isEmpty();
        Map<String, Integer> ranks = new TreeMap<>();
        for (Map.Entry<String, TensorInfo[]> e : pairs.entrySet()) {
            String name = e.getKey();
            TensorInfo a = e.getValue()[0];
            TensorInfo b = e.getValue()[1];
            // llama.cpp throws "is missing one component", "does not exist in base model" for these two
            if (a == null || b == null) {
                throw new AdapterFormatException(p, Problem.MISSING_PAIR_MEMBER, "tensor '" + name + (a == null ? A : B)
                        + "' is missing (it has '" + name + (a == null ? B : A) + "')");
            }
            TensorInfo w = base.tensor(name).orElseThrow(() -> new AdapterFormatException(p, Problem.UNKNOWN_BASE_TENSOR,
                    "it adapts '" + name + "', which " + base.path().getFileName() + " does not have (another base model?)"));
            // a vector is never multiplied through build_lora_mm, so llama.cpp would load its pair and ignore it;
            // a 3-D expert tensor goes through ggml_mul_mat_id, which asserts on 2-D factors
            if (effectiveRank(w) != 2) {
                throw new AdapterFormatException(p, Problem.UNKNOWN_BASE_TENSOR, "it adapts '" + name
                        + "', which is not a matrix in " + base.path().getFileName() + " (shape " + Arrays.toString(w.dims())
                        + "); LoRA adapts matrices only");
            }
            for (TensorInfo f : new TensorInfo[] {a, b}) {
                // ggml-cpu: no matrix product or row lookup for integer, F64, Q8_1 or Q8_K operands (the process dies)
                if (!ModelChecks.isComputableMatrixType(f.type())) {
                    throw new AdapterFormatException(p, Problem.UNSUPPORTED_TENSOR_TYPE, "tensor '" + f.name() + "' is "
                            + f.type() + ", which llama.cpp cannot multiply with; LoRA factors are F32, F16, BF16 or quantised");
                }
                // llama.cpp checks ne[0] and ne[1] only; a factor with ne[2] or ne[3] above 1 fails ggml_mul_mat's
                // GGML_ASSERT(ggml_can_mul_mat(a, b)) in the graph, which aborts
                if (effectiveRank(f) > 2) {
                    throw new AdapterFormatException(p, Problem.SHAPE_MISMATCH, "tensor '" + f.name() + "' has shape "
                            + Arrays.toString(f.dims()) + "; LoRA factors are matrices");
                }
            }
            long in = w.dim(0);
            long out = w.dim(1);
            boolean embedding = name.endsWith(TOKEN_EMBD); // llama.cpp: str_endswith(name, "token_embd.weight")
            if (embedding && tiedEmbeddings) {
                // the output projection is then token_embd.weight too, and build_lora_mm multiplies by factors laid
                // out for row lookup: ggml_mul_mat asserts on the shapes
                throw new AdapterFormatException(p, Problem.TIED_EMBEDDINGS, base.path().getFileName()
                        + " has no output.weight (its output reuses token_embd.weight), and llama.cpp would apply the"
                        + " embedding's factors to the output projection with the wrong layout; drop the token_embd pair");
            }
            long rankA = embedding ? a.dim(0) : a.dim(1);
            long rankB = b.dim(0);
            // llama-adapter.cpp "has incorrect shape": token_embd ne[0] == b.ne[1] && ne[1] == a.ne[1], else
            // ne[0] == a.ne[0] && ne[1] == b.ne[1]
            boolean outer = embedding ? a.dim(1) == out && b.dim(1) == in : a.dim(0) == in && b.dim(1) == out;
            if (!outer) {
                throw new AdapterFormatException(p, Problem.SHAPE_MISMATCH, "'" + name + "' has shape "
                        + Arrays.toString(w.dims()) + " in " + base.path().getFileName() + ", so its lora_a must be "
                        + (embedding ? "[r, " + out + "]" : "[" + in + ", r]") + " and its lora_b "
                        + (embedding ? "[r, " + in + "]" : "[r, " + out + "]") + ", but they are "
                        + Arrays.toString(a.dims()) + " and " + Arrays.toString(b.dims()) + " (another base model?)");
            }
            // llama-adapter.cpp throws "lora_a tensor is not transposed" for a.ne[1] != b.ne[0]; for token_embd it
            // checks nothing, and the graph's ggml_mul_mat(lora_b, ggml_get_rows(lora_a, tokens)) asserts instead
            if (rankA != rankB) {
                throw new AdapterFormatException(p, Problem.RANK_MISMATCH, "'" + name + "' has rank " + rankA
                        + " in its lora_a but " + rankB + " in its lora_b");
            }
            ranks.put(name, Math.toIntExact(rankA));
        }
        return Collections.unmodifiableMap(ranks);
    }

    /**
     * b4916 (not v0.5.0) gives a LoRA factor the buffer type of its base tensor, and a Q4_0 or IQ4_NL matrix it
     * multiplies on the CPU lives in the repacking CPU_AARCH64 buffer ({@link LlamaModel#repackedOnCpu}); setting
     * an F32 factor there dereferences the missing repack traits: SIGSEGV in
     * {@code ggml_backend_cpu_aarch64_buffer_set_tensor}, seen with a valid adapter over a Q4_0 model.
     */
    private static void refuseRepackedBaseTensors(GgufFile adapter, GgufFile base, Set<String> adapted) {
        for (String name : adapted) {
            TensorInfo w = base.tensor(name).orElseThrow();
            if (LlamaModel.repackedOnCpu(name, w)) {
                throw new AdapterFormatException(adapter.path(), Problem.REPACKED_BASE_TENSOR, "it adapts '" + name
                        + "', a " + w.type() + " matrix of " + base.path().getFileName() + ", which llama.cpp b4916"
                        + " keeps repacked for its CPU kernels and crashes writing LoRA factors beside; use llama.cpp"
                        + " v0.5.0 (`blender natives install cpu`, then set BLENDER_LLAMA_LIBRARY) or a base model"
                        + " quantised otherwise (Q8_0, F16)");
            }
        }
    }

    /** Dimensions up to the last one above 1: ggml pads every shape with ones, so [n, r, 1] is a matrix. */
    private static int effectiveRank(TensorInfo t) {
        long[] dims = t.dims();
        int n = dims.length;
        while (n > 1 && dims[n - 1] == 1) {
            n--;
        }
        return n;
    }

    private static String describe(GgufFile f, String key) {
        GgufValue v = f.metadata().get(key);
        if (v == null) {
            return "absent";
        }
        return v instanceof GgufValue.Str(String s) ? "\"" + s + "\"" : "a " + v.type() + ", not a string";
    }

    public LlamaModel model() {
        return model;
    }

    /** The adapter file (absolute). */
    public Path path() {
        return path;
    }

    /** {@code adapter.lora.alpha}; 0 when absent, which llama.cpp takes as "scale by the given scale alone". */
    public float alpha() {
        return alpha;
    }

    /** The rank of each adapted base tensor, by name. */
    public Map<String, Integer> ranks() {
        return ranks;
    }

    public boolean isOpen() {
        return handle.isOpen();
    }

    /** Takes a reference for a context that applies the adapter; throws if the adapter is closed. */
    MemorySegment retain(LlamaContext ctx) {
        MemorySegment ptr = handle.retain();
        contexts.add(ctx);
        return ptr;
    }

    /** A closed context let go of the adapter (its Free releases the handle). */
    void forget(LlamaContext ctx) {
        contexts.remove(ctx);
    }

    void release(LlamaContext ctx) {
        contexts.remove(ctx);
        handle.release();
    }

    /** The handle a context releases when it is freed without being closed. */
    NativeHandle handle() {
        return handle;
    }

    /** For leak tests: true once llama.cpp's adapter has been freed. */
    boolean isFreed() {
        return handle.isFreed();
    }

    /**
     * Removes the adapter from every context it is set on, then frees it (once a decode in flight on
     * another thread has returned). Idempotent.
     */
    @Override
    public void close() {
        for (LlamaContext ctx : contexts) {
            try {
                ctx.removeLoraAdapter(this);
            } catch (IllegalStateException closedMeanwhile) {
                // its Free releases the adapter
            }
        }
        model.forget(this);
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "LoraAdapter[" + path.getFileName() + " on " + model.path().getFileName() + (isOpen() ? "" : ", closed") + "]";
    }
}
