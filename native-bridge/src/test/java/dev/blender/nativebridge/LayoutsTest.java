package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Reads llama.cpp's own defaults through our layouts: if a field offset were wrong, a value would land
 * in the wrong field and these known defaults would not match. The defaults test runs on the library
 * in use; CI runs the suite once per supported ABI, so each layout set is checked against its own
 * binary. The expected values were read off each version's source, not off our layouts.
 */
class LayoutsTest {
    @BeforeAll
    static void init() {
        LlamaBackend.ensureInitialized();
    }

    private static Object get(StructLayout layout, String field, MemorySegment s) {
        VarHandle h = Layouts.field(layout, field);
        return h.get(s);
    }

    @Test
    void sizesMatchEachAbi() {
        assertEquals(80, Layouts.MODEL_PARAMS_V0_5_0.byteSize());
        assertEquals(160, Layouts.CONTEXT_PARAMS_V0_5_0.byteSize());
        // offsets read off v0.5.0's disassembled llama_context_default_params / llama_model_default_params
        assertEquals(28, Layouts.offset(Layouts.CONTEXT_PARAMS_V0_5_0, "n_threads"));
        assertEquals(52, Layouts.offset(Layouts.CONTEXT_PARAMS_V0_5_0, "flash_attn_type"));
        assertEquals(104, Layouts.offset(Layouts.CONTEXT_PARAMS_V0_5_0, "type_k"));
        assertEquals(128, Layouts.offset(Layouts.CONTEXT_PARAMS_V0_5_0, "embeddings"));
        assertEquals(133, Layouts.offset(Layouts.CONTEXT_PARAMS_V0_5_0, "kv_unified"));
        assertEquals(152, Layouts.offset(Layouts.CONTEXT_PARAMS_V0_5_0, "ctx_other"));
        assertEquals(16, Layouts.offset(Layouts.MODEL_PARAMS_V0_5_0, "n_gpu_layers"));
        assertEquals(24, Layouts.offset(Layouts.MODEL_PARAMS_V0_5_0, "load_mode"));
        assertEquals(72, Layouts.offset(Layouts.MODEL_PARAMS_V0_5_0, "vocab_only"));

        assertEquals(64, Layouts.MODEL_PARAMS_B4916.byteSize());
        assertEquals(120, Layouts.CONTEXT_PARAMS_B4916.byteSize());
        assertEquals(56, Layouts.BATCH.byteSize());
        assertEquals(12, Layouts.TOKEN_DATA.byteSize());
        assertEquals(32, Layouts.TOKEN_DATA_ARRAY.byteSize());
        assertEquals(1, Layouts.SAMPLER_CHAIN_PARAMS.byteSize());
        assertEquals(16, Layouts.CHAT_MESSAGE.byteSize());
        // offsets the brief lists, read off the binary's llama_context_default_params
        assertEquals(0, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "n_ctx"));
        assertEquals(12, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "n_seq_max"));
        assertEquals(28, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "pooling_type"));
        assertEquals(88, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "type_k"));
        assertEquals(97, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "embeddings"));
        assertEquals(99, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "flash_attn"));
        assertEquals(104, Layouts.offset(Layouts.CONTEXT_PARAMS_B4916, "abort_callback"));
        assertEquals(48, Layouts.offset(Layouts.BATCH, "logits"));
    }

    @Test
    void contextDefaultsReadThroughLayout() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) LlamaCpp.context_default_params.invokeExact((SegmentAllocator) arena);
            StructLayout l = LlamaCpp.ABI.contextParams();
            assertEquals(p.byteSize(), l.byteSize());
            assertEquals(512, get(l, "n_ctx", p));
            assertEquals(2048, get(l, "n_batch", p));
            assertEquals(512, get(l, "n_ubatch", p));
            assertEquals(1, get(l, "n_seq_max", p));
            assertEquals(4, get(l, "n_threads", p)); // GGML_DEFAULT_N_THREADS
            assertEquals(4, get(l, "n_threads_batch", p));
            assertEquals(-1, get(l, "rope_scaling_type", p));
            assertEquals(-1, get(l, "pooling_type", p));
            assertEquals(-1, get(l, "attention_type", p));
            assertEquals(0f, get(l, "rope_freq_base", p));
            assertEquals(0f, get(l, "rope_freq_scale", p));
            assertEquals(-1f, get(l, "yarn_ext_factor", p));
            assertEquals(0, get(l, "yarn_orig_ctx", p));
            assertEquals(-1f, get(l, "defrag_thold", p));
            assertEquals(MemorySegment.NULL, get(l, "cb_eval", p));
            assertEquals(1, get(l, "type_k", p)); // GGML_TYPE_F16
            assertEquals(1, get(l, "type_v", p));
            assertEquals(false, get(l, "embeddings", p));
            assertEquals(true, get(l, "offload_kqv", p));
            assertEquals(true, get(l, "no_perf", p));
            assertEquals(MemorySegment.NULL, get(l, "abort_callback", p));
            assertEquals(MemorySegment.NULL, get(l, "abort_callback_data", p));
            switch (LlamaCpp.ABI) {
                case B4916 -> {
                    assertEquals(1f, get(l, "yarn_attn_factor", p));
                    assertEquals(32f, get(l, "yarn_beta_fast", p));
                    assertEquals(1f, get(l, "yarn_beta_slow", p));
                    assertEquals(false, get(l, "logits_all", p));
                    assertEquals(false, get(l, "flash_attn", p));
                }
                case V0_5_0 -> {
                    assertEquals(0, get(l, "n_rs_seq", p));
                    assertEquals(0, get(l, "n_outputs_max", p));
                    assertEquals(1, get(l, "n_outputs_max_per_seq", p));
                    assertEquals(0, get(l, "ctx_type", p)); // LLAMA_CONTEXT_TYPE_DEFAULT
                    assertEquals(-1, get(l, "flash_attn_type", p)); // LLAMA_FLASH_ATTN_TYPE_AUTO
                    assertEquals(-1f, get(l, "yarn_attn_factor", p));
                    assertEquals(-1f, get(l, "yarn_beta_fast", p));
                    assertEquals(-1f, get(l, "yarn_beta_slow", p));
                    assertEquals(true, get(l, "op_offload", p));
                    assertEquals(true, get(l, "swa_full", p));
                    assertEquals(false, get(l, "kv_unified", p));
                    assertEquals(MemorySegment.NULL, get(l, "samplers", p));
                    assertEquals(0L, get(l, "n_samplers", p));
                    assertEquals(MemorySegment.NULL, get(l, "ctx_other", p));
                }
            }
        }
    }

    @Test
    void modelDefaultsReadThroughLayout() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) LlamaCpp.model_default_params.invokeExact((SegmentAllocator) arena);
            StructLayout l = LlamaCpp.ABI.modelParams();
            assertEquals(p.byteSize(), l.byteSize());
            assertEquals(MemorySegment.NULL, get(l, "devices", p));
            assertEquals(1, get(l, "split_mode", p)); // LLAMA_SPLIT_MODE_LAYER
            assertEquals(0, get(l, "main_gpu", p));
            assertEquals(MemorySegment.NULL, get(l, "tensor_split", p));
            assertEquals(MemorySegment.NULL, get(l, "progress_callback", p));
            assertEquals(MemorySegment.NULL, get(l, "kv_overrides", p));
            assertEquals(false, get(l, "vocab_only", p));
            assertEquals(false, get(l, "check_tensors", p));
            switch (LlamaCpp.ABI) {
                case B4916 -> {
                    assertEquals(0, get(l, "n_gpu_layers", p)); // CPU build
                    assertEquals(true, get(l, "use_mmap", p));
                    assertEquals(false, get(l, "use_mlock", p));
                }
                case V0_5_0 -> {
                    assertEquals(-1, get(l, "n_gpu_layers", p)); // all
                    assertEquals(MemorySegment.NULL, get(l, "tensor_buft_overrides", p));
                    assertEquals(-1, get(l, "load_mode", p)); // LLAMA_LOAD_MODE_AUTO
                    assertEquals(1, get(l, "lazy_mode", p)); // LLAMA_LAZY_MODE_AUTO
                    assertEquals(true, get(l, "use_extra_bufts", p));
                    assertEquals(false, get(l, "no_host", p));
                    assertEquals(false, get(l, "no_alloc", p));
                    assertEquals(false, get(l, "load_mtp", p));
                }
            }
        }
    }

    @Test
    void samplerChainDefaults() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) LlamaCpp.sampler_chain_default_params.invokeExact((SegmentAllocator) arena);
            assertEquals(true, get(Layouts.SAMPLER_CHAIN_PARAMS, "no_perf", p));
        }
    }

    @Test
    void backendInformation() {
        assertTrue(LlamaBackend.libraryPath().toString().contains("jllama")
                || System.getProperty(NativeLibrary.PATH_PROPERTY) != null || System.getenv(NativeLibrary.PATH_ENV) != null);
        assertTrue(LlamaBackend.systemInfo().contains("CPU"), LlamaBackend.systemInfo());
        assertTrue(LlamaBackend.supportsMmap());
        var devices = LlamaBackend.devices();
        assertTrue(devices.stream().anyMatch(d -> d.kind() == BackendDevice.Kind.CPU), devices.toString());
        assertTrue(devices.stream().allMatch(d -> !d.name().isEmpty()), devices.toString());
        if (LlamaBackend.abi() == LlamaAbi.B4916) {
            assertFalse(LlamaBackend.supportsGpuOffload(), "the bundled b4916 library is a CPU build");
            assertEquals("b4916", LlamaBackend.version());
        } else {
            assertTrue(LlamaBackend.version().startsWith("0.5.0"), LlamaBackend.version());
        }
    }
}
