package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs a Node script that imports the official {@code openai} package. The package is not part of the
 * build: {@code .ci/run} installs it into a temporary folder ({@code npm install --prefix DIR openai@7})
 * and names that folder's {@code node_modules} in {@code BLENDER_OPENAI_NODE_MODULES}. Without node or
 * the package, the test is skipped with the reason printed.
 */
final class NodeClient {
    static final String MODULES_VARIABLE = "BLENDER_OPENAI_NODE_MODULES";

    private NodeClient() {}

    record Result(int code, String out, String err) {
        /** The last line of stdout. */
        String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1];
        }
    }

    /** The node_modules folder holding {@code openai}, or the test is skipped. */
    static Path modules() {
        String dir = System.getenv(MODULES_VARIABLE);
        String why = null;
        if (dir == null || dir.isBlank()) {
            why = MODULES_VARIABLE + " is not set (.ci/run installs openai@7 with npm and sets it)";
        } else if (!Files.isRegularFile(Path.of(dir, "openai", "package.json"))) {
            why = MODULES_VARIABLE + "=" + dir + " holds no openai package";
        } else if (!nodeRuns()) {
            why = "node is not on the PATH";
        }
        if (why != null) {
            System.out.println("SKIPPED: the openai client tests: " + why);
        }
        String reason = why;
        assumeTrue(why == null, () -> reason);
        return Path.of(dir);
    }

    private static boolean nodeRuns() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Runs {@code script} (an ES module) with node in a temporary folder beside a link to the
     * {@code openai} package: ES modules find packages only in node_modules folders above them, never
     * through NODE_PATH.
     */
    static Result run(String script, Map<String, String> env) throws IOException, InterruptedException {
        Path modules = modules();
        Path dir = Files.createTempDirectory("blender-openai");
        try {
            Files.createSymbolicLink(dir.resolve("node_modules"), modules.toAbsolutePath());
            Path file = dir.resolve("script.mjs");
            Files.writeString(file, script);
            Path out = dir.resolve("out.txt");
            Path err = dir.resolve("err.txt");
            ProcessBuilder pb = new ProcessBuilder("node", file.toString()).directory(dir.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("node did not finish in 5 minutes; stderr: " + Files.readString(err));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
