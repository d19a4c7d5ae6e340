package dev.blender.nativebridge.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated model files must end in a {@link dev.blender.nativebridge.LlamaException} or load and run; they
 * must never abort the process. Each batch of cases runs in a child JVM ({@link GgufFuzzRunner} through
 * {@link FuzzDriver}), so a native abort is seen here as a dead child whose last printed case is the culprit;
 * the run then goes on from the next case, and every crash, hang or unexpected exception is listed with its
 * seed and index.
 *
 * <p>{@code -Dblender.fuzz.cases} sets the number of cases (the build runs a slice; {@code -Pfuzz} runs
 * many more) and {@code -Dblender.fuzz.seed} the seed. Replay one case with
 * {@code -Dblender.fuzz.seed=S -Dblender.fuzz.from=I -Dblender.fuzz.cases=I+1}.
 */
class GgufFuzzTest {
    private static final long DEFAULT_SEED = 0x6A11_F00DL;

    @TempDir
    Path dir;

    @Test
    void mutatedModelsNeverCrashTheProcess() throws Exception {
        long seed = Long.getLong("blender.fuzz.seed", DEFAULT_SEED);
        int from = Integer.getInteger("blender.fuzz.from", 0);
        int to = Integer.getInteger("blender.fuzz.cases", 1000);
        List<String> bases = bases().stream().map(p -> p.toAbsolutePath().toString()).toList();
        FuzzDriver.Result r = FuzzDriver.run(GgufFuzzRunner.class, seed, from, to, bases, dir);
        System.out.println("GgufFuzzTest: seed " + seed + ", cases " + from + ".." + (to - 1) + " on llama.cpp "
                + LlamaBackend.version() + " (" + LlamaBackend.abi() + ") " + r.summary());
        assertTrue(r.failures().isEmpty(), r.failures().size() + " fuzz case(s) failed; replay one with -Dblender.fuzz.seed="
                + seed + " -Dblender.fuzz.from=<case> -Dblender.fuzz.cases=<case+1>:\n" + String.join("\n", r.failures()));
    }

    /** Synthetic models of both vocabulary kinds and all generated tensor types, plus the shared ones present. */
    private List<Path> bases() throws IOException {
        List<Path> bases = new ArrayList<>();
        SyntheticLlama[] specs = {
            SyntheticLlama.builder().build(),
            SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                    .tensorType(GgmlType.F16).weightSeed(2).build(),
            SyntheticLlama.builder().tensorType(GgmlType.Q8_0).weightSeed(3).vocabularySeed(1).build(),
            SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                    .tensorType(GgmlType.Q4_0).weightSeed(4).build(),
        };
        for (int i = 0; i < specs.length; i++) {
            Path p = dir.resolve("synthetic-" + i + "-" + specs[i].tensorType() + ".gguf");
            specs[i].writeTo(p);
            bases.add(p);
        }
        for (String shared : new String[] {"models/stories260K.gguf", "models/arith/judge.gguf",
                "models/arith/answerer-b.gguf"}) {
            Path p = TestModels.shared().resolve(shared);
            if (Files.isRegularFile(p)) {
                bases.add(p);
            } else {
                System.out.println("SKIPPED: fuzzing without " + p + ", which is absent (shared models are read"
                        + " at test time, never committed)");
            }
        }
        return bases;
    }
}
