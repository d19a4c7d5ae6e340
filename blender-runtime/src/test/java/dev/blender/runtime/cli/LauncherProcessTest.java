package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The shell launchers ({@code bin/blender} and {@code ./blender}) as a user or a service manager runs them.
 * They run in a copy of the checkout's layout whose {@code blender.jar} is a manifest naming this test's
 * classes, so that the launcher finds its jar current and starts the code under test without building.
 */
class LauncherProcessTest {
    private static final long START_SECONDS = 120;
    private static final long STOP_SECONDS = 10;

    @TempDir
    Path dir;

    /** A checkout-shaped folder: the launchers and a jar whose manifest runs {@link BlenderCli} on the test classpath. */
    private Path checkout() throws IOException {
        Path root = dir.resolve("checkout");
        Files.createDirectories(root.resolve("bin"));
        for (String script : List.of("bin/blender", "bin/with-jdk", "blender")) {
            Files.copy(Path.of("..").resolve(script), root.resolve(script), StandardCopyOption.COPY_ATTRIBUTES);
        }
        Manifest manifest = new Manifest();
        Attributes main = manifest.getMainAttributes();
        main.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        main.put(Attributes.Name.MAIN_CLASS, BlenderCli.class.getName());
        List<String> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!entry.isBlank()) {
                urls.add(Path.of(entry).toAbsolutePath().toUri().toString()); // folders end in '/', as Class-Path needs
            }
        }
        main.put(Attributes.Name.CLASS_PATH, String.join(" ", urls));
        Path jar = Files.createDirectories(root.resolve("blender-runtime/target")).resolve("blender.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, manifest)) {
            // the manifest is the whole jar
        }
        return root;
    }

    private ProcessBuilder launcher(Path root, String launcher, String... args) {
        List<String> command = new ArrayList<>(List.of(root.resolve(launcher).toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("BLENDER_SHARED", TestModels.shared().toString());
        return pb;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bin/blender", "blender"})
    void aPlainRunWritesNothingToStderr(String launcher) throws Exception {
        Path root = checkout();
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = launcher(root, launcher, "--version").redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            assertTrue(p.waitFor(START_SECONDS, TimeUnit.SECONDS), "--version did not finish");
            assertEquals(0, p.exitValue(), Files.readString(err));
            assertTrue(Files.readString(out).startsWith("blender "), Files.readString(out));
            assertEquals("", Files.readString(err), "the JVM's incubator notice is dropped, nothing else is written");
            Process bad = launcher(root, launcher, "run", "--seed", "many", "x").redirectOutput(out.toFile())
                    .redirectError(err.toFile()).start();
            assertTrue(bad.waitFor(START_SECONDS, TimeUnit.SECONDS));
            assertEquals(2, bad.exitValue(), "java's exit status is the launcher's");
            assertTrue(Files.readString(err).contains("--seed"), "an error still reaches stderr: " + Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }

    /**
     * SIGTERM to the launcher's pid, as {@code kill PID} or a service manager sends it, stops the server: the
     * pid is the JVM's, so its shutdown hook runs, and nothing the launcher started stays behind.
     */
    @ParameterizedTest
    @ValueSource(strings = {"bin/blender", "blender"})
    void sigtermToTheLauncherStopsTheServer(String launcher) throws Exception {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        Path root = checkout();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again for the server to take
        }
        Path out = dir.resolve("serve-out.txt");
        Path err = dir.resolve("serve-err.txt");
        Process p = launcher(root, launcher, "serve", "--port", Integer.toString(port)).redirectOutput(out.toFile())
                .redirectError(err.toFile()).start();
        List<ProcessHandle> started = new ArrayList<>();
        URI health = URI.create("http://127.0.0.1:" + port + "/health");
        try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).build()) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
            while (status(http, health) != 200) {
                assertTrue(p.isAlive() && System.nanoTime() < end, "not serving: " + Files.readString(out)
                        + Files.readString(err));
                Thread.sleep(50);
            }
            started.add(p.toHandle());
            p.toHandle().descendants().forEach(started::add);

            p.destroy(); // SIGTERM to the pid the launcher was started as

            assertTrue(p.waitFor(STOP_SECONDS, TimeUnit.SECONDS), "the launcher did not end on SIGTERM");
            long end2 = System.nanoTime() + TimeUnit.SECONDS.toNanos(STOP_SECONDS);
            for (ProcessHandle h : started) {
                while (h.isAlive() && System.nanoTime() < end2) {
                    Thread.sleep(20);
                }
                assertFalse(h.isAlive(), "left running after SIGTERM: " + h.pid() + " " + h.info().commandLine()
                        .orElse("?"));
            }
            assertThrows(ConnectException.class, () -> http.send(HttpRequest.newBuilder(health).build(),
                    HttpResponse.BodyHandlers.discarding()), "the port still answers");
            assertEquals(128 + 15, p.exitValue(), "the JVM's status after SIGTERM");
            assertFalse(Files.readString(err).contains("\tat "), Files.readString(err));
            assertFalse(Files.readString(err).contains("WARNING: Using incubator"), Files.readString(err));
        } finally {
            p.destroyForcibly();
            started.forEach(ProcessHandle::destroyForcibly);
        }
    }

    /** The status of GET {@code uri}, or -1 while nothing listens there. */
    private static int status(HttpClient http, URI uri) throws InterruptedException {
        try {
            return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        }
    }
}
