package dev.blender.runtime.lora;

import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.TensorInfo;
import dev.blender.runtime.merge.MergeListener;
import dev.blender.runtime.merge.ModelMerger;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Extracts a LoRA adapter from a fine-tune: for every matrix llama.cpp adapts, the truncated SVD of the
 * delta {@code tuned - base} at the requested rank, split into the {@code .lora_a}/{@code .lora_b}
 * factors llama.cpp expects and written as an f32 GGUF adapter that {@code dev.blender.nativebridge.LoraAdapter}
 * loads against the base.
 *
 * <pre>{@code
 * LoraExtractor.Result r = LoraExtractor.extract(base, tuned, 8, Path.of("add-r8.gguf"), MergeListener.NONE);
 * }</pre>
 *
 * <p>Adapters carry matrices only: llama.cpp skips norm vectors in adapter files, so the tuned model's
 * 1-D tensors (norms, biases) are not in the adapter and base + adapter at full rank equals the tuned
 * model's matrices over the base's 1-D tensors, not the tuned model itself ({@link Result#vectorsLeftOut()}
 * counts the 1-D tensors that differ). Every 2-D tensor is adapted, except {@code token_embd.weight}
 * of a model with tied embeddings (no {@code output.weight}), where llama.cpp would apply the factors to
 * the output projection with the embedding's layout. Tensors whose delta is exactly zero are left out.
 *
 * <p>Rank: {@code rank} larger than a matrix's {@code min(rows, cols)} means full rank for it. llama.cpp
 * scales each pair by {@code alpha / rank} (its own rank); {@code adapter.lora.alpha} is the largest rank
 * written, and pairs of a smaller rank carry {@code rank / alpha} folded into {@code lora_b}, so at
 * scale 1 every pair adds exactly its truncated delta.
 */
public final class LoraExtractor {
    /** The prefix of the provenance keys written into the adapter's metadata. */
    public static final String METADATA_PREFIX = "blender.lora.";

    private LoraExtractor() {}

    /**
     * What was written.
     *
     * @param tensors        matrices adapted (pairs written)
     * @param alpha          {@code adapter.lora.alpha}: the largest rank written
     * @param minEnergy      the smallest fraction of a delta's squared norm its truncation kept (1 = exact)
     * @param vectorsLeftOut 1-D tensors that differ between base and tuned but cannot be in an adapter
     * @param bytes          the adapter file's size
     */
    public record Result(Path output, int tensors, int alpha, double minEnergy, int vectorsLeftOut, long bytes) {}

    private record Pair(TensorInfo base, int rank, float[] a, float[] b, long[] aDims, long[] bDims) {}

    /**
     * Writes the adapter of {@code tuned} over {@code base} at {@code rank} to {@code output}.
     *
     * @param listener hears each matrix decomposed
     * @throws IllegalArgumentException rank below 1, the output is an input, or the two models differ in
     *     architecture, tensors, shapes or vocabulary
     * @throws dev.blender.nativebridge.gguf.GgufFormatException an input is missing or not valid GGUF
     * @throws IOException reading or writing failed
     */
    public static Result extract(Path base, Path tuned, int rank, Path output, MergeListener listener) throws IOException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(tuned, "tuned");
        Objects.requireNonNull(output, "output");
        Objects.requireNonNull(listener, "listener");
        if (rank < 1) {
            throw new IllegalArgumentException("rank must be >= 1, was " + rank);
        }
        Path out = output.toAbsolutePath().normalize();
        for (Path in : List.of(base, tuned)) {
            if (Files.exists(out) && Files.exists(in) && Files.isSameFile(out, in)) {
                throw new IllegalArgumentException("the adapter " + output + " would overwrite the input " + in);
            }
        }
        GgufFile b = GgufFile.read(base.toAbsolutePath());
        GgufFile t = GgufFile.read(tuned.toAbsolutePath());
        ModelMerger.checkMergeable(b, t);
        boolean tied = b.tensor("output.weight").isEmpty();
        List<TensorInfo> matrices = new ArrayList<>();
        int vectorsLeftOut = 0;
        for (TensorInfo info : b.tensors()) {
            if (info.rank() == 2 && !(tied && info.name().equals("token_embd.weight"))) {
                matrices.add(info);
            } else if (!java.util.Arrays.equals(ModelMerger.readTensor(b, info.name()),
                    ModelMerger.readTensor(t, info.name()))) {
                vectorsLeftOut++;
            }
        }
        List<Pair> pairs = new ArrayList<>();
        double minEnergy = 1;
        int done = 0;
        for (TensorInfo info : matrices) {
            float[] w0 = ModelMerger.readTensor(b, info.name());
            float[] w1 = ModelMerger.readTensor(t, info.name());
            int cols = Math.toIntExact(info.dim(0));
            int rows = Math.toIntExact(info.dim(1));
            double[] delta = new double[w0.length];
            boolean zero = true;
            for (int i = 0; i < delta.length; i++) {
                delta[i] = (double) w1[i] - w0[i];
                zero &= delta[i] == 0;
            }
            if (!zero) {
                Svd svd = Svd.of(delta, rows, cols);
                int r = Math.min(rank, svd.size());
                minEnergy = Math.min(minEnergy, svd.energy(r));
                pairs.add(factor(info, svd, r));
            }
            listener.tensorMerged(++done, matrices.size(), info.name());
        }
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException(tuned.getFileName() + " has the same matrices as " + base.getFileName()
                    + ": there is nothing to put in an adapter");
        }
        int alpha = pairs.stream().mapToInt(Pair::rank).max().orElseThrow();
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", b.architecture().orElseThrow(() -> new IllegalArgumentException(
                base + " has no general.architecture")));
        w.putString("general.type", "adapter");
        w.putString("general.name", t.string("general.name").orElse(tuned.getFileName().toString()) + " LoRA r" + alpha);
        w.putString("adapter.type", "lora");
        w.putF32("adapter.lora.alpha", alpha);
        w.putString(METADATA_PREFIX + "base", base.getFileName().toString());
        w.putString(METADATA_PREFIX + "tuned", tuned.getFileName().toString());
        w.putU32(METADATA_PREFIX + "rank", rank);
        for (Pair p : pairs) {
            float fold = (float) p.rank() / alpha;
            if (fold != 1) {
                for (int i = 0; i < p.b().length; i++) {
                    p.b()[i] *= fold;
                }
            }
            w.tensor(p.base().name() + ".lora_a", GgmlType.F32, p.aDims(), rowsOf(p.a(), p.aDims()[0]));
            w.tensor(p.base().name() + ".lora_b", GgmlType.F32, p.bDims(), rowsOf(p.b(), p.bDims()[0]));
        }
        Path tmp = Files.createTempFile(out.getParent() == null ? Path.of(".") : out.getParent(), ".lora-", ".gguf.tmp");
        try {
            w.write(tmp);
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return new Result(out, pairs.size(), alpha, minEnergy, vectorsLeftOut, Files.size(out));
    }

    /**
     * Splits the rank-{@code r} truncation as {@code U·√S} and {@code V·√S} (balanced, so neither factor
     * carries the whole scale in f32) into llama.cpp's layouts: for {@code W} of ne {@code [in, out]},
     * {@code lora_a [in, r]} = {@code √S·Vᵀ} and {@code lora_b [r, out]} = {@code U·√S}; the token embedding
     * ({@code [n_embd, n_vocab]}) is gathered by row, so there {@code lora_a [r, n_vocab]} = {@code U·√S}
     * and {@code lora_b [r, n_embd]} = {@code V·√S}.
     */
    private static Pair factor(TensorInfo info, Svd svd, int r) {
        int cols = Math.toIntExact(info.dim(0));
        int rows = Math.toIntExact(info.dim(1));
        float[] us = new float[rows * r]; // rows x r, row-major
        float[] vs = new float[cols * r]; // cols x r, row-major
        for (int k = 0; k < r; k++) {
            double root = Math.sqrt(svd.s()[k]);
            for (int i = 0; i < rows; i++) {
                us[i * r + k] = (float) (svd.u()[k][i] * root);
            }
            for (int j = 0; j < cols; j++) {
                vs[j * r + k] = (float) (svd.v()[k][j] * root);
            }
        }
        if (info.name().equals("token_embd.weight")) {
            return new Pair(info, r, us, vs, new long[] {r, rows}, new long[] {r, cols});
        }
        float[] a = new float[r * cols]; // r x cols: √S·Vᵀ
        for (int j = 0; j < cols; j++) {
            for (int k = 0; k < r; k++) {
                a[k * cols + j] = vs[j * r + k];
            }
        }
        return new Pair(info, r, a, us, new long[] {cols, r}, new long[] {r, rows});
    }

    private static GgufWriter.TensorSource rowsOf(float[] data, long rowLength) {
        int n = Math.toIntExact(rowLength);
        return (row, out) -> System.arraycopy(data, Math.toIntExact(row * n), out, 0, n);
    }
}
