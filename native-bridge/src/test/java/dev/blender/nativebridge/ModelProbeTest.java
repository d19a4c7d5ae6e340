package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufFormatException;
import dev.blender.nativebridge.gguf.GgufMutator;
import dev.blender.nativebridge.gguf.GgufValue;
import dev.blender.nativebridge.gguf.GgufValueType;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelOptions#withProbeLoad}: a file whose load kills the child JVM is refused with a
 * {@link ModelLoadException} and this JVM lives on; a good file loads, and is probed once.
 */
class ModelProbeTest {
    @TempDir
    Path dir;

    @AfterEach
    void realChild() {
        ModelProbe.childMainForTests(ModelProbe.class.getName());
    }

    @Test
    void aGoodFileIsProbedOnceAndLoads() throws IOException {
        ModelProbe.childMainForTests(ModelProbe.class.getName());
        Path p = Files.copy(TestModels.tiny(), dir.resolve("good.gguf"));
        int before = ModelProbe.childrenStarted();
        try (LlamaModel m = LlamaModel.load(p, ModelOptions.defaults().withProbeLoad(true))) {
            assertTrue(m.vocab().size() > 0);
        }
        try (LlamaModel m = LlamaModel.load(p, ModelOptions.defaults().withProbeLoad(true))) {
            assertTrue(m.vocab().size() > 0);
        }
        assertEquals(before + 1, ModelProbe.childrenStarted(), "the second load reuses the first probe");
        // a file that changed is a new file
        Files.setLastModifiedTime(p, FileTime.fromMillis(Files.getLastModifiedTime(p).toMillis() - 60_000));
        ModelProbe.check(p);
        assertEquals(before + 2, ModelProbe.childrenStarted());
    }

    @Test
    void aChildThatAbortsBecomesAModelLoadExceptionAndIsRemembered() throws IOException {
        ModelProbe.childMainForTests(ProbeChildren.AbortAfterLoad.class.getName());
        Path p = Files.copy(TestModels.tiny(), dir.resolve("aborts.gguf"));
        int before = ModelProbe.childrenStarted();
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> LlamaModel.load(p, ModelOptions.defaults().withProbeLoad(true)).close());
        assertEquals(p.toAbsolutePath().normalize(), e.path());
        assertTrue(e.getMessage().contains("aborts.gguf") && e.getMessage().contains("exit status 134")
                && e.getMessage().contains("about to abort"), e.getMessage());
        // the verdict stands for the same file: no second child, the same refusal
        assertThrows(ModelLoadException.class, () -> LlamaModel.load(p, ModelOptions.defaults().withProbeLoad(true)));
        assertEquals(before + 1, ModelProbe.childrenStarted());
        // without the probe the Java checks pass: the probe is what stood between this file and the host
        ModelProbe.childMainForTests(ModelProbe.class.getName());
        ModelProbe.check(p);
    }

    @Test
    void aRealLlamaCppAbortIsSurvived() throws IOException {
        // "token texts as an array of UINT32" aborted the process in b4916's gguf_get_arr_str before
        // ModelChecks; this child skips the checks, so llama.cpp's own GGML_ASSERT kills it. v0.5.0 refuses
        // that file with an error instead (the libc abort test above covers the probe on every ABI)
        if (LlamaBackend.abi() != LlamaAbi.B4916) {
            System.out.println("SKIPPED: the UINT32-token abort is b4916's; this run uses " + LlamaBackend.abi());
            Assumptions.assumeTrue(false);
        }
        SyntheticLlama spec = SyntheticLlama.builder().build();
        Path clean = dir.resolve("clean.gguf");
        spec.writeTo(clean);
        GgufMutator mutator = new GgufMutator(Files.readAllBytes(clean), GgufFile.read(clean));
        Path bad = Files.write(dir.resolve("tokens-as-uint32.gguf"), mutator.withMetadata(m -> {
            List<GgufValue> ints = new ArrayList<>();
            for (int i = 0; i < spec.vocabSize(); i++) {
                ints.add(new GgufValue.Int(GgufValueType.UINT32, i));
            }
            m.put("tokenizer.ggml.tokens", new GgufValue.Array(GgufValueType.UINT32, ints));
        }));
        assertThrows(GgufFormatException.class, () -> LlamaModel.load(bad).close(), "the Java checks catch it");
        ModelProbe.childMainForTests(ProbeChildren.Unchecked.class.getName());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelProbe.check(bad));
        assertTrue(e.getMessage().contains("tokens-as-uint32.gguf") && e.getMessage().contains("killed a child JVM")
                && e.getMessage().contains("signal 6"), e.getMessage());
        // and the unchecked child does load a good file, so it is the file that killed it
        ModelProbe.check(clean);
    }

    @Test
    void aCleanErrorInTheChildIsThrownByTheLoadHereWithItsType() throws IOException {
        Path notGguf = Files.writeString(dir.resolve("text.gguf"), "not a model");
        // the Java checks run first, so no child is started for what they catch
        int before = ModelProbe.childrenStarted();
        assertThrows(GgufFormatException.class,
                () -> LlamaModel.load(notGguf, ModelOptions.defaults().withProbeLoad(true)));
        assertEquals(before, ModelProbe.childrenStarted());
        // probed directly, the child reports the error and the probe leaves it to the load
        ModelProbe.check(notGguf);
        assertEquals(before + 1, ModelProbe.childrenStarted());
    }

    @Test
    void aChildThatCannotStartIsNoVerdictOnTheFile() throws IOException {
        ModelProbe.childMainForTests("dev.blender.nativebridge.NoSuchProbeChild");
        Path p = Files.copy(TestModels.tiny(), dir.resolve("unprobed.gguf"));
        int before = ModelProbe.childrenStarted();
        LlamaException e = assertThrows(LlamaException.class, () -> ModelProbe.check(p));
        assertTrue(!(e instanceof ModelLoadException) && e.getMessage().contains("could not start a JVM")
                && e.getMessage().contains("NoSuchProbeChild"), e.getMessage());
        assertThrows(LlamaException.class, () -> ModelProbe.check(p));
        assertEquals(before + 2, ModelProbe.childrenStarted(), "a failed start is not remembered");
        ModelProbe.childMainForTests(ModelProbe.class.getName());
        ModelProbe.check(p);
    }

    @Test
    void anAdapterIsProbedOverItsBaseOnceAndLoads() throws IOException {
        Path base = Files.copy(TestModels.tiny(), dir.resolve("base.gguf"));
        Path adapter = TestAdapters.everyMatrix(base, dir.resolve("adapter.gguf"), 4, GgmlType.F32, 1);
        ModelOptions probed = ModelOptions.defaults().withProbeLoad(true);
        int before = ModelProbe.childrenStarted();
        try (LlamaModel m = LlamaModel.load(base, probed)) {
            assertEquals(before + 1, ModelProbe.childrenStarted(), "the base");
            try (LoraAdapter a = LoraAdapter.load(m, adapter)) {
                assertEquals(before + 2, ModelProbe.childrenStarted(), "the adapter over the base");
                assertEquals(4, a.ranks().values().iterator().next());
            }
            LoraAdapter.load(m, adapter).close();
            assertEquals(before + 2, ModelProbe.childrenStarted(), "the second load reuses the first probe");
            // an adapter that changed is a new adapter
            Files.setLastModifiedTime(adapter, FileTime.fromMillis(Files.getLastModifiedTime(adapter).toMillis() - 60_000));
            LoraAdapter.load(m, adapter).close();
            assertEquals(before + 3, ModelProbe.childrenStarted());
        }
        // without the option nothing is probed
        try (LlamaModel m = LlamaModel.load(base); LoraAdapter a = LoraAdapter.load(m, adapter)) {
            assertEquals(before + 3, ModelProbe.childrenStarted());
        }
    }

    @Test
    void aRealLlamaCppAbortOnAnAdapterIsSurvived() throws IOException {
        // llama-adapter.cpp reads adapter.lora.alpha with gguf_get_val_f32, which asserts the FLOAT32 type: an abort
        // on both ABIs. The Java checks refuse the file; the unchecked child hands it to llama.cpp and dies
        Path base = Files.copy(TestModels.tiny(), dir.resolve("base.gguf"));
        Path clean = TestAdapters.everyMatrix(base, dir.resolve("clean.gguf"), 4, GgmlType.F32, 1);
        GgufMutator mutator = new GgufMutator(Files.readAllBytes(clean), GgufFile.read(clean));
        Path bad = Files.write(dir.resolve("alpha-as-uint32.gguf"),
                mutator.withMetadata(m -> m.put("adapter.lora.alpha", GgufValue.u32(4))));
        try (LlamaModel m = LlamaModel.load(base)) {
            AdapterFormatException refused = assertThrows(AdapterFormatException.class, () -> LoraAdapter.load(m, bad));
            assertEquals(AdapterFormatException.Problem.BAD_METADATA_TYPE, refused.problem());
        }
        ModelProbe.childMainForTests(ProbeChildren.UncheckedAdapter.class.getName());
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> ModelProbe.checkAdapter(base, bad, ModelOptions.defaults()));
        assertEquals(bad.toAbsolutePath().normalize(), e.path());
        assertTrue(e.getMessage().contains("alpha-as-uint32.gguf") && e.getMessage().contains("killed a child JVM")
                && e.getMessage().contains("signal 6"), e.getMessage());
        // the unchecked child loads the clean adapter, so it is the file that killed it
        ModelProbe.checkAdapter(base, clean, ModelOptions.defaults());
        if (LlamaBackend.abi() == LlamaAbi.B4916) {
            // the crash the adapter fuzzing found: b4916 writing factors beside a repacked Q4_0 matrix (SIGSEGV)
            Path q4 = dir.resolve("q4_0.gguf");
            SyntheticLlama.builder().tensorType(GgmlType.Q4_0).build().writeTo(q4);
            Path overQ4 = TestAdapters.everyMatrix(q4, dir.resolve("over-q4_0.gguf"), 4, GgmlType.F32, 1);
            ModelLoadException segv = assertThrows(ModelLoadException.class,
                    () -> ModelProbe.checkAdapter(q4, overQ4, ModelOptions.defaults()));
            assertTrue(segv.getMessage().contains("over-q4_0.gguf") && segv.getMessage().contains("SIGSEGV")
                    && segv.getMessage().contains("ggml_backend_cpu_aarch64_buffer_set_tensor"), segv.getMessage());
        }
    }

    @Test
    void aProbeThatRunsOutOfTimeIsRefusedAndNotRemembered() throws IOException {
        Path p = Files.copy(TestModels.tiny(), dir.resolve("slow.gguf"));
        int before = ModelProbe.childrenStarted();
        // no JVM starts, let alone loads a model, in 50 ms
        ModelOptions hurried = ModelOptions.defaults().withProbeLoad(true).withProbeTimeout(Duration.ofMillis(50));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> LlamaModel.load(p, hurried));
        assertTrue(e.getMessage().contains("slow.gguf") && e.getMessage().contains("did not finish within 0.05 s")
                && e.getMessage().contains("--probe-timeout"), e.getMessage());
        // the time-out is no verdict on the file: with the default limit it is probed again, and loads
        try (LlamaModel m = LlamaModel.load(p, ModelOptions.defaults().withProbeLoad(true))) {
            assertTrue(m.vocab().size() > 0);
        }
        assertEquals(before + 2, ModelProbe.childrenStarted());
        // and an adapter probe keeps to the limit too
        Path adapter = TestAdapters.everyMatrix(p, dir.resolve("slow-adapter.gguf"), 4, GgmlType.F32, 1);
        ModelLoadException a = assertThrows(ModelLoadException.class,
                () -> ModelProbe.checkAdapter(p, adapter, hurried));
        assertTrue(a.getMessage().contains("slow-adapter.gguf") && a.getMessage().contains("0.05 s"), a.getMessage());
    }

    @Test
    void theProbeTimeoutMustBePositive() {
        for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofSeconds(-1)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ModelOptions.defaults().withProbeTimeout(bad));
            assertTrue(e.getMessage().contains("probeTimeout must be positive"), e.getMessage());
        }
        assertThrows(NullPointerException.class, () -> ModelOptions.defaults().withProbeTimeout(null));
        assertEquals(Duration.ofSeconds(600), ModelOptions.defaults().probeTimeout());
    }

    /** What probing costs beside a plain load: -Dblender.measure=true prints it (no assertion on time). */
    @Test
    void measureProbeCost() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(Boolean.getBoolean("blender.measure"), "-Dblender.measure=true");
        for (String name : new String[] {"models/stories260K.gguf", "models/arith/answerer-a.gguf"}) {
            Path model = TestModels.sharedFile(name);
            long[] plain = new long[5];
            long[] probe = new long[5];
            for (int i = 0; i < plain.length; i++) {
                long t0 = System.nanoTime();
                try (LlamaModel m = LlamaModel.load(model)) {
                    ModelProbe.decodeOne(m);
                }
                plain[i] = System.nanoTime() - t0;
                // a fresh copy each time, so the cache does not answer
                Path copy = Files.copy(model, dir.resolve(i + "-" + model.getFileName()));
                long t1 = System.nanoTime();
                ModelProbe.check(copy);
                probe[i] = System.nanoTime() - t1;
            }
            java.util.Arrays.sort(plain);
            java.util.Arrays.sort(probe);
            System.out.printf("probe cost %s (%d KiB) on llama.cpp %s: plain load+decode median %.1f ms, probe median"
                    + " %.0f ms (min %.0f, max %.0f)%n", model.getFileName(), Files.size(model) >> 10, LlamaBackend.version(),
                    plain[2] / 1e6, probe[2] / 1e6, probe[0] / 1e6, probe[4] / 1e6);
        }
    }
}
