package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import dev.blender.runtime.pipeline.ArithBlenders;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Composition;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The arith recipe with its answerers served by llama.cpp's own {@code llama-server}, against the same recipe
 * run locally: greedy member rows within 1 point, the per-token log-linear mix within 2. Opt-in: runs only
 * where {@code BLENDER_LLAMA_SERVER} names a llama-server binary (CI sets none; building one takes long), on
 * the first {@code BLENDER_LLAMA_SERVER_PROBLEMS} dev problems (default 100).
 */
class LlamaServerMembersTest {
    static final String ENV = "BLENDER_LLAMA_SERVER";
    static final List<String> ROWS = List.of("member:answerer-a", "member:answerer-b", "token:loglinear");
    static final Duration STARTUP = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** A llama-server on loopback serving one model, its output in a file (a full pipe would stall it). */
    record Served(Process process, int port, Path log) implements AutoCloseable {
        String baseUrl() {
            return "http://127.0.0.1:" + port + "/v1";
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    Served start(Path binary, Path model) throws IOException, InterruptedException {
        int port = freePort();
        Path log = dir.resolve(model.getFileName() + ".log");
        Process p = new ProcessBuilder(binary.toString(), "-m", model.toString(), "--host", "127.0.0.1", "--port",
                String.valueOf(port), "-c", "256", "-np", "1", "-t", "1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Served s = new Served(p, port, log);
        try (HttpClient http = OpenAiClient.newHttpClient()) {
            long deadline = System.nanoTime() + STARTUP.toNanos();
            while (true) {
                if (!p.isAlive()) {
                    throw new AssertionError("llama-server exited (" + p.exitValue() + ") serving " + model + ": "
                            + tail(log));
                }
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                            + "/health")).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        return s; // 503 while the model loads
                    }
                } catch (IOException e) {
                    // not listening yet
                }
                if (System.nanoTime() > deadline) {
                    s.close();
                    throw new AssertionError("llama-server serving " + model + " was not healthy within " + STARTUP
                            + ": " + tail(log));
                }
                Thread.sleep(100);
            }
        } catch (AssertionError | InterruptedException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    static String tail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() <= 2000 ? s : s.substring(s.length() - 2000);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Test
    void theArithRecipeOverLlamaServerAgreesWithTheLocalOne() throws Exception {
        String binary = System.getenv(ENV);
        Assumptions.assumeTrue(binary != null && !binary.isBlank(), ENV + " is not set: set it to a llama-server"
                + " binary to evaluate remote members against llama.cpp's own server");
        Path server = Path.of(binary);
        assertTrue(Files.isExecutable(server), ENV + "=" + binary + " is not an executable file");
        String count = System.getenv("BLENDER_LLAMA_SERVER_PROBLEMS");
        int n = count == null || count.isBlank() ? 100 : Integer.parseInt(count.strip());
        List<Problem> problems = Problem.readJsonl(TestModels.sharedFile("data/arith/dev.jsonl"), n);
        List<Composition> rows = ROWS.stream().map(Composition::named).toList();

        RemoteBlendEvalTest.Run local;
        try (Blender blender = Recipe.load(RemoteBlendEvalTest.arithRecipe(dir.resolve("local.json"), ROWS, models -> {
            models.addObject().put("path", ArithBlenders.arith("answerer-a").toString()).put("role", "generator");
            models.addObject().put("path", ArithBlenders.arith("answerer-b").toString()).put("role", "generator");
        }), null).config().build()) {
            local = RemoteBlendEvalTest.evaluate(blender, rows, problems);
        }

        RemoteBlendEvalTest.Run remote;
        List<Served> servers = new ArrayList<>();
        try {
            servers.add(start(server, ArithBlenders.arith("answerer-a")));
            servers.add(start(server, ArithBlenders.arith("answerer-b")));
            Path file = RemoteBlendEvalTest.arithRecipe(dir.resolve("remote.json"), ROWS, models -> {
                for (int i = 0; i < 2; i++) {
                    models.addObject().put("url", servers.get(i).baseUrl()).put("name", "answerer-" + (char) ('a' + i))
                            .put("api", "completions").put("retries", 0);
                }
            });
            Recipe r = Recipe.load(file, null);
            try (Blender blender = r.config().build()) {
                remote = RemoteBlendEvalTest.evaluate(blender, r.compositionsFor(blender.config()), problems);
            }
        } finally {
            for (Served s : servers) {
                s.close();
            }
        }
        RemoteBlendEvalTest.report(", answerers behind llama-server", local, remote, ROWS, problems.size());
        for (String member : List.of("member:answerer-a", "member:answerer-b")) {
            assertEquals(local.row(member).accuracy().value(), remote.row(member).accuracy().value(), 0.01 + 1e-9,
                    member);
        }
        assertEquals(local.row("token:loglinear").accuracy().value(),
                remote.row("token:loglinear").accuracy().value(), 0.02 + 1e-9, "token:loglinear");
    }
}
