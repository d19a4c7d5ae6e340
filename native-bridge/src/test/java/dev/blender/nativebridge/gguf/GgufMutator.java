package dev.blender.nativebridge.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Mutates a valid GGUF model into a (probably) bad one, deterministically from a seed. Raw mutations
 * (bit flips, byte and integer overwrites, truncation) hit the header, where the interesting bytes are;
 * structural ones edit the parsed metadata and tensor table and write a file that is still well-formed
 * GGUF, so that it gets past the parser and reaches llama.cpp's loaders, where the aborts live.
 */
public final class GgufMutator {
    /** What a case did to its file; printed with every failure so a case can be understood without rerunning it. */
    public enum Kind {
        BIT_FLIP, BYTE_OVERWRITE, INT_OVERWRITE, TRUNCATE,
        VALUE_TYPE_SWAP, INT_VALUE, STRING_VALUE, ARRAY_LENGTH, ARRAY_DUPLICATE, ARRAY_ELEMENT, ARRAY_ELEMENT_TYPE,
        DELETE_KEY, ADD_KEY, MERGE_EDIT, TENSOR_SHAPE, TENSOR_TYPE, TENSOR_DROP, TENSOR_RENAME,
        /** Adapters only: a second copy of a tensor under another name, e.g. one llama.cpp pairs with the same base. */
        TENSOR_COPY
    }

    /** What a model's cases draw from (the kinds before adapters existed, so model seeds keep their cases). */
    private static final Kind[] MODEL_KINDS = Arrays.copyOf(Kind.values(), Kind.TENSOR_RENAME.ordinal() + 1);

    /** A mutated file and what was done to it. */
    public record Mutant(Kind kind, String description, byte[] bytes) {}

    private static final long[] INTERESTING = {0, 1, 2, 3, -1, 7, 8, 11, 31, 32, 63, 64, 100, 255, 256, 511, 512, 513,
            1024, 32767, 65535, 65536, Integer.MAX_VALUE, 0xFFFF_FFFFL, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE};

    /** Keys llama.cpp reads while loading a model or its vocabulary; {@code %s} is the architecture. */
    private static final String[] SENSITIVE_KEYS = {
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id", "tokenizer.ggml.mask_token_id", "tokenizer.ggml.fim_pre_token_id",
        "tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.fim_pad_token_id",
        "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id", "tokenizer.ggml.prefix_token_id",
        "tokenizer.ggml.suffix_token_id", "tokenizer.ggml.middle_token_id",
        "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_sep_token",
        "tokenizer.ggml.add_space_prefix", "tokenizer.ggml.remove_extra_whitespaces",
        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
        "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.token_type_count",
        "tokenizer.chat_template", "general.alignment", "general.architecture", "general.name",
        "%s.context_length", "%s.embedding_length", "%s.block_count", "%s.feed_forward_length",
        "%s.attention.head_count", "%s.attention.head_count_kv", "%s.attention.key_length",
        "%s.attention.value_length", "%s.rope.dimension_count", "%s.rope.freq_base", "%s.rope.scaling.type",
        "%s.rope.scaling.factor", "%s.attention.layer_norm_rms_epsilon", "%s.vocab_size", "%s.expert_count",
        "%s.expert_used_count", "%s.nextn_predict_layers", "%s.attention.sliding_window", "%s.pooling_type",
    };

    /** Keys llama.cpp reads while loading a LoRA adapter (and a few it only prints). */
    private static final String[] ADAPTER_KEYS = {
        "general.type", "general.architecture", "adapter.type", "adapter.lora.alpha", "adapter.alora.invocation_tokens",
        "general.name", "general.alignment",
    };

    private final byte[] original;
    private final GgufFile file;
    private final String arch;
    private final String[] keys;
    private final Kind[] kinds;
    /** For an adapter, the tensor names of its base model; null for a model. */
    private final List<String> baseTensors;

    /** A mutator of the model {@code file}, whose bytes are {@code original}. */
    public GgufMutator(byte[] original, GgufFile file) {
        this(original, file, null);
    }

    private GgufMutator(byte[] original, GgufFile file, GgufFile base) {
        this.original = original.clone();
        this.file = file;
        this.arch = file.architecture().orElse("llama");
        this.baseTensors = base == null ? null : base.tensors().stream().map(TensorInfo::name).toList();
        this.keys = base == null
                ? Arrays.stream(SENSITIVE_KEYS).map(k -> k.replace("%s", arch)).toArray(String[]::new) : ADAPTER_KEYS;
        this.kinds = base == null ? MODEL_KINDS : Kind.values();
    }

    /**
     * A mutator of the LoRA adapter {@code adapter} (bytes {@code original}) for {@code base}: the keys it mutates
     * are those llama.cpp's adapter loader reads, and renamed or copied tensors take names llama.cpp would pair
     * with the base's tensors (another base tensor, the other factor, a doubled or missing suffix, a norm).
     */
    public static GgufMutator forAdapter(byte[] original, GgufFile adapter, GgufFile base) {
        return new GgufMutator(original, adapter, base);
    }

    /** The mutant for one random stream: the same stream state gives the same file. */
    public Mutant mutate(SplittableRandom r) {
        Kind kind = kinds[r.nextInt(kinds.length)];
        return switch (kind) {
            case BIT_FLIP, BYTE_OVERWRITE, INT_OVERWRITE, TRUNCATE -> raw(kind, r);
            default -> structural(kind, r);
        };
    }

    private Mutant raw(Kind kind, SplittableRandom r) {
        // almost all bytes are weights, whose values cannot crash a loader; aim at the header instead
        int header = (int) Math.min(file.dataOffset(), original.length);
        byte[] b = original.clone();
        switch (kind) {
            case BIT_FLIP -> {
                int flips = 1 + r.nextInt(4);
                StringBuilder d = new StringBuilder("flipped");
                for (int i = 0; i < flips; i++) {
                    int at = r.nextInt(header);
                    int bit = r.nextInt(8);
                    b[at] ^= (byte) (1 << bit);
                    d.append(" bit ").append(bit).append(" of byte ").append(at);
                }
                return new Mutant(kind, d.toString(), b);
            }
            case BYTE_OVERWRITE -> {
                int at = r.nextInt(header);
                int v = new int[] {0, 0xFF, 0x7F, 0x80, 0x20, r.nextInt(256)}[r.nextInt(6)];
                b[at] = (byte) v;
                return new Mutant(kind, "byte " + at + " := " + v, b);
            }
            case INT_OVERWRITE -> {
                int width = r.nextBoolean() ? 4 : 8;
                int at = r.nextInt(Math.max(1, header - width));
                long v = INTERESTING[r.nextInt(INTERESTING.length)];
                ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                if (width == 4) {
                    bb.putInt(at, (int) v);
                } else {
                    bb.putLong(at, v);
                }
                return new Mutant(kind, width * 8 + "-bit " + v + " at byte " + at, b);
            }
            default -> {
                int len = r.nextInt(4) == 0 ? r.nextInt(original.length) : r.nextInt(header + 1);
                return new Mutant(kind, "truncated to " + len + " bytes", Arrays.copyOf(b, len));
            }
        }
    }

    /** A tensor of the rewritten file: its data is the original's, cut or zero-padded to the new size. */
    private record Tensor(String name, int typeId, long[] dims, byte[] data) {}

    /** The original file with its metadata edited (for regression tests of one known mutation). */
    public byte[] withMetadata(java.util.function.Consumer<Map<String, GgufValue>> edit) {
        Map<String, GgufValue> meta = new LinkedHashMap<>(file.metadata());
        edit.accept(meta);
        return write(meta, tensors());
    }

    /** The original file with one tensor's type changed (its data cut or zero-padded to the new size). */
    public byte[] withTensorType(String name, GgmlType type) {
        List<Tensor> tensors = new ArrayList<>(tensors());
        tensors.replaceAll(t -> t.name().equals(name) ? resized(new Tensor(name, type.id(), t.dims(), t.data())) : t);
        return write(new LinkedHashMap<>(file.metadata()), tensors);
    }

    private List<Tensor> tensors() {
        List<Tensor> tensors = new ArrayList<>();
        for (TensorInfo t : file.tensors()) {
            long at = file.absoluteOffset(t);
            tensors.add(new Tensor(t.name(), t.type().id(), t.dims(),
                    Arrays.copyOfRange(original, (int) at, (int) (at + t.byteSize()))));
        }
        return tensors;
    }

    private Mutant structural(Kind kind, SplittableRandom r) {
        Map<String, GgufValue> meta = new LinkedHashMap<>(file.metadata());
        List<Tensor> tensors = tensors();
        List<String> keys = new ArrayList<>(meta.keySet());
        String description;
        switch (kind) {
            case VALUE_TYPE_SWAP -> {
                String key = pickKey(r, keys);
                GgufValue v = randomValue(r, meta.get(key));
                meta.put(key, v);
                description = key + " := " + show(v);
            }
            case INT_VALUE -> {
                String key = pickKey(r, keys);
                long old = meta.get(key) instanceof GgufValue.Int i ? i.value() : 1;
                long v = interestingInt(r, old);
                GgufValue nv = r.nextInt(3) == 0 ? new GgufValue.Int(GgufValueType.INT32, (int) v) : fitU32(v);
                meta.put(key, nv);
                description = key + " := " + show(nv);
            }
            case STRING_VALUE -> {
                String key = pickKey(r, keys);
                GgufValue v = new GgufValue.Str(randomString(r));
                meta.put(key, v);
                description = key + " := " + show(v);
            }
            case ARRAY_LENGTH, ARRAY_DUPLICATE, ARRAY_ELEMENT, ARRAY_ELEMENT_TYPE, MERGE_EDIT -> {
                List<String> arrays = keys.stream().filter(k -> meta.get(k) instanceof GgufValue.Array).toList();
                if (arrays.isEmpty()) {
                    return raw(Kind.BIT_FLIP, r);
                }
                String key = kind == Kind.MERGE_EDIT && meta.containsKey("tokenizer.ggml.merges")
                        ? "tokenizer.ggml.merges" : arrays.get(r.nextInt(arrays.size()));
                GgufValue.Array a = (GgufValue.Array) meta.get(key);
                List<GgufValue> el = new ArrayList<>(a.elements());
                GgufValueType et = a.elementType();
                if (el.isEmpty()) {
                    return raw(Kind.BIT_FLIP, r);
                }
                int i = r.nextInt(el.size());
                switch (kind) {
                    case ARRAY_LENGTH -> {
                        int n = r.nextInt(3) == 0 ? r.nextInt(el.size() + 1) : Math.max(0, el.size() - 1 - r.nextInt(3));
                        if (r.nextBoolean()) {
                            while (el.size() > n) {
                                el.remove(el.size() - 1);
                            }
                            description = key + " cut to " + n + " elements";
                        } else {
                            int extra = 1 + r.nextInt(3);
                            for (int k = 0; k < extra; k++) {
                                el.add(el.get(r.nextInt(el.size())));
                            }
                            description = key + " grown by " + extra + " elements";
                        }
                    }
                    case ARRAY_DUPLICATE -> {
                        int j = r.nextInt(el.size());
                        el.set(i, el.get(j));
                        description = key + "[" + i + "] := " + key + "[" + j + "] (" + show(el.get(j)) + ")";
                    }
                    case ARRAY_ELEMENT, MERGE_EDIT -> {
                        GgufValue v = element(r, et, el.get(i), meta);
                        el.set(i, v);
                        description = key + "[" + i + "] := " + show(v);
                    }
                    default -> {
                        GgufValueType nt = pickOther(r, et);
                        List<GgufValue> converted = new ArrayList<>();
                        for (GgufValue e : el) {
                            converted.add(convert(e, nt, r));
                        }
                        el = converted;
                        et = nt;
                        description = key + " re-typed as an array of " + nt;
                    }
                }
                meta.put(key, new GgufValue.Array(et, el));
            }
            case DELETE_KEY -> {
                String key = pickKey(r, keys);
                meta.remove(key);
                description = "removed " + key;
            }
            case ADD_KEY -> {
                String key = this.keys[r.nextInt(this.keys.length)];
                GgufValue v = r.nextBoolean() ? fitU32(interestingInt(r, vocabSize(meta)))
                        : randomValue(r, meta.get(key));
                meta.put(key, v);
                description = key + " := " + show(v);
            }
            case TENSOR_SHAPE -> {
                int i = r.nextInt(tensors.size());
                Tensor t = tensors.get(i);
                long[] dims = t.dims().clone();
                switch (r.nextInt(5)) {
                    case 0 -> {
                        if (dims.length >= 2) {
                            long x = dims[0];
                            dims[0] = dims[1];
                            dims[1] = x;
                        }
                    }
                    case 1 -> dims[r.nextInt(dims.length)] += r.nextBoolean() ? 32 : 1;
                    case 2 -> dims[r.nextInt(dims.length)] = 1 + r.nextInt(4) * 32L;
                    case 3 -> dims = dims.length < 4 ? Arrays.copyOf(dims, dims.length + 1) : dims;
                    default -> dims = dims.length > 1 ? Arrays.copyOf(dims, dims.length - 1) : new long[] {dims[0] * 2};
                }
                for (int d = 0; d < dims.length; d++) {
                    dims[d] = Math.max(1, dims[d]);
                }
                tensors.set(i, resized(new Tensor(t.name(), t.typeId(), dims, t.data())));
                description = "tensor " + t.name() + " shape " + Arrays.toString(t.dims()) + " -> " + Arrays.toString(dims);
            }
            case TENSOR_TYPE -> {
                int i = r.nextInt(tensors.size());
                Tensor t = tensors.get(i);
                GgmlType nt = GgmlType.values()[r.nextInt(GgmlType.values().length)];
                tensors.set(i, resized(new Tensor(t.name(), nt.id(), t.dims(), t.data())));
                description = "tensor " + t.name() + " type " + t.typeId() + " -> " + nt;
            }
            case TENSOR_DROP -> {
                Tensor t = tensors.remove(r.nextInt(tensors.size()));
                description = "dropped tensor " + t.name();
            }
            case TENSOR_COPY -> {
                Tensor t = tensors.get(r.nextInt(tensors.size()));
                String n = adapterName(r, t.name());
                if (tensors.stream().anyMatch(o -> o.name().equals(n))) {
                    return raw(Kind.BIT_FLIP, r);
                }
                tensors.add(r.nextInt(tensors.size() + 1), new Tensor(n, t.typeId(), t.dims(), t.data()));
                description = "copied tensor " + t.name() + " as '" + n + "'";
            }
            default -> {
                int i = r.nextInt(tensors.size());
                Tensor t = tensors.get(i);
                String n;
                if (baseTensors != null) {
                    n = adapterName(r, t.name());
                } else {
                    String[] names = {"blk.999.attn_q.weight", "blk.0.attn_q.weight", "output.weight", "token_embd.weight",
                            "blk.-1.ffn_up.weight", "blk.1", "blk." + r.nextInt(64) + ".ffn_gate.weight", "x", ""};
                    n = names[r.nextInt(names.length)];
                }
                if (tensors.stream().anyMatch(o -> o.name().equals(n))) {
                    tensors.remove(i);
                    description = "dropped tensor " + t.name() + " (its rename to " + n + " would duplicate)";
                } else {
                    tensors.set(i, new Tensor(n, t.typeId(), t.dims(), t.data()));
                    description = "renamed tensor " + t.name() + " to '" + n + "'";
                }
            }
        }
        return new Mutant(kind, description, write(meta, tensors));
    }

    private String pickKey(SplittableRandom r, List<String> present) {
        // half the time a key a loader reads, so that mutations land where they matter
        if (r.nextBoolean() || present.isEmpty()) {
            return keys[r.nextInt(keys.length)];
        }
        return present.get(r.nextInt(present.size()));
    }

    /** A name for an adapter's tensor that llama.cpp pairs in some interesting way with the base's tensors. */
    private String adapterName(SplittableRandom r, String name) {
        String suffix = name.endsWith(".lora_b") ? ".lora_b" : ".lora_a";
        String other = suffix.equals(".lora_a") ? ".lora_b" : ".lora_a";
        String stem = name.endsWith(suffix) ? name.substring(0, name.length() - suffix.length()) : name;
        String baseName = baseTensors.isEmpty() ? "x" : baseTensors.get(r.nextInt(baseTensors.size()));
        String[] names = {stem + other, baseName + suffix, baseName + other, name + suffix, stem + suffix + other,
                stem + suffix + ".x" + suffix, "blk.0.attn_norm.weight", stem, "blk.999.attn_q.weight" + suffix,
                "token_embd.weight" + suffix, "output.weight" + suffix, "", suffix};
        return names[r.nextInt(names.length)];
    }

    private static long vocabSize(Map<String, GgufValue> meta) {
        return meta.get("tokenizer.ggml.tokens") instanceof GgufValue.Array a ? a.elements().size() : 32000;
    }

    private static long interestingInt(SplittableRandom r, long old) {
        return switch (r.nextInt(5)) {
            case 0 -> old + 1;
            case 1 -> old - 1;
            case 2 -> old * 2;
            case 3 -> r.nextLong(-4, 1L << 17);
            default -> INTERESTING[r.nextInt(INTERESTING.length)];
        };
    }

    private static GgufValue fitU32(long v) {
        return v >= 0 && v <= 0xFFFF_FFFFL ? GgufValue.u32(v) : GgufValue.i64(v);
    }

    private static String randomString(SplittableRandom r) {
        String[] choices = {"", " ", "llama", "gpt2", "bert", "t5", "rwkv", "no_vocab", "none", "qwen2", "default",
                "llama3", "yarn", "linear", "none", "bogus", "\u0000", "\uFFFD\uFFFD", "a b", "<s>", "<unk>", "</s>",
                "<0x0A>", "\u2581", "\u0120", "qwen3", "llama-bpe"};
        if (r.nextInt(4) == 0) {
            byte[] b = new byte[r.nextInt(12)];
            r.nextBytes(b);
            return new String(b, StandardCharsets.ISO_8859_1);
        }
        return choices[r.nextInt(choices.length)];
    }

    private static GgufValue randomValue(SplittableRandom r, GgufValue old) {
        GgufValueType oldType = old == null ? null : old.type();
        while (true) {
            GgufValue v = switch (r.nextInt(9)) {
                case 0 -> GgufValue.u8(r.nextInt(256));
                case 1 -> GgufValue.i32((int) INTERESTING[r.nextInt(INTERESTING.length)]);
                case 2 -> GgufValue.u64(INTERESTING[r.nextInt(INTERESTING.length)]);
                case 3 -> GgufValue.f32(new float[] {0f, -1f, 1e-5f, Float.NaN, 1e30f}[r.nextInt(5)]);
                case 4 -> GgufValue.bool(r.nextBoolean());
                case 5 -> new GgufValue.Str(randomString(r));
                case 6 -> GgufValue.i32Array(new int[] {0, 1, 2, -1});
                case 7 -> GgufValue.stringArray(List.of("a", "b", "a b"));
                default -> new GgufValue.Array(GgufValueType.FLOAT32, List.of());
            };
            if (v.type() != oldType || r.nextInt(4) == 0) {
                return v;
            }
        }
    }

    private static GgufValueType pickOther(SplittableRandom r, GgufValueType t) {
        GgufValueType[] kinds = {GgufValueType.STRING, GgufValueType.INT32, GgufValueType.UINT32, GgufValueType.FLOAT32,
                GgufValueType.UINT8, GgufValueType.INT64, GgufValueType.BOOL, GgufValueType.FLOAT64};
        GgufValueType n;
        do {
            n = kinds[r.nextInt(kinds.length)];
        } while (n == t);
        return n;
    }

    private static GgufValue convert(GgufValue e, GgufValueType to, SplittableRandom r) {
        long bits = switch (e) {
            case GgufValue.Int i -> i.value();
            case GgufValue.Real x -> (long) x.value();
            case GgufValue.Bool b -> b.value() ? 1 : 0;
            case GgufValue.Str s -> s.value().length();
            case GgufValue.Array a -> a.elements().size();
        };
        return switch (to) {
            case STRING -> new GgufValue.Str(e instanceof GgufValue.Str s ? s.value() : Long.toString(bits));
            case FLOAT32, FLOAT64 -> new GgufValue.Real(to, bits);
            case BOOL -> GgufValue.bool((bits & 1) != 0);
            case UINT8 -> GgufValue.u8((int) (bits & 0xFF));
            case UINT32 -> GgufValue.u32(bits & 0xFFFF_FFFFL);
            case INT32 -> GgufValue.i32((int) bits);
            default -> new GgufValue.Int(to, bits);
        };
    }

    private static GgufValue element(SplittableRandom r, GgufValueType et, GgufValue old, Map<String, GgufValue> meta) {
        if (et == GgufValueType.STRING) {
            String s = old instanceof GgufValue.Str(String v) ? v : "";
            List<String> tokens = meta.get("tokenizer.ggml.tokens") instanceof GgufValue.Array a
                    ? a.elements().stream().map(x -> x instanceof GgufValue.Str(String v) ? v : "").toList() : List.of("a");
            String token = tokens.isEmpty() ? "a" : tokens.get(r.nextInt(tokens.size()));
            return new GgufValue.Str(switch (r.nextInt(8)) {
                case 0 -> "";
                case 1 -> s.replace(" ", "");
                case 2 -> s + " " + token;
                case 3 -> " " + s;
                case 4 -> s.isEmpty() ? "x" : s.substring(0, r.nextInt(s.length()));
                case 5 -> token + " " + "\u2603\u2603";
                case 6 -> token;
                default -> randomString(r);
            });
        }
        if (et.isReal()) {
            return new GgufValue.Real(et, new double[] {Double.NaN, Double.POSITIVE_INFINITY, -1e30, 0}[r.nextInt(4)]);
        }
        if (et == GgufValueType.BOOL) {
            return GgufValue.bool(r.nextBoolean());
        }
        long v = interestingInt(r, old instanceof GgufValue.Int i ? i.value() : 0);
        return switch (et) {
            case UINT8 -> GgufValue.u8((int) (v & 0xFF));
            case INT8 -> GgufValue.i8((byte) v);
            case UINT16 -> GgufValue.u16((int) (v & 0xFFFF));
            case INT16 -> GgufValue.i16((short) v);
            case UINT32 -> GgufValue.u32(v & 0xFFFF_FFFFL);
            case INT32 -> GgufValue.i32((int) v);
            default -> new GgufValue.Int(et, v);
        };
    }

    private static Tensor resized(Tensor t) {
        long count = 1;
        for (long d : t.dims()) {
            count *= d;
        }
        long n = count;
        long size = GgmlType.byId(t.typeId())
                .filter(g -> n % g.blockSize() == 0 && t.dims()[0] % g.blockSize() == 0)
                .map(g -> g.byteSize(n)).orElse((long) t.data().length);
        return new Tensor(t.name(), t.typeId(), t.dims(), Arrays.copyOf(t.data(), (int) Math.min(size, 1 << 28)));
    }

    private static String show(GgufValue v) {
        String s = switch (v) {
            case GgufValue.Str(String x) -> "\"" + x + "\"";
            case GgufValue.Array a -> a.elementType() + "[" + a.elements().size() + "]";
            default -> v.toString();
        };
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    /** Writes GGUF v3 with the tensors packed in order at the alignment the metadata asks for. */
    static byte[] write(Map<String, GgufValue> meta, List<Tensor> tensors) {
        int alignment = meta.get(GgufFile.ALIGNMENT_KEY) instanceof GgufValue.Int i && i.value() > 0
                && i.value() <= 4096 && Long.bitCount(i.value()) == 1 ? (int) i.value() : GgufFile.DEFAULT_ALIGNMENT;
        Out out = new Out();
        out.u32(GgufFile.MAGIC);
        out.u32(3);
        out.u64(tensors.size());
        out.u64(meta.size());
        for (Map.Entry<String, GgufValue> e : meta.entrySet()) {
            out.str(e.getKey());
            out.u32(e.getValue().type().id());
            out.value(e.getValue());
        }
        long offset = 0;
        for (Tensor t : tensors) {
            out.str(t.name());
            out.u32(t.dims().length);
            for (long d : t.dims()) {
                out.u64(d);
            }
            out.u32(t.typeId());
            out.u64(offset);
            offset += align(t.data().length, alignment);
        }
        out.pad(alignment);
        for (Tensor t : tensors) {
            out.bytes(t.data());
            out.pad(alignment);
        }
        return out.toByteArray();
    }

    private static long align(long v, int alignment) {
        return (v + alignment - 1) / alignment * alignment;
    }

    private static final class Out extends ByteArrayOutputStream {
        Out() {
            super(1 << 20);
        }

        void u32(long v) {
            for (int i = 0; i < 4; i++) {
                write((int) (v >>> (8 * i)));
            }
        }

        void u64(long v) {
            for (int i = 0; i < 8; i++) {
                write((int) (v >>> (8 * i)));
            }
        }

        void bytes(byte[] b) {
            write(b, 0, b.length);
        }

        void str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void pad(int alignment) {
            while (count % alignment != 0) {
                write(0);
            }
        }

        void value(GgufValue v) {
            switch (v) {
                case GgufValue.Int i -> {
                    int width = switch (i.type()) {
                        case UINT8, INT8 -> 1;
                        case UINT16, INT16 -> 2;
                        case UINT32, INT32 -> 4;
                        default -> 8;
                    };
                    for (int k = 0; k < width; k++) {
                        write((int) (i.value() >>> (8 * k)));
                    }
                }
                case GgufValue.Real x -> {
                    if (x.type() == GgufValueType.FLOAT32) {
                        u32(Float.floatToRawIntBits((float) x.value()));
                    } else {
                        u64(Double.doubleToRawLongBits(x.value()));
                    }
                }
                case GgufValue.Bool b -> write(b.value() ? 1 : 0);
                case GgufValue.Str s -> str(s.value());
                case GgufValue.Array a -> {
                    u32(a.elementType().id());
                    u64(a.elements().size());
                    for (GgufValue e : a.elements()) {
                        value(e);
                    }
                }
            }
        }
    }
}
