package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.AdapterFormatException.Problem;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufFormatException;
import dev.blender.nativebridge.gguf.GgufMutator;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.ModelChecks;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LoraAdapter} through the real library of either ABI, on a generated llama (width 64, 512 tokens)
 * and hand-written adapters: valid ones change the logits and leave no trace once removed; malformed
 * ones are refused in Java, naming the problem, and the process carries on.
 */
class LoraAdapterTest {
    private static final int EMB = 64;
    private static final int VOCAB = 512;
    private static final int FFN = 256;

    /** One factor pair: the base tensor, lora_a's and lora_b's dims. */
    record Pair(String base, long[] a, long[] b) {}

    static Pair regular(String base, long in, long out, int r) {
        return new Pair(base, new long[] {in, r}, new long[] {r, out});
    }

    static List<Pair> valid(int r) {
        return List.of(regular("blk.0.attn_q.weight", EMB, EMB, r), regular("blk.1.ffn_up.weight", EMB, FFN, r),
                regular("blk.1.ffn_down.weight", FFN, EMB, r), regular("output.weight", EMB, VOCAB, r),
                new Pair("token_embd.weight", new long[] {r, VOCAB}, new long[] {r, EMB}));
    }

    static Path write(Path file, List<Pair> pairs, Consumer<GgufWriter> metadata) throws IOException {
        GgufWriter w = new GgufWriter();
        metadata.accept(w); // a case's own values replace the defaults below
        if (!w.metadata().containsKey("general.architecture")) {
            w.putString("general.architecture", "llama");
        }
        if (!w.metadata().containsKey("general.type")) {
            w.putString("general.type", "adapter");
        }
        if (!w.metadata().containsKey("adapter.type")) {
            w.putString("adapter.type", "lora");
        }
        if (!w.metadata().containsKey("adapter.lora.alpha")) {
            w.putF32("adapter.lora.alpha", 4);
        }
        SplittableRandom random = new SplittableRandom(7);
        for (Pair p : pairs) {
            if (p.a() != null) {
                w.tensor(p.base() + ".lora_a", GgmlType.F32, p.a(), (row, out) -> fill(random, out));
            }
            if (p.b() != null) {
                w.tensor(p.base() + ".lora_b", GgmlType.F32, p.b(), (row, out) -> fill(random, out));
            }
        }
        w.write(file);
        return file;
    }

    private static void fill(SplittableRandom random, float[] out) {
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((random.nextDouble() - 0.5) * 0.4);
        }
    }

    @Test
    void anAdapterChangesTheLogitsAndLeavesNoTraceOnceRemoved(@TempDir Path dir) throws IOException {
        Path file = write(dir.resolve("a.gguf"), valid(4), w -> {});
        try (LlamaModel model = LlamaModel.load(TestModels.tiny());
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64));
             LoraAdapter adapter = LoraAdapter.load(model, file)) {
            assertEquals(4f, adapter.alpha());
            assertEquals(5, adapter.ranks().size());
            int[] prompt = model.vocab().tokenize("once upon a time");
            float[] base = TestModels.logitsAfter(ctx, prompt);

            ctx.setLoraAdapter(adapter, 1f);
            assertEquals(Map.of(adapter, 1f), ctx.loraAdapters());
            float[] adapted = TestModels.logitsAfter(ctx, prompt);
            assertTrue(TestModels.maxAbsDiff(base, adapted) > 1e-2, "the adapter moved the logits by " + TestModels.maxAbsDiff(base, adapted));

            ctx.setLoraAdapter(adapter, 2f); // a new scale replaces the old one
            float[] twice = TestModels.logitsAfter(ctx, prompt);
            assertTrue(TestModels.maxAbsDiff(adapted, twice) > 1e-3);

            ctx.setLoraAdapter(adapter, 0f);
            assertTrue(TestModels.maxAbsDiff(base, TestModels.logitsAfter(ctx, prompt)) <= 1e-5, "scale 0 is the base");

            ctx.setLoraAdapter(adapter, 1f);
            assertTrue(ctx.removeLoraAdapter(adapter));
            assertFalse(ctx.removeLoraAdapter(adapter));
            assertTrue(ctx.loraAdapters().isEmpty());
            assertTrue(TestModels.maxAbsDiff(base, TestModels.logitsAfter(ctx, prompt)) <= 1e-5, "removed is the base");

            ctx.setLoraAdapter(adapter, 1f);
            assertTrue(TestModels.maxAbsDiff(adapted, TestModels.logitsAfter(ctx, prompt)) <= 1e-5, "set again is the same adapter");
            ctx.clearLoraAdapters();
            assertTrue(ctx.loraAdapters().isEmpty());
            assertTrue(TestModels.maxAbsDiff(base, TestModels.logitsAfter(ctx, prompt)) <= 1e-5, "cleared is the base");
        }
    }

    @Test
    void ownershipAndUseAfterClose(@TempDir Path dir) throws IOException {
        Path file = write(dir.resolve("a.gguf"), valid(2), w -> {});
        LlamaModel model = LlamaModel.load(TestModels.tiny());
        LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64));
        LoraAdapter adapter = LoraAdapter.load(model, file);
        ctx.setLoraAdapter(adapter, 1f);
        assertEquals(List.of(adapter), model.openAdapters());

        adapter.close();
        assertTrue(ctx.loraAdapters().isEmpty(), "closing the adapter takes it off the contexts it was set on");
        assertTrue(adapter.isFreed());
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> ctx.setLoraAdapter(adapter, 1f));
        assertTrue(closed.getMessage().contains("a.gguf is closed"), closed.getMessage());
        assertTrue(model.openAdapters().isEmpty());

        try (LlamaModel other = LlamaModel.load(TestModels.tiny(2, 0))) {
            LoraAdapter foreign = LoraAdapter.load(other, file);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ctx.setLoraAdapter(foreign, 1f));
            assertTrue(e.getMessage().contains("load it against this model"), e.getMessage());
            // the model frees its adapters with itself, the adapter first
            other.close();
            assertFalse(foreign.isOpen());
            assertTrue(foreign.isFreed());
            assertTrue(other.isFreed());
        }

        // a context closed with an adapter set lets go of it; the model closes the adapter and then frees itself
        LoraAdapter kept = LoraAdapter.load(model, file);
        ctx.setLoraAdapter(kept, 0.5f);
        assertThrows(IllegalArgumentException.class, () -> ctx.setLoraAdapter(kept, Float.NaN));
        ctx.close();
        assertFalse(kept.isFreed(), "the model still owns it");
        model.close();
        assertTrue(kept.isFreed());
        assertTrue(model.isFreed());
        assertThrows(IllegalStateException.class, () -> LoraAdapter.load(model, file));
    }

    @Test
    void malformedAdaptersAreRefusedInJavaNamingTheProblem(@TempDir Path dir) throws IOException {
        Map<String, Object[]> cases = new LinkedHashMap<>();
        List<Pair> good = valid(4);
        cases.put("missing-b", new Object[] {Problem.MISSING_PAIR_MEMBER,
                List.of(good.get(0), new Pair("blk.1.ffn_up.weight", new long[] {EMB, 4}, null)), (Consumer<GgufWriter>) w -> {}});
        cases.put("wrong-shape", new Object[] {Problem.SHAPE_MISMATCH,
                List.of(regular("blk.1.ffn_up.weight", EMB, EMB, 4)), (Consumer<GgufWriter>) w -> {}});
        cases.put("transposed", new Object[] {Problem.SHAPE_MISMATCH,
                List.of(new Pair("blk.0.attn_q.weight", new long[] {4, EMB}, new long[] {EMB, 4})), (Consumer<GgufWriter>) w -> {}});
        cases.put("rank-mismatch", new Object[] {Problem.RANK_MISMATCH,
                List.of(new Pair("blk.0.attn_q.weight", new long[] {EMB, 4}, new long[] {8, EMB})), (Consumer<GgufWriter>) w -> {}});
        cases.put("a-model", new Object[] {Problem.NOT_AN_ADAPTER, good,
                (Consumer<GgufWriter>) w -> w.putString("general.type", "model")});
        cases.put("not-lora", new Object[] {Problem.NOT_LORA, good,
                (Consumer<GgufWriter>) w -> w.putString("adapter.type", "control_vector")});
        cases.put("other-arch", new Object[] {Problem.ARCHITECTURE_MISMATCH, good,
                (Consumer<GgufWriter>) w -> w.putString("general.architecture", "qwen3")});
        cases.put("alpha-int", new Object[] {Problem.BAD_METADATA_TYPE, good,
                (Consumer<GgufWriter>) w -> w.putU32("adapter.lora.alpha", 4)});
        cases.put("unknown-base", new Object[] {Problem.UNKNOWN_BASE_TENSOR,
                List.of(regular("blk.9.attn_q.weight", EMB, EMB, 4)), (Consumer<GgufWriter>) w -> {}});
        cases.put("norm-base", new Object[] {Problem.UNKNOWN_BASE_TENSOR,
                List.of(regular("blk.0.attn_norm.weight", EMB, 1, 4)), (Consumer<GgufWriter>) w -> {}});
        cases.put("empty", new Object[] {Problem.NO_TENSORS, List.of(), (Consumer<GgufWriter>) w -> {}});
        // llama-adapter.cpp get_kv_str / gguf_get_val_str: GGML_ASSERT(type == GGUF_TYPE_STRING), an abort
        cases.put("type-int", new Object[] {Problem.BAD_METADATA_TYPE, good,
                (Consumer<GgufWriter>) w -> w.putU32("general.type", 1)});
        cases.put("arch-int", new Object[] {Problem.BAD_METADATA_TYPE, good,
                (Consumer<GgufWriter>) w -> w.putU32("general.architecture", 1)});
        cases.put("alpha-nan", new Object[] {Problem.BAD_ALPHA, good,
                (Consumer<GgufWriter>) w -> w.putF32("adapter.lora.alpha", Float.NaN)});
        // ggml_mul_mat's GGML_ASSERT(ggml_can_mul_mat) in the graph: llama.cpp checks ne[0] and ne[1] only
        cases.put("three-d", new Object[] {Problem.SHAPE_MISMATCH,
                List.of(new Pair("blk.0.attn_q.weight", new long[] {EMB, 4, 2}, new long[] {4, EMB})), (Consumer<GgufWriter>) w -> {}});
        // for token_embd llama.cpp checks no rank; ggml_mul_mat(lora_b, get_rows(lora_a)) asserts in the graph
        cases.put("embd-rank", new Object[] {Problem.RANK_MISMATCH,
                List.of(new Pair("token_embd.weight", new long[] {4, VOCAB}, new long[] {8, EMB})), (Consumer<GgufWriter>) w -> {}});

        try (LlamaModel model = LlamaModel.load(TestModels.tiny());
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64))) {
            int[] prompt = model.vocab().tokenize("once upon a time");
            float[] before = TestModels.logitsAfter(ctx, prompt);
            for (Map.Entry<String, Object[]> c : cases.entrySet()) {
                @SuppressWarnings("unchecked")
                Path file = write(dir.resolve(c.getKey() + ".gguf"), (List<Pair>) c.getValue()[1],
                        (Consumer<GgufWriter>) c.getValue()[2]);
                AdapterFormatException e = assertThrows(AdapterFormatException.class, () -> LoraAdapter.load(model, file),
                        c.getKey());
                assertEquals(c.getValue()[0], e.problem(), c.getKey() + ": " + e.getMessage());
                assertTrue(e.getMessage().contains(c.getKey() + ".gguf"), e.getMessage());
                System.out.println(c.getKey() + ": " + e.getMessage());
            }
            assertTrue(model.openAdapters().isEmpty());
            assertEquals(0, TestModels.maxAbsDiff(before, TestModels.logitsAfter(ctx, prompt)), "the model runs on, unchanged");
        }
        GgufFile tiny = GgufFile.read(TestModels.tiny());
        Path suffix = dir.resolve("suffix.gguf");
        new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                .putString("adapter.type", "lora")
                .tensor("blk.0.attn_q.weight.delta", GgmlType.F32, new long[] {EMB, EMB}, (row, out) -> {}).write(suffix);
        assertEquals(Problem.UNEXPECTED_TENSOR, assertThrows(AdapterFormatException.class,
                () -> LoraAdapter.validate(GgufFile.read(suffix), tiny)).problem());
    }

    @Test
    void aKeyWithAZeroByteIsRefusedAsInAModel(@TempDir Path dir) throws IOException {
        // gguf_find_key compares with strcmp, so this key would be read as general.type, unchecked
        Path file = write(dir.resolve("nul-key.gguf"), valid(4), w -> w.putU32("general.type\0x", 1));
        try (LlamaModel model = LlamaModel.load(TestModels.tiny())) {
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> LoraAdapter.load(model, file));
            assertEquals(GgufFormatException.Problem.BAD_KEY, e.problem(), e.getMessage());
        }
    }

    /** The pairing llama.cpp does: every ".lora_a" cut out of the name, the last factor of a name wins. */
    @Test
    void factorsArePairedByTheNameLlamaCppReadsAndTheLastOneWins(@TempDir Path dir) throws IOException {
        GgufFile tiny = GgufFile.read(TestModels.tiny());
        // "x.lora_a.lora_a" is x's lora_a to llama.cpp (replace_all), and [EMB, 4, 1] is a matrix to ggml
        Path doubled = dir.resolve("doubled.gguf");
        new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                .putString("adapter.type", "lora")
                .tensor("blk.0.attn_q.weight.lora_a.lora_a", GgmlType.F32, new long[] {EMB, 4, 1}, (row, out) -> {})
                .tensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, new long[] {4, EMB}, (row, out) -> {})
                .write(doubled);
        assertEquals(Map.of("blk.0.attn_q.weight", 4), LoraAdapter.validate(GgufFile.read(doubled), tiny));
        // a later lora_a of the same base replaces the earlier one: a good one after a bad one is what llama.cpp uses,
        // and a bad one after a good one is refused
        for (boolean badFirst : new boolean[] {true, false}) {
            Path twice = dir.resolve("twice-" + badFirst + ".gguf");
            long[] good = {EMB, 4};
            long[] bad = {EMB, 8};
            new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                    .putString("adapter.type", "lora")
                    .tensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, badFirst ? bad : good, (row, out) -> {})
                    .tensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, new long[] {4, EMB}, (row, out) -> {})
                    .tensor("blk.0.attn_q.lora_a.weight.lora_a", GgmlType.F32, badFirst ? good : bad, (row, out) -> {})
                    .write(twice);
            if (badFirst) {
                assertEquals(Map.of("blk.0.attn_q.weight", 4), LoraAdapter.validate(GgufFile.read(twice), tiny));
                try (LlamaModel model = LlamaModel.load(TestModels.tiny());
                     LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64));
                     LoraAdapter a = LoraAdapter.load(model, twice)) {
                    ctx.setLoraAdapter(a, 1f);
                    TestModels.logitsAfter(ctx, model.vocab().tokenize("once upon a time"));
                }
            } else {
                assertEquals(Problem.RANK_MISMATCH, assertThrows(AdapterFormatException.class,
                        () -> LoraAdapter.validate(GgufFile.read(twice), tiny)).problem());
            }
        }
    }

    /**
     * Factors of every type llama.cpp's CPU kernels multiply with (and look rows up in, for token_embd) load, apply
     * and decode on the running library; the others are refused. Unchecked, each refused type killed the process
     * on both ABIs (ggml-cpu "fatal error" in get_rows or mul_mat, a SIGSEGV for Q8_1, an assert for I32).
     */
    @Test
    void factorsOfEveryComputableTypeApplyAndTheOthersAreRefused(@TempDir Path dir) throws IOException {
        // 256 wide, so that every type's blocks (up to 256 values) fit the rows of both factors
        Path base = TestModels.generated("wide256", SyntheticLlama.builder().embeddingLength(256).feedForwardLength(256).build());
        int r = 256;
        Path zeros = dir.resolve("zeros.gguf");
        new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                .putString("adapter.type", "lora").putF32("adapter.lora.alpha", r)
                .tensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, new long[] {256, r}, (row, out) -> {})
                .tensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, new long[] {r, 256}, (row, out) -> {})
                .tensor("token_embd.weight.lora_a", GgmlType.F32, new long[] {r, VOCAB}, (row, out) -> {})
                .tensor("token_embd.weight.lora_b", GgmlType.F32, new long[] {r, 256}, (row, out) -> {})
                .write(zeros);
        List<String> applied = new ArrayList<>();
        try (LlamaModel model = LlamaModel.load(base);
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64))) {
            int[] prompt = model.vocab().tokenize("once upon a time");
            float[] before = TestModels.logitsAfter(ctx, prompt);
            for (GgmlType type : GgmlType.values()) {
                byte[] bytes = Files.readAllBytes(zeros);
                for (String factor : List.of("blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                        "token_embd.weight.lora_a", "token_embd.weight.lora_b")) {
                    // F32 zeros, cut or zero-padded: zeros of every type, so the adapter adds exactly nothing
                    bytes = new GgufMutator(bytes, GgufFile.read(write(dir, "step.gguf", bytes))).withTensorType(factor, type);
                }
                Path file = write(dir, type + ".gguf", bytes);
                if (ModelChecks.isComputableMatrixType(type)) {
                    try (LoraAdapter a = LoraAdapter.load(model, file)) {
                        ctx.setLoraAdapter(a, 1f);
                        float[] after = TestModels.logitsAfter(ctx, prompt);
                        assertTrue(TestModels.maxAbsDiff(before, after) <= 1e-4, type + ": zero factors changed the logits by "
                                + TestModels.maxAbsDiff(before, after));
                        applied.add(type.name());
                    }
                } else {
                    AdapterFormatException e = assertThrows(AdapterFormatException.class, () -> LoraAdapter.load(model, file),
                            type.name());
                    assertEquals(Problem.UNSUPPORTED_TENSOR_TYPE, e.problem(), e.getMessage());
                }
            }
        }
        assertTrue(applied.containsAll(List.of("F16", "BF16", "Q8_0", "Q4_K", "IQ2_XXS", "TQ2_0")), applied.toString());
        System.out.println("factor types applied on " + LlamaBackend.abi() + ": " + applied);
    }

    private static Path write(Path dir, String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    /** A Q8_0 adapter, as convert_lora_to_gguf.py --outtype q8_0 writes them, moves the logits as its F32 twin does. */
    @Test
    void aQ8_0AdapterAppliesLikeItsF32Twin(@TempDir Path dir) throws IOException {
        Map<GgmlType, float[]> logits = new java.util.EnumMap<>(GgmlType.class);
        float[] base;
        try (LlamaModel model = LlamaModel.load(TestModels.tiny());
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64))) {
            int[] prompt = model.vocab().tokenize("once upon a time");
            base = TestModels.logitsAfter(ctx, prompt);
            for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.Q8_0}) {
                Path file = TestAdapters.everyMatrix(TestModels.tiny(), dir.resolve(type + ".gguf"), 32, type, 3);
                try (LoraAdapter a = LoraAdapter.load(model, file)) {
                    ctx.setLoraAdapter(a, 1f);
                    logits.put(type, TestModels.logitsAfter(ctx, prompt));
                }
            }
        }
        double moved = TestModels.maxAbsDiff(base, logits.get(GgmlType.F32));
        double apart = TestModels.maxAbsDiff(logits.get(GgmlType.F32), logits.get(GgmlType.Q8_0));
        assertTrue(moved > 1e-2, "the F32 adapter moved the logits by " + moved);
        assertTrue(apart < 0.1 * moved, "Q8_0 factors land near the F32 ones: " + apart + " apart, against a move of " + moved);
    }

    /**
     * Found by {@code AdapterFuzzTest}: llama.cpp b4916 gives LoRA factors the buffer of their base tensor, and a
     * Q4_0 matrix lives repacked in CPU_AARCH64 there; loading any adapter over one was a SIGSEGV in
     * ggml_backend_cpu_aarch64_buffer_set_tensor. b4916 refuses it in Java; v0.5.0 (which falls back to a plain
     * CPU buffer) applies it. The embedding is looked up by row, never repacked, so its pair applies on both.
     */
    @Test
    void anAdapterOverARepackedQ4_0MatrixIsRefusedOnB4916AndAppliedOnV050(@TempDir Path dir) throws IOException {
        Path q4 = TestModels.generated("tiny-q4_0", SyntheticLlama.builder().tensorType(GgmlType.Q4_0).build());
        Path all = TestAdapters.everyMatrix(q4, dir.resolve("all.gguf"), 4, GgmlType.F32, 1);
        Path embedding = write(dir.resolve("embd.gguf"), List.of(valid(4).get(4)), w -> {});
        try (LlamaModel model = LlamaModel.load(q4);
             LlamaContext ctx = model.newContext(ContextOptions.defaults().withContextSize(64))) {
            int[] prompt = model.vocab().tokenize("once upon a time");
            float[] base = TestModels.logitsAfter(ctx, prompt);
            if (LlamaBackend.abi() == LlamaAbi.B4916) {
                AdapterFormatException e = assertThrows(AdapterFormatException.class, () -> LoraAdapter.load(model, all));
                assertEquals(Problem.REPACKED_BASE_TENSOR, e.problem());
                assertTrue(e.getMessage().contains("Q4_0") && e.getMessage().contains("natives install"), e.getMessage());
                // validate alone, which does not depend on the library, accepts it
                LoraAdapter.validate(GgufFile.read(all), GgufFile.read(q4));
            } else {
                try (LoraAdapter a = LoraAdapter.load(model, all)) {
                    ctx.setLoraAdapter(a, 1f);
                    assertTrue(TestModels.maxAbsDiff(base, TestModels.logitsAfter(ctx, prompt)) > 1e-2);
                }
            }
            try (LoraAdapter a = LoraAdapter.load(model, embedding)) {
                ctx.setLoraAdapter(a, 1f);
                assertTrue(TestModels.maxAbsDiff(base, TestModels.logitsAfter(ctx, prompt)) > 1e-3);
            }
        }
    }

    @Test
    void anEmbeddingAdapterIsRefusedForTiedEmbeddings(@TempDir Path dir) throws IOException {
        Path tied = dir.resolve("tied.gguf");
        new GgufWriter().putString("general.architecture", "llama")
                .tensor("token_embd.weight", GgmlType.F32, new long[] {EMB, VOCAB}, (row, out) -> {})
                .tensor("blk.0.attn_q.weight", GgmlType.F32, new long[] {EMB, EMB}, (row, out) -> {})
                .write(tied);
        Path adapter = write(dir.resolve("embd.gguf"), List.of(valid(4).get(4)), w -> {});
        AdapterFormatException e = assertThrows(AdapterFormatException.class,
                () -> LoraAdapter.validate(GgufFile.read(adapter), GgufFile.read(tied)));
        assertEquals(Problem.TIED_EMBEDDINGS, e.problem());
        Path attn = write(dir.resolve("attn.gguf"), List.of(valid(4).get(0)), w -> {});
        assertEquals(Map.of("blk.0.attn_q.weight", 4), LoraAdapter.validate(GgufFile.read(attn), GgufFile.read(tied)));
    }
}
