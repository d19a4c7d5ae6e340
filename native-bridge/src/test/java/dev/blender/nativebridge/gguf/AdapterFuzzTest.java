package dev.blender.nativebridge.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaAbi;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.TestAdapters;
import dev.blender.nativebridge.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated LoRA adapters must load, apply and decode, or end in a {@link dev.blender.nativebridge.LlamaException}
 * ({@link dev.blender.nativebridge.AdapterFormatException} for what the Java checks refuse); they must never kill
 * the process. Adapters over every matrix of generated models (F32, F16, Q8_0 and Q4_0 weights, both vocabulary
 * kinds, Qwen3 where the library knows it) and of the shared models present are mutated by
 * {@link GgufMutator#forAdapter} in child JVMs ({@link AdapterFuzzRunner} through {@link FuzzDriver}).
 *
 * <p>{@code -Dblender.fuzz.adapter.cases} sets the number of cases (the build runs a slice, {@code -Pfuzz} many
 * more), {@code -Dblender.fuzz.seed} the seed; replay one case with {@code -Dblender.fuzz.seed=S
 * -Dblender.fuzz.from=I -Dblender.fuzz.adapter.cases=I+1}.
 */
class AdapterFuzzTest {
    private static final long DEFAULT_SEED = 0xADA9_7E25L;

    @TempDir
    Path dir;

    @Test
    void mutatedAdaptersNeverCrashTheProcess() throws Exception {
        long seed = Long.getLong("blender.fuzz.seed", DEFAULT_SEED);
        int from = Integer.getInteger("blender.fuzz.from", 0);
        int to = Integer.getInteger("blender.fuzz.adapter.cases", 1000);
        FuzzDriver.Result r = FuzzDriver.run(AdapterFuzzRunner.class, seed, from, to, pairs(), dir);
        System.out.println("AdapterFuzzTest: seed " + seed + ", cases " + from + ".." + (to - 1) + " on llama.cpp "
                + LlamaBackend.version() + " (" + LlamaBackend.abi() + ") " + r.summary());
        assertTrue(r.failures().isEmpty(), r.failures().size() + " fuzz case(s) failed; replay one with -Dblender.fuzz.seed="
                + seed + " -Dblender.fuzz.from=<case> -Dblender.fuzz.adapter.cases=<case+1>:\n"
                + String.join("\n", r.failures()));
    }

    /** Base and adapter paths, in pairs. */
    private List<String> pairs() throws IOException {
        List<SyntheticLlama> specs = new ArrayList<>(List.of(
                SyntheticLlama.builder().build(),
                SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                        .tensorType(GgmlType.F16).weightSeed(2).build(),
                SyntheticLlama.builder().tensorType(GgmlType.Q8_0).weightSeed(3).vocabularySeed(1).build(),
                SyntheticLlama.builder().vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE)
                        .tensorType(GgmlType.Q4_0).weightSeed(4).build()));
        if (LlamaBackend.abi() != LlamaAbi.B4916) {
            specs.add(SyntheticLlama.builder().architecture(SyntheticLlama.Architecture.QWEN3)
                    .vocabulary(SyntheticLlama.VocabularyKind.BYTE_LEVEL_BPE).weightSeed(5).build());
        } else {
            System.out.println("SKIPPED: no Qwen3 base on " + LlamaBackend.abi() + ", which does not know the architecture");
        }
        List<Path> bases = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            Path p = dir.resolve("synthetic-" + i + "-" + specs.get(i).architecture() + "-" + specs.get(i).tensorType() + ".gguf");
            specs.get(i).writeTo(p);
            bases.add(p);
        }
        for (String shared : new String[] {"models/stories260K.gguf", "models/arith/answerer-b.gguf",
                "models/specialists/base.gguf"}) {
            Path p = TestModels.shared().resolve(shared);
            if (Files.isRegularFile(p)) {
                bases.add(p);
            } else {
                System.out.println("SKIPPED: fuzzing adapters without " + p + ", which is absent (shared models are"
                        + " read at test time, never committed)");
            }
        }
        List<String> args = new ArrayList<>();
        for (int i = 0; i < bases.size(); i++) {
            Path base = bases.get(i);
            // ranks and factor types vary, so the mutations start from more than one layout; at rank 32 a factor
            // retyped to a 32-value block type (Q4_0, Q8_0, IQ4_NL, ...) still has whole blocks and reaches llama.cpp
            Path adapter = TestAdapters.everyMatrix(base, dir.resolve("adapter-" + i + ".gguf"), new int[] {4, 8, 32}[i % 3],
                    i % 2 == 1 ? GgmlType.F16 : GgmlType.F32, i);
            args.add(base.toAbsolutePath().toString());
            args.add(adapter.toAbsolutePath().toString());
        }
        return args;
    }
}
