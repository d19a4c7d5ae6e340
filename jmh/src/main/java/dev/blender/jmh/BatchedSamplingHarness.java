package dev.blender.jmh;

import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.runtime.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * End-to-end latency of batched candidate sampling (not a JMH benchmark: one measurement is seconds of
 * native work). For N in {1, 2, 4, 8}: N candidates of one prompt sampled batched (prompt decoded once,
 * shared by KV copy, one decode per step for all) versus N single-candidate runs one after another, in
 * the same process, alternating, median of several repeats. Reports wall milliseconds per generated
 * token and the ratio.
 *
 * <p>Models: a generated llama of Qwen2-0.5B's shape (24 layers, width 896, 14 heads / 2 KV heads, FFN
 * 4864, 151,936-token vocabulary, Q8_0; random weights: speed does not depend on their values), cached
 * under the blender cache folder, and shared/models/stories260K.gguf when present. Run:
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector -cp jmh/target/benchmarks.jar
 * dev.blender.jmh.BatchedSamplingHarness [--tokens T] [--repeats R] [--threads N] [--candidates 1,4]
 * [--model FILE]...}; with {@code BLENDER_LLAMA_LIBRARY} set, on that llama.cpp.
 */
public final class BatchedSamplingHarness {
    public static void main(String[] args) throws IOException {
        int tokens = 32;
        int repeats = 3;
        int threads = 0;
        int[] counts = {1, 2, 4, 8};
        int gpuLayers = 0;
        GgmlType quant = GgmlType.Q8_0;
        List<Path> models = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--model" -> models.add(Path.of(args[++i]));
                case "--gpu-layers" -> gpuLayers = Integer.parseInt(args[++i]);
                case "--quant" -> quant = GgmlType.valueOf(args[++i].toUpperCase(java.util.Locale.ROOT));
                case "--candidates" -> counts = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (use --tokens T, --repeats R, --threads N, --candidates 1,2,4,8, --gpu-layers N, --quant Q8_0|Q4_0,"
                        + " --model FILE)");
            }
        }
        if (models.isEmpty()) {
            models.add(qwenShaped(quant));
            SharedData.resolve("models/stories260K.gguf").ifPresent(models::add);
        }
        for (Path p : models) {
            run(p, tokens, repeats, threads, counts, gpuLayers);
        }
    }

    static Path qwenShaped(GgmlType quant) throws IOException {
        Path dir = dev.blender.nativebridge.CacheDir.root().resolve("models");
        Path file = dir.resolve("synthetic-qwen2-0.5b-shape-" + quant.name().toLowerCase(java.util.Locale.ROOT) + ".gguf");
        if (!Files.exists(file)) {
            Files.createDirectories(dir);
            System.err.println("writing " + file + " (once)...");
            SyntheticLlama.builder().name("synthetic qwen2-0.5b shape").vocabSize(151_936).layers(24)
                    .embeddingLength(896).heads(14).kvHeads(2).feedForwardLength(4864).contextLength(4096)
                    .tensorType(quant).weightSeed(1).build().writeTo(file);
        }
        return file;
    }

    static void run(Path path, int tokens, int repeats, int threads, int[] counts, int gpuLayers) {
        try (LlamaModel model = LlamaModel.load(path, ModelOptions.defaults().withThreads(threads).withGpuLayers(gpuLayers))) {
            int[] prompt = model.vocab().tokenize("Once upon a time, in a small town by the sea, there lived a"
                    + " girl who loved to read stories about faraway lands and brave");
            System.out.printf(Locale.ROOT, "%n%s: %s, %,d parameters, prompt %d tokens, %d tokens per candidate,"
                    + " llama.cpp %s, gpuLayers %d%n", path.getFileName(), model.description(), model.parameterCount(),
                    prompt.length, tokens, LlamaBackend.version(), gpuLayers);
            System.out.printf("%3s %18s %18s %9s %16s%n", "N", "batched ms/token", "sequential ms/tok",
                    "speed-up", "batched tok/s");
            int most = Arrays.stream(counts).max().orElse(8);
            ContextOptions opts = ContextOptions.defaults().withContextSize(prompt.length + most * (tokens + 1) + 64)
                    .withMaxSequences(Math.max(2, most)).withBatchSize(512);
            try (LlamaContext ctx = model.newContext(opts)) {
                // SamplerOptions.defaults() at temperature 1 keeps candidates apart; EOG is ignored by
                // counting the tokens actually generated
                GenerationRequest base = GenerationRequest.of(prompt).withMaxTokens(tokens)
                        .withSampler(SamplerOptions.defaults().withTemperature(1f)).withSeed(7);
                Generator.generate(ctx, base.withCandidates(2)); // warm-up
                for (int n : counts) {
                    double[] batched = new double[repeats];
                    double[] sequential = new double[repeats];
                    for (int r = 0; r < repeats; r++) {
                        long t0 = System.nanoTime();
                        int produced = count(Generator.generate(ctx, base.withCandidates(n).withSeed(r)));
                        batched[r] = (System.nanoTime() - t0) / 1e6 / produced;
                        int seqProduced = 0;
                        t0 = System.nanoTime();
                        for (int c = 0; c < n; c++) {
                            seqProduced += count(Generator.generate(ctx, base.withCandidates(1).withSeed(r + c)));
                        }
                        sequential[r] = (System.nanoTime() - t0) / 1e6 / seqProduced;
                    }
                    double b = median(batched);
                    double s = median(sequential);
                    System.out.printf(Locale.ROOT, "%3d %18.2f %18.2f %8.2fx %16.1f%n", n, b, s, s / b, 1000 / b);
                }
            }
        }
    }

    private static int count(List<Candidate> out) {
        return Math.max(1, out.stream().mapToInt(Candidate::tokenCount).sum());
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
