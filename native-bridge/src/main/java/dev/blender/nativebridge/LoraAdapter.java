package dev.blender.nativebridge;

import dev.blender.nativebridge.AdapterFormatException.Problem;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufValue;
import dev.blender.nativebridge.gguf.GgufValueType;
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
     * Validates the adapter file against {@code model} and loads it.
     *
     * @throws dev.blender.nativebridge.gguf.GgufFormatException the file is missing or not valid GGUF
     * @throws AdapterFormatException the file is GGUF but not a LoRA adapter for this model
     * @throws LlamaException llama.cpp refused it all the same (the message carries its reason)
     * @throws IllegalStateException the model is closed
     */
    public static LoraAdapter load(LlamaModel model, Path path) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(path, "path");
        Path abs = path.toAbsolutePath();
        GgufFile file = GgufFile.read(abs);
        Map<String, Integer> ranks = validate(file, model.gguf());
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
     * Checks that {@code adapter} is a LoRA adapter llama.cpp can apply to {@code base}: the metadata it
     * reads ({@code general.type} = {@code adapter}, {@code adapter.type} = {@code lora}, the same
     * {@code general.architecture}, {@code adapter.lora.alpha} a FLOAT32 if present), every tensor a
     * {@code <base tensor>.lora_a}/{@code .lora_b} pair of F32 or F16 matrices (or a skipped norm), the
     * base tensor a matrix, and the shapes llama.cpp multiplies: for a base tensor of {@code ne = [in, out]},
     * {@code lora_a [in, r]} and {@code lora_b [r, out]}; for {@code token_embd.weight}
     * ({@code [n_embd, n_vocab]}), which is looked up by row instead, {@code lora_a [r, n_vocab]} and
     * {@code lora_b [r, n_embd]}.
     *
     * @return the rank of each adapted base tensor, by name
     * @throws AdapterFormatException naming the first problem
     */
    public static Map<String, Integer> validate(GgufFile adapter, GgufFile base) {
        Path p = adapter.path();
        String type = adapter.string("general.type").orElse(null);
        if (!"adapter".equals(type)) {
            throw new AdapterFormatException(p, Problem.NOT_AN_ADAPTER, "general.type is "
                    + describe(adapter, "general.type") + ", expected \"adapter\" (is this a model rather than an adapter?)");
        }
        String adapterType = adapter.string("adapter.type").orElse(null);
        if (!"lora".equals(adapterType)) {
            throw new AdapterFormatException(p, Problem.NOT_LORA, "adapter.type is " + describe(adapter, "adapter.type")
                    + ", expected \"lora\" (llama.cpp loads only LoRA adapters this way)");
        }
        String arch = adapter.string("general.architecture").orElse("(none)");
        String baseArch = base.architecture().orElse("(none)");
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
        Map<String, TensorInfo[]> pairs = new TreeMap<>();
        for (TensorInfo t : adapter.tensors()) {
            String name = t.name();
            if (name.endsWith(A)) {
                pairs.computeIfAbsent(name.substring(0, name.length() - A.length()), k -> new TensorInfo[2])[0] = t;
            } else if (name.endsWith(B)) {
                pairs.computeIfAbsent(name.substring(0, name.length() - B.length()), k -> new TensorInfo[2])[1] = t;
            } else if (!name.endsWith(NORM)) {
                throw new AdapterFormatException(p, Problem.UNEXPECTED_TENSOR, "tensor '" + name
                        + "' ends neither in .lora_a nor .lora_b");
            }
        }
        if (pairs.isEmpty()) {
            throw new AdapterFormatException(p, Problem.NO_TENSORS, "it holds no .lora_a/.lora_b tensor pair");
        }
        boolean tiedEmbeddings = base.tensor("output.weight").isEmpty();
        Map<String, Integer> ranks = new TreeMap<>();
        for (Map.Entry<String, TensorInfo[]> e : pairs.entrySet()) {
            String name = e.getKey();
            TensorInfo a = e.getValue()[0];
            TensorInfo b = e.getValue()[1];
            if (a == null || b == null) {
                throw new AdapterFormatException(p, Problem.MISSING_PAIR_MEMBER, "tensor '" + name + (a == null ? A : B)
                        + "' is missing (it has '" + name + (a == null ? B : A) + "')");
            }
            TensorInfo w = base.tensor(name).orElseThrow(() -> new AdapterFormatException(p, Problem.UNKNOWN_BASE_TENSOR,
                    "it adapts '" + name + "', which " + base.path().getFileName() + " does not have (another base model?)"));
            if (w.rank() != 2) {
                throw new AdapterFormatException(p, Problem.UNKNOWN_BASE_TENSOR, "it adapts '" + name
                        + "', which is not a matrix in " + base.path().getFileName() + " (shape " + Arrays.toString(w.dims()) + ")");
            }
            for (TensorInfo f : new TensorInfo[] {a, b}) {
                if (f.type() != GgmlType.F32 && f.type() != GgmlType.F16) {
                    throw new AdapterFormatException(p, Problem.UNSUPPORTED_TENSOR_TYPE, "tensor '" + f.name() + "' is "
                            + f.type() + "; LoRA factors must be F32 or F16");
                }
                if (f.rank() != 2) {
                    throw new AdapterFormatException(p, Problem.SHAPE_MISMATCH, "tensor '" + f.name() + "' has shape "
                            + Arrays.toString(f.dims()) + "; LoRA factors are matrices");
                }
            }
            long in = w.dim(0);
            long out = w.dim(1);
            boolean embedding = name.equals(TOKEN_EMBD);
            if (embedding && tiedEmbeddings) {
                throw new AdapterFormatException(p, Problem.TIED_EMBEDDINGS, base.path().getFileName()
                        + " has no output.weight (its output reuses token_embd.weight), and llama.cpp would apply the"
                        + " embedding's factors to the output projection with the wrong layout; drop the token_embd pair");
            }
            long rankA = embedding ? a.dim(0) : a.dim(1);
            long rankB = b.dim(0);
            // for token_embd llama.cpp gathers rows of lora_a ([r, n_vocab]) and multiplies by lora_b ([r, n_embd])
            long[] wantA = embedding ? new long[] {rankA, out} : new long[] {in, rankA};
            long[] wantB = embedding ? new long[] {rankB, in} : new long[] {rankB, out};
            if (!Arrays.equals(a.dims(), wantA) || !Arrays.equals(b.dims(), wantB)) {
                throw new AdapterFormatException(p, Problem.SHAPE_MISMATCH, "'" + name + "' has shape "
                        + Arrays.toString(w.dims()) + " in " + base.path().getFileName() + ", so its lora_a must be "
                        + (embedding ? "[r, " + out + "]" : "[" + in + ", r]") + " and its lora_b "
                        + (embedding ? "[r, " + in + "]" : "[r, " + out + "]") + ", but they are "
                        + Arrays.toString(a.dims()) + " and " + Arrays.toString(b.dims()) + " (another base model?)");
            }
            if (rankA != rankB) {
                throw new AdapterFormatException(p, Problem.RANK_MISMATCH, "'" + name + "' has rank " + rankA
                        + " in its lora_a but " + rankB + " in its lora_b");
            }
            ranks.put(name, Math.toIntExact(rankA));
        }
        return Collections.unmodifiableMap(ranks);
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
