package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.AdapterFormatException.Problem;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
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
        // a quantised factor and an unknown suffix
        Path q8 = dir.resolve("q8.gguf");
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                .putString("adapter.type", "lora");
        w.tensor("blk.0.attn_q.weight.lora_a", GgmlType.Q8_0, new long[] {EMB, 32}, (row, out) -> {});
        w.tensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, new long[] {32, EMB}, (row, out) -> {});
        w.write(q8);
        GgufFile tiny = GgufFile.read(TestModels.tiny());
        assertEquals(Problem.UNSUPPORTED_TENSOR_TYPE, assertThrows(AdapterFormatException.class,
                () -> LoraAdapter.validate(GgufFile.read(q8), tiny)).problem());
        Path suffix = dir.resolve("suffix.gguf");
        new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                .putString("adapter.type", "lora")
                .tensor("blk.0.attn_q.weight.delta", GgmlType.F32, new long[] {EMB, EMB}, (row, out) -> {}).write(suffix);
        assertEquals(Problem.UNEXPECTED_TENSOR, assertThrows(AdapterFormatException.class,
                () -> LoraAdapter.validate(GgufFile.read(suffix), tiny)).problem());
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
