package dev.blender.nativebridge.gguf;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs fuzz cases in child JVMs, since a native abort takes the whole JVM with it: the child (a runner such as
 * {@link GgufFuzzRunner}, called with {@code seed from to workDir args...}) prints {@code CASE i ...} before each
 * case, {@code OUTCOME ...} after it, {@code BUG ...} for an unexpected exception and {@code DONE} at the end. A
 * child that dies names its last case as the culprit; the run goes on in a new child from the next case, and every
 * crash, hang or unexpected exception is listed with its seed and index.
 */
public final class FuzzDriver {
    /** A case that runs this long without finishing is a hang (real cases take milliseconds). */
    private static final long STALL_MILLIS = 120_000;

    /** What a run found: failures (crashes, hangs, bugs), outcome counts, child JVMs used, wall time. */
    public record Result(List<String> failures, Map<String, Integer> outcomes, int children, long seconds) {
        public String summary() {
            return "in " + seconds + " s, " + children + " child JVM(s), " + failures.size() + " failure(s); outcomes "
                    + outcomes;
        }
    }

    private FuzzDriver() {}

    /** Cases {@code from..to-1} of {@code seed} through {@code runner}, with {@code args} after the work folder. */
    public static Result run(Class<?> runner, long seed, int from, int to, List<String> args, Path dir) throws Exception {
        long start = System.nanoTime();
        List<String> failures = new ArrayList<>();
        Map<String, Integer> outcomes = new TreeMap<>();
        int next = from;
        int children = 0;
        while (next < to) {
            Child child = runChild(runner, seed, next, to, args, dir, ++children);
            child.outcomes.forEach((k, v) -> outcomes.merge(k, v, Integer::sum));
            failures.addAll(child.bugs);
            if (child.done) {
                break;
            }
            if (child.lastCase < next) {
                throw new AssertionError("the fuzz child JVM died before its first case (exit " + child.exit + "): "
                        + child.stderrTail);
            }
            failures.add((child.hung ? "HANG" : "CRASH (exit " + child.exit + ")") + " seed " + seed + " case "
                    + child.lastCaseLine + "\n    native output: " + child.stderrTail);
            next = child.lastCase + 1;
        }
        return new Result(failures, outcomes, children, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
    }

    private static final class Child {
        final List<String> bugs = new ArrayList<>();
        final Map<String, Integer> outcomes = new TreeMap<>();
        volatile int lastCase = -1;
        volatile String lastCaseLine = "";
        volatile boolean done;
        boolean hung;
        int exit;
        String stderrTail = "";
    }

    private static Child runChild(Class<?> runner, long seed, int from, int to, List<String> args, Path dir, int n)
            throws Exception {
        Path work = Files.createDirectories(dir.resolve("child-" + n));
        Path stderr = work.resolve("stderr.txt");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--enable-native-access") || a.startsWith("--add-modules")) {
                cmd.add(a);
            }
        }
        System.getProperties().forEach((k, v) -> {
            if (k.toString().startsWith("blender.")) {
                cmd.add("-D" + k + "=" + v);
            }
        });
        // a crash report or core dump from a deliberately broken file belongs in the temp dir, not the checkout
        cmd.add("-XX:ErrorFile=" + work.resolve("hs_err_%p.log"));
        cmd.add("-XX:-CreateCoredumpOnCrash");
        cmd.add("-Xmx1g");
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), runner.getName(),
                Long.toString(seed), Integer.toString(from), Integer.toString(to), work.toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectError(stderr.toFile());
        // ggml's abort handler would otherwise attach gdb for a backtrace, seconds per crash
        pb.environment().put("GGML_NO_BACKTRACE", "1");
        Process p = pb.start();
        Child child = new Child();
        AtomicLong progress = new AtomicLong(System.nanoTime());
        AtomicReference<IOException> readError = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    progress.set(System.nanoTime());
                    if (line.startsWith("CASE ")) {
                        child.lastCaseLine = line.substring(5);
                        child.lastCase = Integer.parseInt(line.substring(5, line.indexOf(' ', 5)));
                    } else if (line.startsWith("BUG ")) {
                        child.bugs.add("BUG seed " + seed + " case " + child.lastCaseLine + "\n    " + line.substring(4));
                    } else if (line.startsWith("OUTCOME ")) {
                        child.outcomes.merge(line.substring(8), 1, Integer::sum);
                    } else if (line.equals("DONE")) {
                        child.done = true;
                    }
                }
            } catch (IOException e) {
                readError.set(e);
            }
        });
        while (!p.waitFor(1, TimeUnit.SECONDS)) {
            if (System.nanoTime() - progress.get() > TimeUnit.MILLISECONDS.toNanos(STALL_MILLIS)) {
                child.hung = true;
                p.destroyForcibly().waitFor();
                break;
            }
        }
        reader.join(10_000);
        if (readError.get() != null) {
            throw readError.get();
        }
        child.exit = p.exitValue();
        if (!child.done) {
            String err = Files.readString(stderr, StandardCharsets.ISO_8859_1);
            child.stderrTail = (err.substring(Math.max(0, err.length() - 1500)).strip() + jvmCrash(work))
                    .replace("\n", "\n    ");
        }
        return child;
    }

    /** The signal and native frame of a crash the JVM caught (a SIGSEGV): its report goes to a file, not stderr. */
    private static String jvmCrash(Path work) throws IOException {
        try (var files = Files.list(work)) {
            for (Path report : files.filter(f -> f.getFileName().toString().startsWith("hs_err_")).toList()) {
                List<String> lines = Files.readAllLines(report, StandardCharsets.ISO_8859_1);
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < Math.min(lines.size(), 40); i++) {
                    String l = lines.get(i);
                    if (l.matches("#\\s+SIG[A-Z]+ .*") || (i > 0 && lines.get(i - 1).startsWith("# Problematic frame"))) {
                        b.append("\n").append(l);
                    }
                }
                return b.toString();
            }
        }
        return "";
    }
}
