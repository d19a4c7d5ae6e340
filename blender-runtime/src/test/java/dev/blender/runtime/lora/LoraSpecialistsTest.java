package dev.blender.runtime.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.LoraAdapter;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.TensorInfo;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.merge.MergeListener;
import dev.blender.runtime.merge.ModelMerger;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adapters extracted from the specialists family (../shared/models/specialists), through the real library:
 * base + the full-rank adapter of add.gguf computes what add.gguf's matrices over base.gguf's norms
 * compute, and the greedy accuracy on all 500 dev problems at ranks 4, 8, 16 and full.
 */
class LoraSpecialistsTest {
    private static final String PROMPT = "Q: 37+48= A:";
    private static final ContextOptions CONTEXT = ContextOptions.defaults().withContextSize(64);
    private static final ModelOptions ONE_THREAD = ModelOptions.defaults().withThreads(1);

    /** base.gguf with every 2-D tensor taken from {@code tuned}: what a full-rank adapter can reach. */
    static Path matricesOver(Path base, Path tuned, Path out) throws IOException {
        GgufFile b = GgufFile.read(base);
        GgufFile t = GgufFile.read(tuned);
        GgufWriter w = new GgufWriter();
        b.metadata().forEach((k, v) -> {
            if (!k.equals(GgufFile.ALIGNMENT_KEY)) {
                w.put(k, v);
            }
        });
        for (TensorInfo info : b.tensors()) {
            float[] data = ModelMerger.readTensor(info.rank() == 2 ? t : b, info.name());
            int n = Math.toIntExact(info.dim(0));
            w.tensor(info.name(), info.type(), info.dims(), (row, dst) -> System.arraycopy(data, Math.toIntExact(row * n), dst, 0, n));
        }
        w.write(out);
        return out;
    }

    /** The logits after PROMPT on an empty cache. */
    static float[] logits(LlamaContext ctx) {
        return TestModels.logitsAfter(ctx, ctx.model().vocab().tokenize(PROMPT, true, false));
    }

    /** Greedy exact-match accuracy of whatever the context computes (adapters included), prompt "Q: {q} A:". */
    static double accuracy(LlamaContext ctx, List<Problem> problems) {
        int right = 0;
        for (Problem p : problems) {
            int[] prompt = ctx.model().vocab().tokenize("Q: " + p.question() + " A:", true, false);
            String text = Generator.generate(ctx, GenerationRequest.of(prompt).withMaxTokens(8)).getFirst().text();
            right += p.answers().stream().anyMatch(a -> a.strip().equals(text.strip())) ? 1 : 0;
        }
        return right / (double) problems.size();
    }

    @Test
    void aFullRankAdapterIsTheTunedMatricesOverTheBaseNorms(@TempDir Path out) throws IOException {
        Path dir = TestModels.sharedFile("models/specialists");
        Path base = dir.resolve("base.gguf");
        Path add = dir.resolve("add.gguf");
        LoraExtractor.Result full = LoraExtractor.extract(base, add, 1_000, out.resolve("add-full.gguf"), MergeListener.NONE);
        assertEquals(23, full.tensors(), "7 matrices in each of 3 layers, the embedding and the output");
        assertEquals(64, full.alpha());
        assertEquals(1.0, full.minEnergy(), 1e-12);
        assertTrue(full.vectorsLeftOut() > 0, "fine-tuning moved the norms, which no adapter carries");
        Path reference = matricesOver(base, add, out.resolve("add-matrices.gguf"));

        float[] want;
        try (LlamaModel m = LlamaModel.load(reference, ONE_THREAD); LlamaContext ctx = m.newContext(CONTEXT)) {
            want = logits(ctx);
        }
        try (LlamaModel m = LlamaModel.load(base, ONE_THREAD); LlamaContext ctx = m.newContext(CONTEXT);
             LoraAdapter adapter = LoraAdapter.load(m, full.output())) {
            float[] plain = logits(ctx);
            assertTrue(TestModels.maxAbsDiff(plain, want) > 0.1, "the tuned matrices change the logits");

            ctx.setLoraAdapter(adapter, 1f);
            double diff = TestModels.maxAbsDiff(logits(ctx), want);
            System.out.printf(Locale.ROOT, "llama.cpp %s: base + full-rank adapter vs the tuned matrices over the base's"
                    + " norms: max |logit difference| %.2e%n", LlamaBackend.version(), diff);
            assertTrue(diff <= 1e-3, "max |difference| " + diff);

            ctx.setLoraAdapter(adapter, 0f);
            assertTrue(TestModels.maxAbsDiff(logits(ctx), plain) <= 1e-5, "scale 0 is the base");
            ctx.setLoraAdapter(adapter, 1f);
            ctx.removeLoraAdapter(adapter);
            assertTrue(TestModels.maxAbsDiff(logits(ctx), plain) <= 1e-5, "removed is the base");
            ctx.setLoraAdapter(adapter, 1f);
            ctx.clearLoraAdapters();
            assertTrue(TestModels.maxAbsDiff(logits(ctx), plain) <= 1e-5, "cleared is the base");
        }
    }

    @Test
    void accuracyByRankOnAllDevProblems(@TempDir Path out) throws IOException {
        Path dir = TestModels.sharedFile("models/specialists");
        Path base = dir.resolve("base.gguf");
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), 500);
        assertEquals(500, problems.size());
        Map<String, Double> results = new LinkedHashMap<>();
        for (String specialist : List.of("add", "sub")) {
            Path tuned = dir.resolve(specialist + ".gguf");
            Path reference = matricesOver(base, tuned, out.resolve(specialist + "-matrices.gguf"));
            try (LlamaModel m = LlamaModel.load(reference, ONE_THREAD); LlamaContext ctx = m.newContext(CONTEXT)) {
                results.put(specialist + " matrices over base norms", accuracy(ctx, problems));
            }
            try (LlamaModel m = LlamaModel.load(base, ONE_THREAD); LlamaContext ctx = m.newContext(CONTEXT)) {
                for (int rank : new int[] {4, 8, 16, 64}) {
                    Path file = LoraExtractor.extract(base, tuned, rank, out.resolve(specialist + "-r" + rank + ".gguf"),
                            MergeListener.NONE).output();
                    try (LoraAdapter adapter = LoraAdapter.load(m, file)) {
                        ctx.setLoraAdapter(adapter, 1f);
                        results.put("base + " + specialist + " r" + (rank == 64 ? "full" : rank), accuracy(ctx, problems));
                    }
                }
            }
        }
        results.forEach((k, v) -> System.out.printf(Locale.ROOT, "llama.cpp %s: %-32s %.3f%n", LlamaBackend.version(), k, v));
        for (String specialist : List.of("add", "sub")) {
            assertEquals(results.get(specialist + " matrices over base norms"), results.get("base + " + specialist + " rfull"),
                    0.0101, specialist + ": the full-rank adapter against the model it is equivalent to");
        }
    }
}
