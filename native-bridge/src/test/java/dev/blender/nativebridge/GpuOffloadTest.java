package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * GPU offload without a GPU (CI never has one): {@code gpuLayers} falls back to the CPU with one
 * warning per process and the same results; and where weights would go with a GPU, by llama.cpp's
 * placement rule.
 */
class GpuOffloadTest {

    @Test
    void withoutAGpuDeviceOffloadFallsBackToTheCpuWithOneWarning() {
        if (LlamaBackend.devices().stream().anyMatch(d -> d.kind().isGpu())) {
            System.out.println("skipped: this machine has a GPU device, so nothing falls back");
            return;
        }
        Logger jul = Logger.getLogger(LlamaBackend.LOGGER_NAME);
        List<LogRecord> warnings = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r);
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        jul.addHandler(h);
        LlamaModel.forgetGpuFallbackWarning();
        try {
            float[] cpu;
            try (LlamaModel m = LlamaModel.load(TestModels.tiny());
                 LlamaContext ctx = m.newContext(LlamaModelTest.small())) {
                cpu = LlamaModelTest.lastLogits(ctx, m.vocab().tokenize("offload me"));
            }
            assertEquals(0, warnings.size(), "no offload asked, no warning");
            for (int gpuLayers : new int[] {-1, 8}) {
                try (LlamaModel m = LlamaModel.load(TestModels.tiny(), ModelOptions.defaults().withGpuLayers(gpuLayers));
                     LlamaContext ctx = m.newContext(LlamaModelTest.small())) {
                    assertArrayEquals(cpu, LlamaModelTest.lastLogits(ctx, m.vocab().tokenize("offload me")));
                }
            }
            assertEquals(1, warnings.size(), "one warning per process, not per model");
            String msg = warnings.get(0).getMessage();
            assertTrue(msg.contains("no GPU device") && msg.contains("natives install cuda"), msg);
        } finally {
            jul.removeHandler(h);
        }
        assertThrows(IllegalArgumentException.class, () -> ModelOptions.defaults().withGpuLayers(-2));
    }

    @Test
    void weightsGoWhereLlamaCppPutsThem() {
        SyntheticLlama spec = SyntheticLlama.builder().layers(4).name("placement").build();
        GgufFile g = GgufFile.read(TestModels.generated("placement", spec));
        long total = g.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
        long embd = g.tensors().stream().filter(t -> t.name().startsWith("token_embd")).mapToLong(TensorInfo::byteSize).sum();
        long block3 = g.tensors().stream().filter(t -> t.name().startsWith("blk.3.")).mapToLong(TensorInfo::byteSize).sum();
        long output = g.tensors().stream().filter(t -> !t.name().startsWith("blk.") && !t.name().startsWith("token_embd"))
                .mapToLong(TensorInfo::byteSize).sum();
        assertEquals(new MemoryFootprint(total, 0), MemoryFootprint.of(g, 0, true));
        assertEquals(new MemoryFootprint(total, 0), MemoryFootprint.of(g, -1, false), "no GPU: all on the host");
        assertEquals(new MemoryFootprint(embd, total - embd), MemoryFootprint.of(g, -1, true), "all but the input layer");
        assertEquals(new MemoryFootprint(embd, total - embd), MemoryFootprint.of(g, 99, true));
        assertEquals(new MemoryFootprint(total - output, output), MemoryFootprint.of(g, 1, true), "the output layer first");
        assertEquals(new MemoryFootprint(total - output - block3, output + block3), MemoryFootprint.of(g, 2, true));
    }
}
