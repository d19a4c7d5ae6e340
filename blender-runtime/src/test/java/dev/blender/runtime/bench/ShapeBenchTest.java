package dev.blender.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaAbi;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The latency harness on the tiny synthetic shape: every ratio taken, the lengths forced as stated. */
class ShapeBenchTest {

    /** A family small enough for a test: the harness's code paths, not a realistic shape's costs. */
    static SyntheticFamily tiny(Path dir, Consumer<String> progress) throws IOException {
        return SyntheticFamily.write("tiny-f32", SyntheticLlama.builder()
                .vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE).vocabSize(2048).layers(2).embeddingLength(64)
                .heads(4).kvHeads(2).contextLength(2048), dir, progress);
    }

    @Test
    void aFamilyIsWrittenOnceAndReused(@TempDir Path dir) throws Exception {
        List<String> written = new ArrayList<>();
        SyntheticFamily f = tiny(dir, written::add);
        assertEquals(4, written.size(), "two generators, a judge and a fuser: " + written);
        assertEquals(4, f.files().size());
        long modified = Files.getLastModifiedTime(f.judge()).toMillis();
        written.clear();
        SyntheticFamily again = tiny(dir, written::add);
        assertEquals(List.of(), written, "a whole family is reused");
        assertEquals(modified, Files.getLastModifiedTime(again.judge()).toMillis());
        // a cut file (an interrupted write) is written again
        Files.write(f.fuser(), new byte[] {1, 2, 3});
        tiny(dir, written::add);
        assertEquals(1, written.size(), written.toString());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticFamily.of("qwen9-1t", dir, s -> {}));
        assertTrue(e.getMessage().contains("qwen2-0.5b-q8_0"), e.getMessage());
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyRatioIsMeasuredAtTheForcedLengths(@TempDir Path dir) throws Exception {
        SyntheticFamily family = tiny(dir, s -> {});
        int answer = 6;
        int rationale = 3;
        ShapeBench.Report report = new ShapeBench(family, 1, answer, rationale, 2, true, null, s -> {}).run();
        assertEquals(List.of("batch4_over_batch1", "bridge_over_native", "batch1_over_native_batch1",
                "batch4_over_native_batch4", "full_blend_over_single", "llama_cpp_share_of_full_blend",
                "combine_over_step", "peak_rss_over_files"), List.copyOf(report.ratios().keySet()));
        for (ShapeBench.Ratio r : report.ratios().values()) {
            if (r.key().contains("over_native_batch")) {
                assertTrue(!r.measured() && r.note().contains(BatchedBenchAnchor.ENVIRONMENT), r.toString());
                continue;
            }
            if (r.key().equals("bridge_over_native") && LlamaBackend.abi() != LlamaAbi.B4916) {
                assertTrue(!r.measured() && r.note().contains("b4916"), r.toString());
                continue;
            }
            assertTrue(r.measured() && r.numerator() > 0 && r.denominator() > 0 && Double.isFinite(r.ratio()),
                    r.toString());
        }
        // random weights run to the limits: single writes the answer length, full-blend samples 2 x 2 of it
        // and fuses one of it
        Map<String, Map<String, Long>> single = (Map<String, Map<String, Long>>) report.settings().get("single_tokens");
        assertEquals((long) answer, single.get("sampling").get("generated"), single.toString());
        Map<String, Map<String, Long>> full = (Map<String, Map<String, Long>>) report.settings().get("full_blend_tokens");
        assertEquals(4L * answer, full.get("sampling").get("generated"), full.toString());
        assertEquals((long) answer, full.get("fusion").get("generated"), full.toString());
        assertTrue(full.get("ranking").get("decoded") > 0, full.toString());
        // 3 bubble comparisons x both orders, each rationale run to its budget (then the forced stop text)
        assertTrue(full.get("ranking").get("generated") >= 6L * rationale, full.toString());
        // the first requests load the models (single: one generator; full-blend: the other, the judge and the
        // fuser) and make their contexts; the measured ones find all of it in the pool
        Map<String, Object> singleCold = (Map<String, Object>) report.settings().get("single_cold");
        Map<String, Object> fullCold = (Map<String, Object>) report.settings().get("full_blend_cold");
        assertEquals(1L, singleCold.get("models_loaded"), singleCold.toString());
        assertEquals(3L, fullCold.get("models_loaded"), fullCold.toString());
        assertTrue((long) fullCold.get("contexts_created") >= 3, fullCold.toString());
        Map<String, Object> warm = (Map<String, Object>) report.settings().get("pool_while_measuring");
        assertEquals(0L, warm.get("models_loaded"), warm.toString());
        assertEquals(0L, warm.get("contexts_created"), warm.toString());
        Map<String, Double> stages = (Map<String, Double>) report.settings().get("full_blend_stages_p50_ms");
        assertTrue(stages.get("sampling") > 0 && stages.get("ranking") > 0 && stages.get("fusion") > 0, stages.toString());
        assertEquals(11, ShapeBench.table(report).size());
        // the time some decode was running is part of the wall time, however many members decoded at once
        ShapeBench.Ratio share = report.ratios().get("llama_cpp_share_of_full_blend");
        assertTrue(share.ratio() > 0 && share.ratio() <= 1.0 + 1e-9, share.toString());
        Map<String, Map<String, Double>> byStage = (Map<String, Map<String, Double>>) report.settings()
                .get("full_blend_inside_llama_cpp_by_stage");
        assertEquals(List.of("setup", "sample", "rank", "fuse"), List.copyOf(byStage.keySet()));
        assertTrue(byStage.get("sample").get("inside_llama_cpp_ms") > 0 && byStage.get("setup").get("inside_llama_cpp_ms") == 0,
                byStage.toString());
        var json = report.toJson();
        assertEquals(report.ratios().get("full_blend_over_single").ratio(),
                json.get("ratios").get("full_blend_over_single").get("ratio").asDouble());
        assertEquals("<= 2.5", json.get("ratios").get("full_blend_over_single").get("goal").asText());
    }

    @Test
    void withTheNativeAnchorTheBridgesStepsAreSetAgainstLlamaCppsOwn(@TempDir Path dir) throws Exception {
        SyntheticFamily family = tiny(dir, s -> {});
        // a stand-in for llama-batched-bench: 2 ms a step alone, 5 ms with four sequences
        Path bin = dir.resolve("llama-batched-bench");
        java.nio.file.Files.writeString(bin, "#!/bin/sh\n"
                + "echo '{\"n_threads\": 1, \"tg\": 5, \"pl\": 1, \"t_tg\": 0.010}'\n"
                + "echo '{\"n_threads\": 1, \"tg\": 5, \"pl\": 4, \"t_tg\": 0.025}'\n");
        java.nio.file.Files.setPosixFilePermissions(bin, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        ShapeBench.Report report = new ShapeBench(family, 1, 6, 3, 1, false, new BatchedBenchAnchor(bin), s -> {}).run();
        ShapeBench.Ratio one = report.ratios().get("batch1_over_native_batch1");
        ShapeBench.Ratio four = report.ratios().get("batch4_over_native_batch4");
        ShapeBench.Ratio batched = report.ratios().get("batch4_over_batch1");
        assertEquals(2.0, one.denominator(), 1e-9);
        assertEquals(5.0, four.denominator(), 1e-9);
        assertEquals(batched.denominator(), one.numerator(), 1e-9, "the bridge's single step, as measured once");
        assertEquals(batched.numerator(), four.numerator(), 1e-9);
        assertEquals("<= 1.05", four.goal().toString());
    }

    @Test
    @SuppressWarnings("unchecked")
    void theMemoryRunLoadsEachModelWithItsContextAndMeasuresOnlyThePeak(@TempDir Path dir) throws Exception {
        SyntheticFamily family = tiny(dir, s -> {});
        ShapeBench bench = new ShapeBench(family, 1, 6, 3, 1, false, null, s -> {});
        ShapeBench.Report report = bench.memory();
        ShapeBench.Ratio peak = report.ratios().get("peak_rss_over_files");
        assertTrue(peak.measured() && peak.numerator() > 0 && peak.denominator() > family.fileBytes(), peak.toString());
        for (String key : List.of("batch4_over_batch1", "bridge_over_native", "full_blend_over_single",
                "combine_over_step")) {
            assertTrue(!report.ratios().get(key).measured(), key);
        }
        Map<String, Long> steps = (Map<String, Long>) report.settings().get("rss_kib_after");
        assertEquals(List.of("loaded generator-a.gguf with its context", "loaded generator-b.gguf with its context",
                "loaded judge.gguf with its context", "loaded fuser.gguf with its context",
                "after one full-blend request"), List.copyOf(steps.keySet()));
    }
}
