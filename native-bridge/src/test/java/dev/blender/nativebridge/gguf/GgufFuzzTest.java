package dev.blender.nativebridge.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.TestModels;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated model files must end in a {@link dev.blender.nativebridge.LlamaException} or load and run; they
 * must never abort the process. Each batch of cases runs in a child JVM ({@link GgufFuzzRunner}), so a
 * native abort is seen here as a dead child whose last printed case is the culprit; the run then goes on
 * from the next case, and every crash, hang or unexpected exception is listed with its seed and index.
 *
 * <p>{@code -Dblender.fuzz.cases} sets the number of cases (the build runs a slice; {@code -Pfuzz} runs
 * many more) and {@code -Dblender.fuzz.seed} the seed. Replay one case with
 * {@code -Dblender.fuzz.seed=S -Dblender.fuzz.from=I -Dblender.fuzz.cases=I+1}.
 */
class GgufFuzzTest {
    private static final long DEFAULT_SEED = 0x6A11_F00DL;
    /** A case that runs this long without finishing is a hang (real cases take milliseconds). */
    private static final long STALL_MILLIS = 120_000;

    @TempDir
    Path dir;

    @Test
    void mutatedModelsNeverCrashTheProcess() throws Exception {
        long seed = Long.getLong("blender.fuzz.seed", DEFAULT_SEED);
        int from = Integer.getInteger("blender.fuzz.from", 0);
        int to = Integer.getInteger("blender.fuzz.cases", 1000);
        List<Path> bases = bases();
        long start = System.nanoTime();
        List<String> failures = new ArrayList<>();
        Map<String, Integer> outcomes = new TreeMap<>();
        int next = from;
        int children = 0;
        while (next < to) {
            Child child = runChild(seed, next, to, bases, ++children);
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
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        System.out.println("GgufFuzzTest: seed " + seed + ", cases " + from + ".." + (to - 1) + " on llama.cpp "
                + LlamaBackend.version() + " (" + LlamaBackend.abi() + ") in " + seconds + " s, " + children
                + " child JVM(s), " + failures.size() + " failure(s); outcomes " + outcomes);
        assertTrue(failures.isEmpty(), failures.size() + " fuzz case(s) failed; replay one with -Dblender.fuzz.seed="
                + seed + " -Dblender.fuzz.from=<case> -Dblender.fuzz.cases=<case+1>:\n" + String.join("\n", failures));
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

    private Child runChild(long seed, int from, int to, List<Path> bases, int n) throws Exception {
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
        // a crash report or core dump from a deliberately broken model belongs in the temp dir, not the checkout
        cmd.add("-XX:ErrorFile=" + work.resolve("hs_err_%p.log"));
        cmd.add("-XX:-CreateCoredumpOnCrash");
        cmd.add("-Xmx1g");
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), GgufFuzzRunner.class.getName(),
                Long.toString(seed), Integer.toString(from), Integer.toString(to), work.toString()));
        bases.forEach(b -> cmd.add(b.toAbsolutePath().toString()));
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
            child.stderrTail = err.substring(Math.max(0, err.length() - 1500)).strip().replace("\n", "\n    ");
        }
        return child;
    }
}
