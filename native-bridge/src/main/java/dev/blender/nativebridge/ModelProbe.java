package dev.blender.nativebridge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Loads a model in a child JVM and decodes one token there before this process loads it, so that a native
 * abort on an untrusted file (one {@link dev.blender.nativebridge.gguf.ModelChecks} does not know of yet)
 * kills the child, not the host: {@link ModelOptions#withProbeLoad(boolean)} makes {@link LlamaModel#load}
 * call {@link #check} after the Java checks, and {@link LoraAdapter#load} call {@link #checkAdapter} (the
 * child loads the base, then the adapter, and decodes one token through both).
 *
 * <p>The child is this JVM's own {@code java} with the same class path, native access and llama.cpp
 * library (the {@code blender.*} system properties are passed on; the environment, and so
 * {@code BLENDER_LLAMA_LIBRARY}, is inherited). Its outcome is kept per file (absolute path, size,
 * modification time; for an adapter, its base's too) and load option that reaches the child, so each file is
 * probed once per process; a file that changes is probed again. A child that dies becomes a
 * {@link ModelLoadException} naming the file, the exit status and the child's last line of output; an error
 * the child reports cleanly (a Java exception, not a crash) is left to the load in this process to throw
 * again, with its own type. A child still running after {@link ModelOptions#probeTimeout()} is killed and
 * the file refused; that outcome is not kept, since it says as much about the machine's load and the limit
 * as about the file.
 */
public final class ModelProbe {
    static final String START = "PROBE START";
    private static final String OK = "PROBE OK";
    private static final String ERROR = "PROBE ERROR ";

    private record FileId(Path path, long size, FileTime modified) {
        static FileId of(Path p) {
            try {
                return new FileId(p, Files.size(p), Files.getLastModifiedTime(p));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot probe " + p + ": " + e.getMessage(), e);
            }
        }
    }

    /** The model, the adapter (null for a model alone) and the options the child loads them with. */
    private record Key(FileId model, FileId adapter, int gpuLayers, boolean vocabOnly, boolean mmap) {}

    /** Null for a file that loaded (or failed cleanly) in the child; the exception for one that killed it. */
    private static final Map<Key, CompletableFuture<ModelLoadException>> OUTCOMES = new ConcurrentHashMap<>();
    private static final AtomicInteger CHILDREN = new AtomicInteger();
    /** Tests replace the child's main class to make it die in ways no known file does. */
    private static volatile String childMain = ModelProbe.class.getName();

    private ModelProbe() {}

    /** {@link #check(Path, ModelOptions)} with {@link ModelOptions#defaults()}. */
    public static void check(Path path) {
        check(path, ModelOptions.defaults());
    }

    /**
     * Probes {@code path} in a child JVM with the options that matter to llama.cpp's loader (GPU layers,
     * memory mapping, vocabulary only), unless this process already has.
     *
     * @throws ModelLoadException the child died loading the file or decoding one token, or did not finish
     *                            within {@link ModelOptions#probeTimeout()}; the file must not be loaded in-process
     * @throws UncheckedIOException the file's attributes cannot be read or the child cannot be started
     * @throws LlamaException the child JVM did not get as far as the file (for example a class path it
     *                        cannot read); nothing is remembered, so the next call tries again
     */
    public static void check(Path path, ModelOptions options) {
        Objects.requireNonNull(path, "path");
        probe(path, null, options);
    }

    /**
     * Probes the LoRA adapter {@code adapter} over the model {@code base} in a child JVM: it loads the base,
     * then the adapter, sets it on a context and decodes one token, unless this process already has.
     *
     * @throws ModelLoadException naming the adapter: the child died loading or applying it, or did not finish
     *                            within {@link ModelOptions#probeTimeout()}; it must not be loaded in-process
     * @throws UncheckedIOException a file's attributes cannot be read or the child cannot be started
     * @throws LlamaException the child JVM did not get as far as the files; nothing is remembered
     */
    public static void checkAdapter(Path base, Path adapter, ModelOptions options) {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(adapter, "adapter");
        probe(base, adapter, options);
    }

    private static void probe(Path model, Path adapter, ModelOptions options) {
        Objects.requireNonNull(options, "options");
        Path abs = model.toAbsolutePath().normalize();
        Path absAdapter = adapter == null ? null : adapter.toAbsolutePath().normalize();
        Key key = new Key(FileId.of(abs), absAdapter == null ? null : FileId.of(absAdapter), options.gpuLayers(),
                options.vocabOnly(), options.mmap());
        CompletableFuture<ModelLoadException> mine = new CompletableFuture<>();
        CompletableFuture<ModelLoadException> outcome = OUTCOMES.putIfAbsent(key, mine);
        if (outcome == null) {
            outcome = mine;
            try {
                mine.complete(run(abs, absAdapter, options));
            } catch (RuntimeException | Error e) {
                // a probe that could not run, or ran out of time, is no verdict on the file: the next caller tries again
                OUTCOMES.remove(key, mine);
                mine.completeExceptionally(e);
                throw e;
            }
        }
        ModelLoadException crashed;
        try {
            crashed = outcome.join();
        } catch (java.util.concurrent.CompletionException e) {
            // another thread's probe of the same file failed to run: its exception, thrown here too
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        if (crashed != null) {
            throw new ModelLoadException(crashed.path(), crashed.getMessage());
        }
    }

    /** Child JVMs started so far, for tests that a file is probed once. */
    static int childrenStarted() {
        return CHILDREN.get();
    }

    /** Sets the child's main class (tests only) and forgets every outcome; returns the previous one. */
    static String childMainForTests(String className) {
        String old = childMain;
        childMain = className;
        OUTCOMES.clear();
        return old;
    }

    private static ModelLoadException run(Path model, Path adapter, ModelOptions options) {
        CHILDREN.incrementAndGet();
        Path file = adapter == null ? model : adapter;
        String what = adapter == null ? file.toString() : "the LoRA adapter " + adapter + " over " + model;
        Path work;
        try {
            work = Files.createTempDirectory("blender-probe");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot probe " + what + ": no temporary directory: " + e.getMessage(), e);
        }
        try {
            Path out = work.resolve("output.txt");
            // the host's working directory, so that a relative class path or library path means the same there
            ProcessBuilder pb = new ProcessBuilder(command(model, adapter, options, work)).redirectErrorStream(true)
                    .redirectOutput(out.toFile());
            // ggml's abort handler would otherwise attach gdb for a backtrace, seconds per crash
            pb.environment().put("GGML_NO_BACKTRACE", "1");
            Process p = pb.start();
            boolean finished;
            try {
                finished = p.waitFor(options.probeTimeout().toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new LlamaException("interrupted while probing " + what, e);
            }
            if (!finished) {
                p.destroyForcibly();
                throw new ModelLoadException(file, "probing " + what + " in a child JVM did not finish within "
                        + seconds(options.probeTimeout()) + " (the probe timeout, ModelOptions.withProbeTimeout or"
                        + " --probe-timeout), so it is not loaded in this process; allow longer if the machine is busy"
                        + " or the file is large");
            }
            int exit = p.exitValue();
            List<String> lines = Files.readAllLines(out, StandardCharsets.ISO_8859_1);
            if (exit == 0 && lines.contains(OK)) {
                return null;
            }
            if (exit == 2 && lines.stream().anyMatch(l -> l.startsWith(ERROR))) {
                return null; // the load here throws the same error, with its own type
            }
            // a JVM's own crash report ends in lines of "#"; what it says of the signal and the frame is the news
            String last = lines.stream().map(String::strip).filter(l -> !l.isEmpty() && !l.matches("#+"))
                    .reduce((a, b) -> b).orElse("");
            if (!lines.contains(START)) {
                // the JVM did not get as far as the file: a fault of the probe's set-up, not of the model
                throw new LlamaException("could not start a JVM to probe " + what + " (exit status " + exit + ")"
                        + (last.isEmpty() ? "" : ": " + last));
            }
            return new ModelLoadException(file, "loading " + what + " killed a child JVM (" + describe(exit)
                    + jvmCrash(lines) + ")" + (last.isEmpty() ? "" : ", its last words: " + last)
                    + "; it is not loaded in this process. The file is corrupt or trips a llama.cpp bug: download or"
                    + " convert it again");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot probe " + what + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(work);
        }
    }

    /** "600 s", "0.05 s". */
    private static String seconds(java.time.Duration d) {
        return java.math.BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString() + " s";
    }

    /**
     * A signal the JVM caught (a SIGSEGV in native code ends in its fatal error report and exit status 1, not in
     * 139) and the native frame it names, from the report's header: {@code ", SIGSEGV in C [lib.so+0x..] f+0x2f"}.
     */
    private static String jvmCrash(List<String> lines) {
        String signal = null;
        String frame = null;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (signal == null && l.matches("#\\s+SIG[A-Z]+ .*")) {
                signal = l.substring(1).strip().split(" ")[0];
            } else if (frame == null && l.equals("# Problematic frame:") && i + 1 < lines.size()) {
                frame = lines.get(i + 1).replaceFirst("^#\\s*", "").strip();
            }
        }
        return signal == null ? "" : ", " + signal + (frame == null ? "" : " in " + frame);
    }

    private static String describe(int exit) {
        // a JVM killed by signal n exits with 128 + n, as a shell reports it
        return exit > 128 && exit < 160 ? "exit status " + exit + ", signal " + (exit - 128)
                + (exit == 134 ? " SIGABRT" : exit == 139 ? " SIGSEGV" : exit == 137 ? " SIGKILL" : "")
                : "exit status " + exit;
    }

    private static List<String> command(Path file, Path adapter, ModelOptions options, Path work) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-modules")) {
                cmd.add(a);
            }
        }
        System.getProperties().forEach((k, v) -> {
            if (k.toString().startsWith("blender.")) {
                cmd.add("-D" + k + "=" + v);
            }
        });
        // a crash report or core dump of a deliberately broken file belongs in the temp dir, not the host's
        // working directory; the model's weights live outside the heap, and a short-lived JVM starts faster
        // without the optimising compiler
        cmd.addAll(List.of("-XX:ErrorFile=" + work.resolve("hs_err_%p.log"), "-XX:-CreateCoredumpOnCrash",
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), childMain, file.toString(),
                Integer.toString(options.gpuLayers()), Boolean.toString(options.mmap()),
                Boolean.toString(options.vocabOnly())));
        if (adapter != null) {
            cmd.add(adapter.toString());
        }
        return cmd;
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            // a leftover temp dir is harmless; the probe's outcome stands
        }
    }

    /** Arguments of the child: file, GPU layers, mmap, vocabulary only[, adapter]. */
    static ModelOptions childOptions(String[] args) {
        return ModelOptions.defaults().withGpuLayers(Integer.parseInt(args[1])).withMmap(Boolean.parseBoolean(args[2]))
                .withVocabOnly(Boolean.parseBoolean(args[3]));
    }

    /**
     * The child: says it started, loads the file (and the adapter over it, when given), decodes one token, prints
     * {@value #OK} and exits 0; on a Java exception prints it and exits 2. A native abort ends it with the
     * signal's status instead.
     */
    public static void main(String[] args) {
        System.out.println(START);
        try {
            try (LlamaModel m = LlamaModel.load(Path.of(args[0]), childOptions(args))) {
                if (args.length > 4) {
                    try (LoraAdapter a = LoraAdapter.load(m, Path.of(args[4]))) {
                        decodeOne(m, a);
                    }
                } else {
                    decodeOne(m, null);
                }
            }
            System.out.println(OK);
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            System.out.println(ERROR + t.getClass().getName() + ": " + String.valueOf(t.getMessage()).replace('\n', ' '));
            System.out.flush();
            System.exit(2);
        }
    }

    /** {@link #decodeOne(LlamaModel, LoraAdapter)} without an adapter. */
    static void decodeOne(LlamaModel m) {
        decodeOne(m, null);
    }

    /**
     * One decode of a token every vocabulary has, which runs the weights (and the adapter's factors, at scale 1)
     * through the compute graph.
     */
    static void decodeOne(LlamaModel m, LoraAdapter adapter) {
        if (m.options().vocabOnly()) {
            return;
        }
        int bos = m.vocab().bos();
        int token = bos >= 0 && bos < m.vocab().size() ? bos : 0;
        try (LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(16).withBatchSize(16)
                .withMaxSequences(1).withThreads(1)); Batch b = Batch.create(1)) {
            if (adapter != null) {
                ctx.setLoraAdapter(adapter, 1f);
            }
            b.add(token, 0, 0, true);
            ctx.decode(b);
            ctx.logits(0);
        }
    }
}
