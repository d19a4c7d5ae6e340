package dev.blender.nativebridge;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * The llama.cpp C ABIs the bridge supports, exactly: struct layouts change even between recent builds,
 * so any other library is refused at load instead of being driven through a guessed layout. Which one
 * runs is decided once per process, when the library loads ({@link LlamaBackend#abi()}); nothing above
 * this package needs to know.
 *
 * <p>Each constant owns its struct layouts (read off its own header and binary, checked by
 * {@code LayoutsTest} against the library's defaults) and the few calls whose names or meaning
 * changed: the KV cache became {@code llama_memory_*} behind {@code llama_get_memory}, and
 * {@code use_mmap}/{@code use_mlock} became the {@code load_mode} enum.
 */
public enum LlamaAbi {
    /**
     * llama.cpp b4916 (March 2025), statically linked into {@code libjllama} of
     * {@code de.kherud:llama:4.2.0}: the zero-setup default, CPU only. Identified by its exported
     * {@code LLAMA_BUILD_NUMBER}.
     */
    B4916("b4916", Layouts.MODEL_PARAMS_B4916, Layouts.CONTEXT_PARAMS_B4916, true, false,
            List.of(BackendDevice.Kind.CPU, BackendDevice.Kind.GPU, BackendDevice.Kind.ACCELERATOR)) {
        @Override
        void writeModelParams(MemorySegment p, ModelOptions o) {
            // b4916 treats a negative count as none; a count above the layer count offloads all of them
            set(modelParams(), "n_gpu_layers", p, o.gpuLayers() < 0 ? ALL_LAYERS : o.gpuLayers());
            set(modelParams(), "use_mmap", p, o.mmap());
            set(modelParams(), "use_mlock", p, o.mlock());
            set(modelParams(), "vocab_only", p, o.vocabOnly());
            set(modelParams(), "check_tensors", p, o.checkTensors());
        }

        @Override
        void writeContextParams(MemorySegment p, ContextOptions o, int threads, int batchThreads) {
            writeCommonContextParams(p, o, threads, batchThreads);
            set(contextParams(), "flash_attn", p, o.flashAttention());
        }

        @Override
        String kvFunction(String operation) {
            return "llama_kv_self_" + operation;
        }

    },

    /**
     * llama.cpp v0.5.0 as shipped by the npm package {@code @node-llama-cpp/linux-x64@3.22.1} (and its
     * CUDA, Vulkan and arm64 siblings): current architectures (Qwen3 and later), GPU backends as
     * plugins. Identified by {@code llama_get_memory} and {@code llama_version()} = {@code 0.5.0*}.
     */
    V0_5_0("v0.5.0", Layouts.MODEL_PARAMS_V0_5_0, Layouts.CONTEXT_PARAMS_V0_5_0, false, true,
            List.of(BackendDevice.Kind.CPU, BackendDevice.Kind.GPU, BackendDevice.Kind.INTEGRATED_GPU,
                    BackendDevice.Kind.ACCELERATOR, BackendDevice.Kind.META)) {
        private static final int LOAD_MODE_NONE = 0;
        private static final int LOAD_MODE_MMAP = 1;
        private static final int LOAD_MODE_MLOCK = 2;
        private static final int LOAD_MODE_MMAP_MLOCK = 3;
        private static final int FLASH_ATTN_DISABLED = 0;
        private static final int FLASH_ATTN_ENABLED = 1;

        @Override
        void writeModelParams(MemorySegment p, ModelOptions o) {
            set(modelParams(), "n_gpu_layers", p, o.gpuLayers());
            int mode = o.mmap() ? (o.mlock() ? LOAD_MODE_MMAP_MLOCK : LOAD_MODE_MMAP)
                    : (o.mlock() ? LOAD_MODE_MLOCK : LOAD_MODE_NONE);
            set(modelParams(), "load_mode", p, mode);
            set(modelParams(), "vocab_only", p, o.vocabOnly());
            set(modelParams(), "check_tensors", p, o.checkTensors());
        }

        @Override
        void writeContextParams(MemorySegment p, ContextOptions o, int threads, int batchThreads) {
            writeCommonContextParams(p, o, threads, batchThreads);
            // "auto" (the default) may switch flash attention on by device; results must not depend on it
            set(contextParams(), "flash_attn_type", p, o.flashAttention() ? FLASH_ATTN_ENABLED : FLASH_ATTN_DISABLED);
            // One KV buffer shared by all sequences, as at b4916: a prompt decoded once is shared by
            // copySequence, and contextSize counts cells of every sequence together (the default, a
            // buffer per sequence, would give each only contextSize / maxSequences cells).
            set(contextParams(), "kv_unified", p, true);
        }

        @Override
        String kvFunction(String operation) {
            return "llama_memory_" + operation;
        }

    };

    /** What "all layers" becomes where the library has no "-1 = all". */
    private static final int ALL_LAYERS = 9999;

    private final String version;
    private final StructLayout modelParams;
    private final StructLayout contextParams;
    private final boolean serialisesDecodes;
    private final boolean batchesEncoderDecoder;
    /** {@code enum ggml_backend_dev_type} in order: v0.5.0 inserted IGPU before ACCEL. */
    private final List<BackendDevice.Kind> deviceKinds;

    LlamaAbi(String version, StructLayout modelParams, StructLayout contextParams, boolean serialisesDecodes,
             boolean batchesEncoderDecoder, List<BackendDevice.Kind> deviceKinds) {
        this.version = version;
        this.modelParams = modelParams;
        this.contextParams = contextParams;
        this.serialisesDecodes = serialisesDecodes;
        this.batchesEncoderDecoder = batchesEncoderDecoder;
        this.deviceKinds = deviceKinds;
    }

    /**
     * Whether decodes of different contexts must take turns process-wide: at b4916 overlapping decodes
     * returned wrong logits; at v0.5.0 they are exact ({@code LifecycleTest} checks both).
     */
    public boolean serialisesDecodes() {
        return serialisesDecodes;
    }

    /**
     * Whether an encoder-decoder model's decoder (T5) gives the same logits however its tokens are grouped into
     * decodes, so that several candidates can advance in one decode. At b4916 it does not: decoding the start token
     * and a token in one call, or one call each, or two sequences' tokens together, gave logits up to 3.6 apart on
     * a generated T5 ({@code EncoderDecoderTest}); v0.5.0 agrees to 1e-6. So at b4916 an encoder-decoder model
     * generates one candidate at a time, one token per decode, as llama.cpp's own examples run it.
     */
    public boolean batchesEncoderDecoder() {
        return batchesEncoderDecoder;
    }

    /** The llama.cpp version this ABI belongs to, as users name it ({@code b4916}, {@code v0.5.0}). */
    public String version() {
        return version;
    }

    /** Every supported version, for messages that refuse another library. */
    static String supportedVersions() {
        return "llama.cpp b4916 (bundled in de.kherud:llama:4.2.0) or v0.5.0 (npm @node-llama-cpp/*@3.22.1,"
                + " installed by `blender natives install cpu|cuda|cuda12|vulkan`)";
    }

    StructLayout modelParams() {
        return modelParams;
    }

    StructLayout contextParams() {
        return contextParams;
    }

    /** Writes the options into a {@code llama_model_params} that holds the library's defaults. */
    abstract void writeModelParams(MemorySegment params, ModelOptions options);

    /** Writes the options into a {@code llama_context_params} that holds the library's defaults. */
    abstract void writeContextParams(MemorySegment params, ContextOptions options, int threads, int batchThreads);

    /** The C name of a KV-cache operation ({@code seq_rm}, {@code seq_cp}, ...) in this ABI. */
    abstract String kvFunction(String operation);

    /** What a {@code enum ggml_backend_dev_type} value means in this ABI. */
    BackendDevice.Kind deviceKind(int code) {
        return code >= 0 && code < deviceKinds.size() ? deviceKinds.get(code) : BackendDevice.Kind.UNKNOWN;
    }

    void writeCommonContextParams(MemorySegment p, ContextOptions o, int threads, int batchThreads) {
        set(contextParams, "n_ctx", p, o.contextSize());
        set(contextParams, "n_batch", p, o.batchSize());
        set(contextParams, "n_ubatch", p, o.microBatchSize());
        set(contextParams, "n_seq_max", p, o.maxSequences());
        set(contextParams, "n_threads", p, threads);
        set(contextParams, "n_threads_batch", p, batchThreads);
        set(contextParams, "pooling_type", p, o.pooling().code);
        set(contextParams, "embeddings", p, o.embeddings());
        set(contextParams, "no_perf", p, true);
    }

    static void set(StructLayout layout, String field, MemorySegment p, int value) {
        VarHandle h = Layouts.field(layout, field);
        h.set(p, value);
    }

    static void set(StructLayout layout, String field, MemorySegment p, boolean value) {
        VarHandle h = Layouts.field(layout, field);
        h.set(p, value);
    }
}
