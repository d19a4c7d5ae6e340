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
 * call {@link #check} after the Java checks.
 *
 * <p>The child is this JVM's own {@code java} with the same class path, native access and llama.cpp
 * library (the {@code blender.*} system properties are passed on; the environment, and so
 * {@code BLENDER_LLAMA_LIBRARY}, is inherited). Its outcome is kept per file (absolute path, size,
 * modification time) and load option that reaches the child, so each file is probed once per process;
 * a file that changes is probed again. A child that dies becomes a {@link ModelLoadException} naming the
 * file, the exit status and the child's last line of output; an error the child reports cleanly (a Java
 * exception, not a crash) is left to the load in this process to throw again, with its own type.
 */
public final class ModelProbe {
    /** A load that takes longer is taken for a hang; real loads of files that fit in memory take seconds. */
    static final long TIMEOUT_SECONDS = 600;
    static final String START = "PROBE START";
    private static final String OK = "PROBE OK";
    private static final String ERROR = "PROBE ERROR ";

    private record Key(Path path, long size, FileTime modified, int gpuLayers, boolean vocabOnly, boolean mmap) {}

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
     *                            within {@value #TIMEOUT_SECONDS} s; the file must not be loaded in-process
     * @throws UncheckedIOException the file's attributes cannot be read or the child cannot be started
     * @throws LlamaException the child JVM did not get as far as the file (for example a class path it
     *                        cannot read); nothing is remembered, so the next call tries again
     */
    public static void check(Path path, ModelOptions options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        Path abs = path.toAbsolutePath().normalize();
        Key key;
        try {
            key = new Key(abs, Files.size(abs), Files.getLastModifiedTime(abs), options.gpuLayers(),
                    options.vocabOnly(), options.mmap());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot probe " + abs + ": " + e.getMessage(), e);
        }
        CompletableFuture<ModelLoadException> mine = new CompletableFuture<>();
        CompletableFuture<ModelLoadException> outcome = OUTCOMES.putIfAbsent(key, mine);
        if (outcome == null) {
            outcome = mine;
            try {
                mine.complete(probe(abs, options));
            } catch (RuntimeException | Error e) {
                // a probe that could not run says nothing about the file: the next caller tries again
                OUTCOMES.remove(key, mine);
                mine.completeExceptionally(e);
                throw e;
            }
        }
        ModelLoadException crashed = outcome.join();
        if (crashed != null) {
            throw new ModelLoadException(abs, crashed.getMessage());
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

    private static ModelLoadException probe(Path file, ModelOptions options) {
        CHILDREN.incrementAndGet();
        Path work;
        try {
            work = Files.createTempDirectory("blender-probe");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot probe " + file + ": no temporary directory: " + e.getMessage(), e);
        }
        try {
            Path out = work.resolve("output.txt");
            // the host's working directory, so that a relative class path or library path means the same there
            ProcessBuilder pb = new ProcessBuilder(command(file, options, work)).redirectErrorStream(true).redirectOutput(out.toFile());
            // ggml's abort handler would otherwise attach gdb for a backtrace, seconds per crash
            pb.environment().put("GGML_NO_BACKTRACE", "1");
            Process p = pb.start();
            boolean finished;
            try {
                finished = p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new LlamaException("interrupted while probing " + file, e);
            }
            if (!finished) {
                p.destroyForcibly();
                return new ModelLoadException(file, "probing " + file + " in a child JVM did not finish within "
                        + TIMEOUT_SECONDS + " s, so it is not loaded in this process");
            }
            int exit = p.exitValue();
            List<String> lines = Files.readAllLines(out, StandardCharsets.ISO_8859_1);
            if (exit == 0 && lines.contains(OK)) {
                return null;
            }
            if (exit == 2 && lines.stream().anyMatch(l -> l.startsWith(ERROR))) {
                return null; // the load here throws the same error, with its own type
            }
            String last = lines.stream().map(String::strip).filter(l -> !l.isEmpty()).reduce((a, b) -> b).orElse("");
            if (!lines.contains(START)) {
                // the JVM did not get as far as the file: a fault of the probe's set-up, not of the model
                throw new LlamaException("could not start a JVM to probe " + file + " (exit status " + exit + ")"
                        + (last.isEmpty() ? "" : ": " + last));
            }
            return new ModelLoadException(file, "loading " + file + " killed a child JVM (" + describe(exit) + ")"
                    + (last.isEmpty() ? "" : ", its last words: " + last)
                    + "; it is not loaded in this process. The file is corrupt or trips a llama.cpp bug: download or"
                    + " convert it again");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot probe " + file + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(work);
        }
    }

    private static String describe(int exit) {
        // a JVM killed by signal n exits with 128 + n, as a shell reports it
        return exit > 128 && exit < 160 ? "exit status " + exit + ", signal " + (exit - 128)
                + (exit == 134 ? " SIGABRT" : exit == 139 ? " SIGSEGV" : exit == 137 ? " SIGKILL" : "")
                : "exit status " + exit;
    }

    private static List<String> command(Path file, ModelOptions options, Path work) {
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
        return cmd;
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            // a leftover temp dir is harmless; the probe's outcome stands
        }
    }

    /** Arguments of the child: file, GPU layers, mmap, vocabulary only. */
    static ModelOptions childOptions(String[] args) {
        return ModelOptions.defaults().withGpuLayers(Integer.parseInt(args[1])).withMmap(Boolean.parseBoolean(args[2]))
                .withVocabOnly(Boolean.parseBoolean(args[3]));
    }

    /**
     * The child: says it started, loads the file, decodes one token, prints {@value #OK} and exits 0; on a Java exception
     * prints it and exits 2. A native abort ends it with the signal's status instead.
     */
    public static void main(String[] args) {
        System.out.println(START);
        try {
            try (LlamaModel m = LlamaModel.load(Path.of(args[0]), childOptions(args))) {
                decodeOne(m);
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

    /** One decode of a token every vocabulary has, which runs the weights through the compute graph. */
    static void decodeOne(LlamaModel m) {
        if (m.options().vocabOnly()) {
            return;
        }
        int bos = m.vocab().bos();
        int token = bos >= 0 && bos < m.vocab().size() ? bos : 0;
        try (LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(16).withBatchSize(16)
                .withMaxSequences(1).withThreads(1)); Batch b = Batch.create(1)) {
            b.add(token, 0, 0, true);
            ctx.decode(b);
            ctx.logits(0);
        }
    }
}
