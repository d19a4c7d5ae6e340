package dev.blender.nativebridge.gguf;

import dev.blender.nativebridge.LlamaAbi;
import dev.blender.nativebridge.gguf.GgufFormatException.Problem;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What llama.cpp assumes of a model's metadata and tensor table without checking, and so asserts on (which
 * aborts the whole process) or reads out of bounds: checked in Java on a file {@link GgufFile#read} has
 * already parsed, before any native call sees it. Problems llama.cpp reports as an ordinary load error are
 * left to it, and so is whatever it tolerates (a special token id past the vocabulary it replaces, a merge
 * it cannot use, an unknown token type): no file that the running llama.cpp loads and runs is refused.
 * Where the two supported builds differ (the expert cap, special token defaults), the check is the one of
 * the {@link LlamaAbi} given. Beside each check: the native check it pre-empts.
 */
public final class ModelChecks {
    /** llama-hparams.h LLAMA_MAX_LAYERS (both supported ABIs). */
    static final int MAX_LAYERS = 512;
    /** ggml-backend-impl.h TENSOR_ALIGNMENT. */
    static final int TENSOR_ALIGNMENT = 32;
    /** llama_token_type BYTE. */
    private static final int TOKEN_TYPE_BYTE = 6;
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    private static final String TOKENS = "tokenizer.ggml.tokens";
    private static final String SCORES = "tokenizer.ggml.scores";
    private static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    private static final String MERGES = "tokenizer.ggml.merges";
    private static final List<String> SPECIAL_TOKEN_KEYS = List.of("bos", "eos", "unknown", "seperator", "padding",
            "cls", "mask", "eot", "eom", "prefix", "suffix", "middle", "fim_pre", "fim_suf", "fim_mid", "fim_pad",
            "fim_rep", "fim_sep");
    /** Tokenizer models whose merges llama.cpp reads (byte-pair encodings). */
    private static final Set<String> BPE_MODELS = Set.of("gpt2", "gemma4", "hybriddna", "whitespace");

    private ModelChecks() {}

    /**
     * Checks the vocabulary, the hyper-parameters and the tensor types of a model file for llama.cpp of the given
     * ABI ({@link dev.blender.nativebridge.LlamaBackend#abi()} for the library that will load it).
     *
     * @throws GgufFormatException naming the first problem and what to do about it
     */
    public static void check(GgufFile file, LlamaAbi abi) {
        java.util.Objects.requireNonNull(abi, "abi");
        keys(file);
        fixedTypes(file);
        vocabulary(file, abi);
        hyperParameters(file, abi);
        tensorPlacement(file);
        tensorTypes(file);
    }

    /** {@link #check(GgufFile, LlamaAbi)} for every supported ABI: what passes loads on either. */
    public static void check(GgufFile file) {
        for (LlamaAbi abi : LlamaAbi.values()) {
            check(file, abi);
        }
    }

    /** llama-hparams.h LLAMA_MAX_EXPERTS: 256 in b4916, 1024 in v0.5.0. */
    static int maxExperts(LlamaAbi abi) {
        return abi == LlamaAbi.B4916 ? 256 : 1024;
    }

    private static GgufFormatException fail(GgufFile f, Problem p, String detail) {
        return new GgufFormatException(f.path(), p, detail);
    }

    private static String reconvert() {
        return "; the file is corrupt or was written by a broken tool: download or convert it again";
    }

    /**
     * Refuses a metadata key with a zero byte, which llama.cpp would read as a shorter key than the one the
     * Java checks saw (so they could be sidestepped); adapter files are checked with it too.
     *
     * @throws GgufFormatException {@link Problem#BAD_KEY}
     */
    public static void checkKeys(GgufFile f) {
        keys(f);
    }

    static void keys(GgufFile f) {
        for (String key : f.metadata().keySet()) {
            // gguf.cpp gguf_find_key compares keys as C strings (strcmp), so "a\0b" answers for "a" without
            // any of the checks here having seen it as "a"
            if (key.indexOf('\0') >= 0) {
                throw fail(f, Problem.BAD_KEY, "metadata key '" + printable(key) + "' has a zero byte; llama.cpp"
                        + " would read it as '" + printable(asC(key)) + "'" + reconvert());
            }
        }
    }

    static void fixedTypes(GgufFile f) {
        // b4916 llama-model-loader.cpp reads it with gguf_get_val_u32, which asserts
        // GGML_ASSERT(type_to_gguf_type<T>::value == type); other keys go through get_key, which throws instead
        GgufValue fileType = f.metadata().get("general.file_type");
        if (fileType != null && fileType.type() != GgufValueType.UINT32) {
            throw fail(f, Problem.BAD_METADATA_TYPE, "general.file_type is " + describe(fileType)
                    + " but must be a UINT32" + reconvert());
        }
    }

    static void vocabulary(GgufFile f, LlamaAbi abi) {
        String model = asC(f.string("tokenizer.ggml.model").orElse(""));
        GgufValue tokensValue = f.metadata().get(TOKENS);
        if (tokensValue == null) {
            return; // llama.cpp reports a missing vocabulary itself
        }
        // gguf.cpp gguf_get_arr_str: GGML_ASSERT(ctx->kv[key_id].get_type() == GGUF_TYPE_STRING), and
        // gguf_get_arr_n on a scalar: GGML_ASSERT(ctx->kv[key_id].is_array) (b4916: GGML_ABORT)
        if (!(tokensValue instanceof GgufValue.Array a) || a.elementType() != GgufValueType.STRING) {
            throw fail(f, Problem.BAD_METADATA_TYPE, TOKENS + " is " + describe(tokensValue)
                    + " but must be an array of strings (the token texts)" + reconvert());
        }
        List<String> tokens = f.stringArray(TOKENS).stream().map(ModelChecks::asC).toList();
        int n = tokens.size();
        if (n == 0) {
            throw fail(f, Problem.BAD_VOCABULARY, TOKENS + " is empty; a model needs at least one token" + reconvert());
        }
        // llama-vocab.cpp load: GGML_ASSERT(id_to_token.size() == token_to_id.size()), i.e. texts are unique
        // as C strings (cut at a NUL byte); v0.5.0 renames an empty text to "[EMPTY_<id>]" first, so that
        // name must be free too
        Map<String, Integer> ids = HashMap.newHashMap(n);
        for (int i = 0; i < n; i++) {
            Integer before = ids.putIfAbsent(tokens.get(i), i);
            if (before != null) {
                throw fail(f, Problem.BAD_VOCABULARY, "tokens " + before + " and " + i + " have the same text \""
                        + printable(tokens.get(i)) + "\"; every token text must be unique" + reconvert());
            }
        }
        for (int i = 0; i < n; i++) {
            if (tokens.get(i).isEmpty() && ids.containsKey("[EMPTY_" + i + "]")) {
                throw fail(f, Problem.BAD_VOCABULARY, "token " + i + " is empty and token "
                        + ids.get("[EMPTY_" + i + "]") + " is \"[EMPTY_" + i + "]\", the name llama.cpp gives the"
                        + " empty one; the texts collide" + reconvert());
            }
        }
        // b4916 llama-vocab.cpp reads scores[i] and toktypes[i] (as 4-byte values) for every token without a length
        // check, an out-of-bounds read (v0.5.0 throws), and gguf_get_arr_data asserts GGML_ASSERT(type != GGUF_TYPE_STRING);
        // more entries than tokens are never read
        GgufValue scores = f.metadata().get(SCORES);
        if (scores != null) {
            if (!(scores instanceof GgufValue.Array s)
                    || (s.elementType() != GgufValueType.FLOAT32 && s.elementType() != GgufValueType.INT32)) {
                throw fail(f, Problem.BAD_METADATA_TYPE, SCORES + " is " + describe(scores)
                        + " but must be an array of FLOAT32, one per token" + reconvert());
            }
            if (s.elements().size() < n) {
                throw fail(f, Problem.BAD_VOCABULARY, SCORES + " has " + s.elements().size() + " entries for " + n
                        + " tokens; it needs one per token" + reconvert());
            }
        }
        GgufValue types = f.metadata().get(TOKEN_TYPE);
        if (types != null) {
            if (!(types instanceof GgufValue.Array t) || t.elementType() != GgufValueType.INT32) {
                throw fail(f, Problem.BAD_METADATA_TYPE, TOKEN_TYPE + " is " + describe(types)
                        + " but must be an array of INT32, one per token" + reconvert());
            }
            if (t.elements().size() < n) {
                throw fail(f, Problem.BAD_VOCABULARY, TOKEN_TYPE + " has " + t.elements().size() + " entries for "
                        + n + " tokens; it needs one per token" + reconvert());
            }
            // a type llama.cpp does not know becomes LLAMA_TOKEN_ATTR_UNDEFINED (the switch's default), as type 0 is
            long[] values = f.intArray(TOKEN_TYPE);
            for (int i = 0; i < n; i++) {
                // llama-vocab.cpp token_to_byte (SPM): token_data.text.substr(3, 2), which throws
                // std::out_of_range from the C API when a byte token's text is not "<0xHH>"
                if (values[i] == TOKEN_TYPE_BYTE && "llama".equals(model) && !BYTE_TOKEN.matcher(tokens.get(i)).matches()) {
                    throw fail(f, Problem.BAD_VOCABULARY, "token " + i + " is a byte token but its text is \""
                            + printable(tokens.get(i)) + "\", not <0xHH>" + reconvert());
                }
            }
        }
        if (BPE_MODELS.contains(model)) {
            merges(f);
        }
        specialTokens(f, model, n, abi);
    }

    private static void merges(GgufFile f) {
        GgufValue merges = f.metadata().get(MERGES);
        if (merges == null) {
            return; // llama.cpp: "cannot find tokenizer merges in model file", an ordinary load error
        }
        // gguf.cpp gguf_get_arr_str: GGML_ASSERT(ctx->kv[key_id].get_type() == GGUF_TYPE_STRING)
        if (!(merges instanceof GgufValue.Array m) || m.elementType() != GgufValueType.STRING) {
            throw fail(f, Problem.BAD_METADATA_TYPE, MERGES + " is " + describe(merges)
                    + " but must be an array of strings \"left right\"" + reconvert());
        }
        // what a merge holds is never asserted on: llama-vocab.cpp splits it at the first space after its first
        // byte (none: an empty pair), and the tokenizer merges only adjacent pieces of the text, falling back on
        // bytes for a merged piece that is no token; find_bpe_rank's GGML_ASSERT(no ' ' or '\n') applies to those
        // pieces, which byte-level pre-tokenising keeps free of spaces and newlines
    }

    private static void specialTokens(GgufFile f, String model, int n, LlamaAbi abi) {
        for (String name : SPECIAL_TOKEN_KEYS) {
            String key = "tokenizer.ggml." + name + "_token_id";
            GgufValue v = f.metadata().get(key);
            if (v != null && (!(v instanceof GgufValue.Int) || !v.type().isInteger())) {
                throw fail(f, Problem.BAD_METADATA_TYPE, key + " is " + describe(v) + " but must be a token id (UINT32)"
                        + reconvert());
            }
            // llama-vocab.cpp ignores an id past the vocabulary ("bad special token ... using default id") and keeps
            // its default for the tokenizer. v0.5.0 first disables a default past the vocabulary; b4916 keeps it and
            // uses it unchecked (print_info reads id_to_token[id], tokenize puts it in prompts)
            long effective = effectiveId(f, name, defaultId(model, name), n);
            if (abi == LlamaAbi.B4916 && effective != NONE && effective >= n) {
                throw fail(f, Problem.BAD_SPECIAL_TOKEN, key + " is " + (v == null ? "absent" : ((GgufValue.Int) v).value())
                        + ", so llama.cpp b4916 uses its default " + name + " id " + effective + " for a '" + model
                        + "' tokenizer, but the vocabulary has " + n + " tokens (0.." + (n - 1) + ")" + reconvert());
            }
        }
        // llama-vocab.cpp tokenize: GGML_ASSERT(vocab.token_bos() != LLAMA_TOKEN_NULL) when the model adds
        // BOS (and likewise EOS); the default ids (llama 1/2, gpt2 11) are dropped when past the vocabulary
        boolean addsBos = f.bool("tokenizer.ggml.add_bos_token").orElse("llama".equals(model) || "bert".equals(model));
        boolean addsEos = f.bool("tokenizer.ggml.add_eos_token").orElse("t5".equals(model));
        if (addsBos && effectiveId(f, "bos", defaultId(model, "bos"), n) >= n) {
            throw fail(f, Problem.BAD_SPECIAL_TOKEN, "the tokenizer adds a BOS token to every prompt but the"
                    + " vocabulary of " + n + " tokens has none (set tokenizer.ggml.bos_token_id, or"
                    + " tokenizer.ggml.add_bos_token to false)");
        }
        if (addsEos && effectiveId(f, "eos", defaultId(model, "eos"), n) >= n) {
            throw fail(f, Problem.BAD_SPECIAL_TOKEN, "the tokenizer adds an EOS token to every prompt but the"
                    + " vocabulary of " + n + " tokens has none (set tokenizer.ggml.eos_token_id, or"
                    + " tokenizer.ggml.add_eos_token to false)");
        }
    }

    private static long effectiveId(GgufFile f, String name, long fallback, int n) {
        OptionalLong id = f.integer("tokenizer.ggml." + name + "_token_id");
        return id.isPresent() && id.getAsLong() >= 0 && id.getAsLong() < n ? id.getAsLong() : fallback;
    }

    /** LLAMA_TOKEN_NULL: no such token. */
    private static final long NONE = Long.MAX_VALUE;

    /** llama-vocab.cpp load: the special token ids each tokenizer starts from before the file's; NONE for none. */
    private static long defaultId(String model, String name) {
        return switch (model) {
            case "llama", "plamo2" -> switch (name) {
                case "bos" -> 1;
                case "eos" -> 2;
                case "unknown" -> 0;
                default -> NONE;
            };
            case "bert" -> switch (name) {
                case "bos" -> 101;
                case "unknown" -> 100;
                case "seperator" -> 102;
                case "padding" -> 0;
                case "mask" -> 103;
                default -> NONE;
            };
            case "gpt2", "hybriddna", "whitespace" -> name.equals("bos") || name.equals("eos") ? 11 : NONE;
            case "t5" -> switch (name) {
                case "eos" -> 1;
                case "unknown" -> 2;
                case "padding" -> 0;
                default -> NONE;
            };
            default -> NONE;
        };
    }

    static void hyperParameters(GgufFile f, LlamaAbi abi) {
        String arch = f.architecture().map(ModelChecks::asC).orElse(null);
        if (arch == null) {
            return; // llama.cpp: "unknown model architecture", an ordinary load error
        }
        // llama-model.cpp load_hparams: GGML_ASSERT(hparams.n_layer > 0 && hparams.n_layer <= LLAMA_MAX_LAYERS)
        OptionalLong layers = f.integer(arch + ".block_count");
        if (layers.isPresent() && (layers.getAsLong() < 1 || layers.getAsLong() > MAX_LAYERS)) {
            throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + ".block_count is " + layers.getAsLong()
                    + "; llama.cpp supports 1.." + MAX_LAYERS + " layers" + reconvert());
        }
        long nLayers = layers.orElse(MAX_LAYERS);
        // llama-model.cpp load_hparams (v0.5.0): GGML_ASSERT(hparams.n_layer_nextn <= hparams.n_layer_all), and
        // for WavTokenizer GGML_ASSERT(hparams.posnet.n_layer <= n_layer) and (hparams.convnext.n_layer <= n_layer)
        for (String key : List.of("nextn_predict_layers", "posnet.block_count", "convnext.block_count")) {
            long n = maxInt(f, arch + "." + key);
            if (n < 0 || n > nLayers) {
                throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + "." + key + " is " + n + " but the model has "
                        + nLayers + " layers (" + arch + ".block_count)" + reconvert());
            }
        }
        // llama-model.cpp load_hparams: GGML_ASSERT(hparams.n_expert <= LLAMA_MAX_EXPERTS) (256 in b4916, 1024 in v0.5.0),
        // GGML_ASSERT(n_expert_used <= hparams.n_expert), with experts GGML_ASSERT(n_expert_used > 0), without
        // them GGML_ASSERT(n_expert_used == 0); the used count may be one per layer (v0.5.0)
        long experts = maxInt(f, arch + ".expert_count");
        long used = maxInt(f, arch + ".expert_used_count");
        int maxExperts = maxExperts(abi);
        if (experts < 0 || experts > maxExperts || used < 0 || used > experts || (experts > 0 && used == 0)) {
            throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + ".expert_count is " + experts + " and "
                    + arch + ".expert_used_count is " + used + "; llama.cpp needs 0 <= used <= count <= "
                    + maxExperts + " (llama.cpp " + abi + "), and at least one used expert when there are experts"
                    + reconvert());
        }
        // llama-model.cpp load_hparams (v0.5.0): GGML_ASSERT(hparams.n_expert_groups < hparams.n_expert), or == 0
        // without experts; with groups GGML_ASSERT(n_expert % n_expert_groups == 0), GGML_ASSERT(n_group_used > 0)
        // and GGML_ASSERT(n_group_used < n_expert_groups)
        long groups = maxInt(f, arch + ".expert_group_count");
        long groupsUsed = maxInt(f, arch + ".expert_group_used_count");
        boolean groupsOk = experts == 0 ? groups == 0
                : groups >= 0 && groups < experts && (groups <= 1
                        || (experts % groups == 0 && groupsUsed > 0 && groupsUsed < groups));
        if (!groupsOk) {
            throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + ".expert_group_count is " + groups + " and "
                    + arch + ".expert_group_used_count is " + groupsUsed + " for " + experts + " experts; groups"
                    + " must divide the experts, and the used groups be fewer than the groups" + reconvert());
        }
        // llama-model.cpp load_hparams: GGML_ASSERT(hparams.rope_scaling_type_train != LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED)
        GgufValue scaling = f.metadata().get(arch + ".rope.scaling.type");
        if (scaling instanceof GgufValue.Str(String s) && !Set.of("none", "linear", "yarn", "longrope").contains(s)) {
            throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + ".rope.scaling.type is \"" + printable(s)
                    + "\"; llama.cpp knows none, linear, yarn and longrope" + reconvert());
        }
        OptionalLong embd = f.integer(arch + ".embedding_length");
        OptionalLong heads = f.integer(arch + ".attention.head_count");
        OptionalLong kvHeads = f.integer(arch + ".attention.head_count_kv");
        if (heads.isPresent() && heads.getAsLong() > 0) {
            long h = heads.getAsLong();
            // llama-hparams.cpp n_gqa: n_head / n_head_kv, which the attention graph uses to group queries
            if (kvHeads.isPresent() && (kvHeads.getAsLong() < 1 || kvHeads.getAsLong() > h || h % kvHeads.getAsLong() != 0)) {
                throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + ".attention.head_count_kv (" + kvHeads.getAsLong()
                        + ") must divide " + arch + ".attention.head_count (" + h + ")" + reconvert());
            }
        }
        // create_tensor would also refuse a mismatch, but naming the keys says more than llama.cpp's shape error
        TensorInfo embedding = f.tensor("token_embd.weight").orElse(null);
        if (embedding != null && embd.isPresent() && embedding.rank() == 2 && embedding.dim(0) != embd.getAsLong()) {
            throw fail(f, Problem.BAD_HYPERPARAMETERS, arch + ".embedding_length is " + embd.getAsLong()
                    + " but token_embd.weight has rows of " + embedding.dim(0) + reconvert());
        }
    }

    static void tensorPlacement(GgufFile f) {
        for (TensorInfo t : f.tensors()) {
            // ggml-backend.cpp (buffer from the mmapped file): GGML_ASSERT((uintptr_t)ptr % TENSOR_ALIGNMENT == 0
            // && "buffer pointer must be aligned"); GGUF allows a smaller general.alignment, llama.cpp does not
            long at = f.absoluteOffset(t);
            if (at % TENSOR_ALIGNMENT != 0) {
                throw fail(f, Problem.MISALIGNED, "tensor '" + t.name() + "' starts at byte " + at + ", which is not"
                        + " a multiple of " + TENSOR_ALIGNMENT + " (general.alignment is " + f.alignment()
                        + "); llama.cpp maps tensors only at 32-byte boundaries" + reconvert());
            }
        }
    }

    /**
     * Whether llama.cpp's CPU kernels multiply by (or look rows up in) a matrix of this type: every float and
     * quantised type except the dot-product-only Q8_1/Q8_K; not the integer types nor F64.
     */
    public static boolean isComputableMatrixType(GgmlType type) {
        return !NOT_MATRIX_TYPES.contains(type);
    }

    /** ggml-cpu has no matrix product or row lookup for these; with I8/I16/I32 weights both ABIs exited. */
    private static final Set<GgmlType> NOT_MATRIX_TYPES = Set.of(GgmlType.I8, GgmlType.I16, GgmlType.I32, GgmlType.I64,
            GgmlType.F64, GgmlType.Q8_1, GgmlType.Q8_K);

    static void tensorTypes(GgufFile f) {
        for (TensorInfo t : f.tensors()) {
            // norms and biases are the second operand of ggml_mul/ggml_add: b4916 ggml-cpu.c asserts
            // GGML_ASSERT((src1->type == GGML_TYPE_F32 || src1->type == GGML_TYPE_F16) && "only f32/f16 src1
            // supported for now"), v0.5.0 binary-ops.cpp aborts "binary_op: unsupported types" (even on BF16);
            // converters always write vectors as F32
            if (t.rank() <= 1 && t.type() != GgmlType.F32) {
                throw fail(f, Problem.BAD_TENSOR_TYPE, "tensor '" + t.name() + "' is a vector of " + t.type()
                        + "; llama.cpp needs vectors (norms, biases) in F32" + reconvert());
            }
            // ggml-cpu: matrix products and row lookups have no kernel for integer, F64 or the dot-product-only
            // Q8_1/Q8_K weights; with I8/I16/I32 weights both ABIs took the process down (exit status 1)
            if (!isComputableMatrixType(t.type())) {
                throw fail(f, Problem.BAD_TENSOR_TYPE, "tensor '" + t.name() + "' is " + t.type()
                        + ", which llama.cpp cannot compute with as a weight" + reconvert());
            }
        }
    }

    /** The string llama.cpp sees: gguf_get_val_str/gguf_get_arr_str hand out C strings, which end at the first NUL byte. */
    public static String asC(String s) {
        int nul = s.indexOf('\0');
        return nul < 0 ? s : s.substring(0, nul);
    }

    /** An integer key, or the largest element of an integer array key (per-layer values); 0 when absent. */
    private static long maxInt(GgufFile f, String key) {
        OptionalLong v = f.integer(key);
        if (v.isPresent()) {
            return v.getAsLong();
        }
        long max = 0;
        for (long x : f.intArray(key)) {
            if (x < 0) {
                return x;
            }
            max = Math.max(max, x);
        }
        return max;
    }

    private static String describe(GgufValue v) {
        return v instanceof GgufValue.Array a ? "an array of " + a.elementType() : "a " + v.type();
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(40).forEach(c -> {
            if (c < 0x20 || c == 0x7F) {
                b.append(String.format("\\x%02X", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return s.codePointCount(0, s.length()) > 40 ? b + "..." : b.toString();
    }
}
