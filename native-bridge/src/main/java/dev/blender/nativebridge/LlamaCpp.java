package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;

/**
 * Downcall handles for the llama.cpp C API functions the bridge uses, bound for the {@link LlamaAbi} of
 * the library in use: the parameter structs take that ABI's layouts, and the KV-cache calls are
 * {@code llama_kv_self_*(ctx, ...)} at b4916 and {@code llama_memory_*(llama_get_memory(ctx), ...)} at
 * v0.5.0, with the same signatures otherwise ({@link LlamaContext} passes the right first argument).
 * Nothing outside this package sees a raw handle; the public types check every argument that
 * llama.cpp would crash on before calling here.
 */
final class LlamaCpp {
    private LlamaCpp() {}

    private static final Linker LINKER = Linker.nativeLinker();
    /** {@code size_t} on the 64-bit targets the bundled library exists for. */
    private static final MemoryLayout SIZE_T = JAVA_LONG;

    /** The ABI every handle here was bound for. */
    static final LlamaAbi ABI = NativeLibrary.get().abi();

    private static MethodHandle h(String name, FunctionDescriptor fd) {
        MemorySegment symbol = NativeLibrary.get().lookup().find(name).orElseThrow(() -> new LlamaException(
                "the llama.cpp library at " + NativeLibrary.get().path() + " does not export " + name
                        + ", which its version " + NativeLibrary.get().version() + " should; is the file damaged?"));
        return LINKER.downcallHandle(symbol, fd);
    }

    /** A handle for a function only some ABIs have; null in the others. */
    private static MethodHandle optional(String name, FunctionDescriptor fd) {
        return NativeLibrary.get().lookup().find(name).map(s -> LINKER.downcallHandle(s, fd)).orElse(null);
    }

    private static FunctionDescriptor fn(MemoryLayout ret, MemoryLayout... args) {
        return FunctionDescriptor.of(ret, args);
    }

    private static FunctionDescriptor proc(MemoryLayout... args) {
        return FunctionDescriptor.ofVoid(args);
    }

    // backend and process-wide
    static final MethodHandle backend_init = h("llama_backend_init", proc());
    static final MethodHandle log_set = h("llama_log_set", proc(ADDRESS, ADDRESS));
    static final MethodHandle print_system_info = h("llama_print_system_info", fn(ADDRESS));
    static final MethodHandle supports_gpu_offload = h("llama_supports_gpu_offload", fn(JAVA_BOOLEAN));
    static final MethodHandle supports_mmap = h("llama_supports_mmap", fn(JAVA_BOOLEAN));
    static final MethodHandle supports_mlock = h("llama_supports_mlock", fn(JAVA_BOOLEAN));
    static final MethodHandle model_default_params = h("llama_model_default_params", fn(ABI.modelParams()));
    static final MethodHandle context_default_params = h("llama_context_default_params", fn(ABI.contextParams()));
    static final MethodHandle sampler_chain_default_params =
            h("llama_sampler_chain_default_params", fn(Layouts.SAMPLER_CHAIN_PARAMS));

    // model
    static final MethodHandle model_load_from_file =
            h("llama_model_load_from_file", fn(ADDRESS, ADDRESS, ABI.modelParams()));
    static final MethodHandle model_free = h("llama_model_free", proc(ADDRESS));
    static final MethodHandle model_get_vocab = h("llama_model_get_vocab", fn(ADDRESS, ADDRESS));
    static final MethodHandle model_desc = h("llama_model_desc", fn(JAVA_INT, ADDRESS, ADDRESS, SIZE_T));
    static final MethodHandle model_size = h("llama_model_size", fn(JAVA_LONG, ADDRESS));
    static final MethodHandle model_n_params = h("llama_model_n_params", fn(JAVA_LONG, ADDRESS));
    static final MethodHandle model_n_ctx_train = h("llama_model_n_ctx_train", fn(JAVA_INT, ADDRESS));
    static final MethodHandle model_n_embd = h("llama_model_n_embd", fn(JAVA_INT, ADDRESS));
    static final MethodHandle model_n_layer = h("llama_model_n_layer", fn(JAVA_INT, ADDRESS));
    static final MethodHandle model_n_head = h("llama_model_n_head", fn(JAVA_INT, ADDRESS));
    static final MethodHandle model_chat_template = h("llama_model_chat_template", fn(ADDRESS, ADDRESS, ADDRESS));
    // encoder-decoder models (T5): the same signatures at b4916 and v0.5.0
    static final MethodHandle model_has_encoder = h("llama_model_has_encoder", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle model_has_decoder = h("llama_model_has_decoder", fn(JAVA_BOOLEAN, ADDRESS));
    // both pinned ABIs export is_recurrent; is_hybrid is v0.5.0's (b4916 has no hybrid architectures)
    static final MethodHandle model_is_recurrent = optional("llama_model_is_recurrent", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle model_is_hybrid = optional("llama_model_is_hybrid", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle model_decoder_start_token = h("llama_model_decoder_start_token", fn(JAVA_INT, ADDRESS));

    // context
    static final MethodHandle init_from_model =
            h("llama_init_from_model", fn(ADDRESS, ADDRESS, ABI.contextParams()));
    static final MethodHandle free = h("llama_free", proc(ADDRESS));
    static final MethodHandle n_ctx = h("llama_n_ctx", fn(JAVA_INT, ADDRESS));
    static final MethodHandle n_batch = h("llama_n_batch", fn(JAVA_INT, ADDRESS));
    static final MethodHandle n_ubatch = h("llama_n_ubatch", fn(JAVA_INT, ADDRESS));
    static final MethodHandle n_seq_max = h("llama_n_seq_max", fn(JAVA_INT, ADDRESS));
    static final MethodHandle pooling_type = h("llama_pooling_type", fn(JAVA_INT, ADDRESS));
    static final MethodHandle set_n_threads = h("llama_set_n_threads", proc(ADDRESS, JAVA_INT, JAVA_INT));
    static final MethodHandle n_threads = h("llama_n_threads", fn(JAVA_INT, ADDRESS));
    static final MethodHandle n_threads_batch = h("llama_n_threads_batch", fn(JAVA_INT, ADDRESS));
    static final MethodHandle decode = h("llama_decode", fn(JAVA_INT, ADDRESS, Layouts.BATCH));
    static final MethodHandle encode = h("llama_encode", fn(JAVA_INT, ADDRESS, Layouts.BATCH));
    static final MethodHandle get_logits_ith = h("llama_get_logits_ith", fn(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle get_embeddings_ith = h("llama_get_embeddings_ith", fn(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle get_embeddings_seq = h("llama_get_embeddings_seq", fn(ADDRESS, ADDRESS, JAVA_INT));

    // KV cache: the first argument is the context at b4916, llama_get_memory(context) at v0.5.0
    static final MethodHandle get_memory = optional("llama_get_memory", fn(ADDRESS, ADDRESS));
    /** {@code clear(target)}: v0.5.0's extra "data" argument is fixed to true (free the buffers too). */
    static final MethodHandle kv_clear = ABI == LlamaAbi.B4916
            ? h("llama_kv_self_clear", proc(ADDRESS))
            : MethodHandles.insertArguments(h("llama_memory_clear", proc(ADDRESS, JAVA_BOOLEAN)), 1, true);
    static final MethodHandle kv_seq_rm =
            h(ABI.kvFunction("seq_rm"), fn(JAVA_BOOLEAN, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle kv_seq_cp =
            h(ABI.kvFunction("seq_cp"), proc(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle kv_seq_keep = h(ABI.kvFunction("seq_keep"), proc(ADDRESS, JAVA_INT));
    static final MethodHandle kv_seq_add =
            h(ABI.kvFunction("seq_add"), proc(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle kv_seq_pos_max = h(ABI.kvFunction("seq_pos_max"), fn(JAVA_INT, ADDRESS, JAVA_INT));
    /** b4916 only: v0.5.0 has no replacement ({@link KvCells} counts in Java). */
    static final MethodHandle kv_self_used_cells = optional("llama_kv_self_used_cells", fn(JAVA_INT, ADDRESS));

    // LoRA adapters: b4916 sets, removes and clears one adapter at a time; v0.5.0 only replaces the whole
    // list (llama_set_adapters_lora), so LlamaContext keeps the list in Java and hands over all of it
    static final MethodHandle adapter_lora_init = h("llama_adapter_lora_init", fn(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle adapter_lora_free = h("llama_adapter_lora_free", proc(ADDRESS));
    static final MethodHandle set_adapter_lora = ABI == LlamaAbi.B4916
            ? h("llama_set_adapter_lora", fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT)) : null;
    static final MethodHandle rm_adapter_lora = ABI == LlamaAbi.B4916
            ? h("llama_rm_adapter_lora", fn(JAVA_INT, ADDRESS, ADDRESS)) : null;
    static final MethodHandle clear_adapter_lora = ABI == LlamaAbi.B4916
            ? h("llama_clear_adapter_lora", proc(ADDRESS)) : null;
    static final MethodHandle set_adapters_lora = ABI == LlamaAbi.B4916
            ? null : h("llama_set_adapters_lora", fn(JAVA_INT, ADDRESS, ADDRESS, SIZE_T, ADDRESS));

    // ggml backends and devices (exported by libjllama at b4916, by libggml and libggml-base at v0.5.0)
    static final MethodHandle backend_load_all_from_path =
            optional("ggml_backend_load_all_from_path", proc(ADDRESS));
    static final MethodHandle backend_dev_count = h("ggml_backend_dev_count", fn(SIZE_T));
    static final MethodHandle backend_dev_get = h("ggml_backend_dev_get", fn(ADDRESS, SIZE_T));
    static final MethodHandle backend_dev_name = h("ggml_backend_dev_name", fn(ADDRESS, ADDRESS));
    static final MethodHandle backend_dev_description = h("ggml_backend_dev_description", fn(ADDRESS, ADDRESS));
    static final MethodHandle backend_dev_type = h("ggml_backend_dev_type", fn(JAVA_INT, ADDRESS));
    static final MethodHandle backend_dev_memory = h("ggml_backend_dev_memory", proc(ADDRESS, ADDRESS, ADDRESS));

    // vocabulary
    static final MethodHandle vocab_n_tokens = h("llama_vocab_n_tokens", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_type = h("llama_vocab_type", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_bos = h("llama_vocab_bos", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_eos = h("llama_vocab_eos", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_eot = h("llama_vocab_eot", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_nl = h("llama_vocab_nl", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_pad = h("llama_vocab_pad", fn(JAVA_INT, ADDRESS));
    static final MethodHandle vocab_get_add_bos = h("llama_vocab_get_add_bos", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle vocab_get_add_eos = h("llama_vocab_get_add_eos", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle vocab_is_eog = h("llama_vocab_is_eog", fn(JAVA_BOOLEAN, ADDRESS, JAVA_INT));
    static final MethodHandle vocab_is_control = h("llama_vocab_is_control", fn(JAVA_BOOLEAN, ADDRESS, JAVA_INT));
    static final MethodHandle vocab_get_text = h("llama_vocab_get_text", fn(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle vocab_get_score = h("llama_vocab_get_score", fn(JAVA_FLOAT, ADDRESS, JAVA_INT));
    static final MethodHandle vocab_get_attr = h("llama_vocab_get_attr", fn(JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle tokenize = h("llama_tokenize",
            fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
    static final MethodHandle token_to_piece = h("llama_token_to_piece",
            fn(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_BOOLEAN));
    static final MethodHandle detokenize = h("llama_detokenize",
            fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
    static final MethodHandle chat_apply_template = h("llama_chat_apply_template",
            fn(JAVA_INT, ADDRESS, ADDRESS, SIZE_T, JAVA_BOOLEAN, ADDRESS, JAVA_INT));

    /** Rethrows what a downcall threw; downcalls only throw for programming errors in this package. */
    static LlamaException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new LlamaException("native call failed", t);
    }
}
