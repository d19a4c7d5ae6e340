package dev.blender.runtime.bench;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.LogFormat;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The baseline of {@code bridge_over_native}: single-sequence generation through java-llama.cpp's own Java
 * API (its JNI server loop over the same b4916 library), as a new user of that library would run it. It
 * runs in a child JVM of its own, so that its copy of llama.cpp never shares a process with the bridge's,
 * and answers one measurement per line on stdin: {@code TOKENS SEED} in, decode tokens per second out
 * (first token to last, so the prompt is left out as the bridge's figure leaves it out).
 */
public final class NativeBaseline implements AutoCloseable {
    private final Process process;
    private final java.io.PrintWriter in;
    private final BufferedReader out;

    private NativeBaseline(Process process) {
        this.process = process;
        this.in = new java.io.PrintWriter(process.outputWriter(StandardCharsets.UTF_8), true);
        this.out = process.inputReader(StandardCharsets.UTF_8);
    }

    /** Starts the child JVM with the model loaded; it waits for {@link #tokensPerSecond} calls. */
    public static NativeBaseline start(Path model, int threads, int contextSize, String prompt) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), NativeBaseline.class.getName(), model.toString(),
                Integer.toString(threads), Integer.toString(contextSize)));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        NativeBaseline b = new NativeBaseline(p);
        b.in.println(prompt.replace('\n', ' '));
        // java-llama.cpp's loader says on stdout where it extracted its library; skip to the child's answer
        String line;
        String last = null;
        while ((line = b.out.readLine()) != null && !line.equals("ready")) {
            last = line;
        }
        if (line == null) {
            b.close();
            throw new IOException("java-llama.cpp could not load " + model + " in the child JVM"
                    + (last != null ? " (its last words: " + last + ")" : ""));
        }
        return b;
    }

    /** Generates {@code tokens} tokens at temperature 1 (end of generation ignored); decode tokens per second. */
    public double tokensPerSecond(int tokens, int seed) throws IOException {
        in.println(tokens + " " + seed);
        String line = out.readLine();
        if (line == null) {
            throw new IOException("the java-llama.cpp child JVM ended");
        }
        return Double.parseDouble(line);
    }

    @Override
    public void close() {
        in.close();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** The child: {@code MODEL THREADS CONTEXT}, then the prompt line, then {@code TOKENS SEED} lines. */
    public static void main(String[] args) throws IOException {
        LlamaModel.setLogger(LogFormat.TEXT, (level, message) -> {});
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String prompt = stdin.readLine();
        int threads = Integer.parseInt(args[1]);
        ModelParameters params = new ModelParameters().setModel(args[0]).setCtxSize(Integer.parseInt(args[2]))
                .setGpuLayers(0);
        if (threads > 0) {
            params.setThreads(threads).setThreadsBatch(threads);
        }
        try (LlamaModel model = new LlamaModel(params)) {
            System.out.println("ready");
            System.out.flush();
            for (String line; (line = stdin.readLine()) != null; ) {
                String[] parts = line.strip().split(" ");
                InferenceParameters inference = new InferenceParameters(prompt).setNPredict(Integer.parseInt(parts[0]))
                        .setIgnoreEos(true).setTemperature(1f).setSeed(Integer.parseInt(parts[1])).setCachePrompt(false);
                long first = 0;
                long last = 0;
                int n = 0;
                for (LlamaOutput o : model.generate(inference)) {
                    last = System.nanoTime();
                    if (n++ == 0) {
                        first = last;
                    }
                }
                double seconds = (last - first) / 1e9;
                System.out.println(String.format(Locale.ROOT, "%.6f", n > 1 && seconds > 0 ? (n - 1) / seconds : 0));
                System.out.flush();
            }
        }
    }
}
