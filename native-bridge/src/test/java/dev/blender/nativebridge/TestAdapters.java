package dev.blender.nativebridge;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** LoRA adapters generated for a model at test time, as {@code blender lora extract} lays them out. */
public final class TestAdapters {
    private TestAdapters() {}

    /**
     * Writes an adapter of rank {@code rank} over every matrix of {@code base} (the embedding too, unless the
     * output reuses it), with random small factors of {@code type} (F32 or F16), alpha = rank.
     */
    public static Path everyMatrix(Path base, Path out, int rank, GgmlType type, long seed) throws IOException {
        GgufFile b = GgufFile.read(base);
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", b.architecture().orElseThrow());
        w.putString("general.type", "adapter");
        w.putString("general.name", base.getFileName() + " test LoRA r" + rank);
        w.putString("adapter.type", "lora");
        w.putF32("adapter.lora.alpha", rank);
        boolean tied = b.tensor("output.weight").isEmpty();
        SplittableRandom random = new SplittableRandom(seed);
        for (TensorInfo t : b.tensors()) {
            if (t.rank() != 2) {
                continue;
            }
            boolean embedding = t.name().equals("token_embd.weight");
            if (embedding && tied) {
                continue;
            }
            long in = t.dim(0);
            long outDim = t.dim(1);
            w.tensor(t.name() + ".lora_a", type, embedding ? new long[] {rank, outDim} : new long[] {in, rank},
                    (row, values) -> fill(random, values));
            w.tensor(t.name() + ".lora_b", type, embedding ? new long[] {rank, in} : new long[] {rank, outDim},
                    (row, values) -> fill(random, values));
        }
        w.write(out);
        return out;
    }

    private static void fill(SplittableRandom random, float[] out) {
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((random.nextDouble() - 0.5) * 0.2);
        }
    }
}
