package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
