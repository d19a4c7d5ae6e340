package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.TestModels;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI end to end in a separate JVM, as a user runs it: exit codes, stdout, stdin and the REPL. */
class CliProcessTest {
    private static final long TIMEOUT_SECONDS = 60;

    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}

    /** Runs {@code BlenderCli} in a new JVM with {@code stdin} written to it and then closed. */
    /** The java command line that runs {@code BlenderCli} with these arguments. */
    private static List<String> command(List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.add("--enable-native-access=ALL-UNNAMED");
        command.add("--add-modules=jdk.incubator.vector");
        command.add("-Dblender.shared=" + TestModels.shared());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(BlenderCli.class.getName());
        command.addAll(List.of(args));
        return command;
    }

    private Result cli(String stdin, List<String> jvmOptions, String... args) throws Exception {
        return cli(stdin, Map.of(), jvmOptions, args);
    }

    /** As above, with {@code env} set in the child's environment (an empty value removes the variable). */
    private Result cli(String stdin, Map<String, String> env, List<String> jvmOptions, String... args) throws Exception {
        List<String> command = command(jvmOptions, args);
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command);
        env.forEach((k, v) -> {
            if (v.isEmpty()) {
                pb.environment().remove(k);
            } else {
                pb.environment().put(k, v);
            }
        });
        // files, not pipes: a full pipe nobody reads would hang the child
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            try (OutputStream in = p.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // the child may exit (e.g. on a bad option) before reading its input
            }
            assertTrue(p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS), "blender " + String.join(" ", args)
                    + " did not finish in " + TIMEOUT_SECONDS + " s; stderr: " + Files.readString(err));
            return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }

    private Result cli(String stdin, String... args) throws Exception {
        return cli(stdin, List.of(), args);
    }

    @Test
    void helpListsTheSubcommands() throws Exception {
        Result r = cli("", "--help");
        assertEquals(0, r.code(), r.err());
        for (String sub : new String[] {"run", "chat", "serve", "blend", "eval", "bench", "inspect"}) {
            assertTrue(r.out().contains("  " + sub + " "), sub + " in\n" + r.out());
        }
    }

    @Test
    void runPrintsTheBlendedAnswer() throws Exception {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        Result r = cli("", "run", "--strategy", "TOKEN_COMBINE", "17+62=");
        assertEquals(0, r.code(), r.err());
        assertEquals("79", r.out().strip(), "README: log-linear mix answers 79");
        assertTrue(r.err().contains("[token-combine"), r.err());
    }

    /** The history goes where the rest of blender's cache goes: $XDG_CACHE_HOME/blender when it is set. */
    @Test
    void chatReadsPipedInputAndKeepsHistoryInTheCacheFolder() throws Exception {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        Path home = dir.resolve("home");
        Path xdg = dir.resolve("xdg-cache");
        Result r = cli("/strategy SINGLE\n17+62=\n/stats\n/strategy TOKEN_COMBINE\n17+62=\n",
                Map.of("XDG_CACHE_HOME", xdg.toString()), List.of("-Duser.home=" + home), "chat");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("blend> 80\n") && r.out().contains("blend> 79\n"), r.out());
        assertTrue(r.out().contains("last (single): sampling") && r.out().contains("session: 1 requests"), r.out());
        assertFalse(r.out().contains("\u001b"), "no escape codes when stdin is a pipe: " + r.out());
        assertFalse(r.err().contains("\tat "), r.err());
        Path history = xdg.resolve("blender/chat_history");
        assertTrue(Files.readString(history).contains("/strategy TOKEN_COMBINE"), "history in " + history);
        assertFalse(Files.exists(home.resolve(".cache")), "nothing under ~/.cache when XDG_CACHE_HOME is set");
    }

    /** -Dblender.cache.dir moves the history with the cache; without it or XDG_CACHE_HOME it is under ~/.cache/blender. */
    @Test
    void chatHistoryFollowsTheCacheProperty() throws Exception {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        Path home = dir.resolve("home2");
        Path cache = dir.resolve("moved-cache");
        Result moved = cli("/quit\n", Map.of("XDG_CACHE_HOME", dir.resolve("unused").toString()),
                List.of("-Duser.home=" + home, "-Dblender.cache.dir=" + cache), "chat");
        assertEquals(0, moved.code(), moved.err());
        assertTrue(Files.readString(cache.resolve("chat_history")).contains("/quit"), "history in " + cache);
        Result plain = cli("/quit\n", Map.of("XDG_CACHE_HOME", ""), List.of("-Duser.home=" + home), "chat");
        assertEquals(0, plain.code(), plain.err());
        assertTrue(Files.exists(home.resolve(".cache/blender/chat_history")), "the default under the home folder");
    }

    /** The README's {@code ./blender serve} line (on a free port) until SIGTERM, as a service manager stops it. */
    @Test
    void serveAsTheReadmeStartsItAnswersUntilStopped() throws Exception {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        String line = Files.readAllLines(Path.of("../README.md")).stream().map(String::strip)
                .filter(l -> l.startsWith("./blender serve ")).findFirst().orElseThrow();
        List<String> args = new ArrayList<>(List.of(line.substring("./blender ".length()).split(" +")));
        args.set(args.indexOf("--port") + 1, "0");
        Path out = dir.resolve("serve-out.txt");
        Path err = dir.resolve("serve-err.txt");
        Process p = new ProcessBuilder(command(List.of(), args.toArray(String[]::new))).redirectOutput(out.toFile())
                .redirectError(err.toFile()).start();
        try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (!Files.readString(out).contains("blender: ready\n")) {
                assertTrue(p.isAlive() && System.nanoTime() < end, "not ready: " + Files.readString(out)
                        + Files.readString(err));
                Thread.sleep(20);
            }
            Matcher url = Pattern.compile("serving (http://\\S+)/v1 ").matcher(Files.readString(out));
            assertTrue(url.find(), Files.readString(out));
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(url.group(1) + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode(), health.body());
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(url.group(1)
                    + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"answerer-a.gguf\","
                    + " \"messages\": [{\"role\": \"user\", \"content\": \"17+62=\"}]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(answer.body().contains("\"content\":\"80\""), "README: answerer-a alone answers 80: "
                    + answer.body());
            p.destroy(); // SIGTERM: the shutdown hook closes the server, then the models
            assertTrue(p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
            assertEquals(128 + 15, p.exitValue(), "the JVM's status after SIGTERM");
            assertFalse(Files.readString(err).contains("\tat "), Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aBadOptionIsExitCodeTwo() throws Exception {
        Result r = cli("", "run", "--seed", "many", "x");
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains("--seed") && !r.err().contains("\tat "), r.err());
    }

    @Test
    void doctorDescribesTheLibraryInUse() throws Exception {
        Result r = cli("", "doctor", "--json");
        assertEquals(0, r.code(), r.err());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        // the child inherits this JVM's choice of library, so it must report the same ABI and version
        assertEquals(dev.blender.nativebridge.LlamaBackend.abi().version(), json.path("abi").asText(), r.out());
        assertEquals(dev.blender.nativebridge.LlamaBackend.version(), json.path("version").asText(), r.out());
        assertTrue(Files.isRegularFile(Path.of(json.path("library").asText())), r.out());
        boolean cpu = false;
        for (var d : json.path("devices")) {
            cpu |= d.path("kind").asText().equals("CPU") && d.path("totalBytes").asLong() > 0;
        }
        assertTrue(cpu, "a CPU device with its memory: " + r.out());
        assertEquals(dev.blender.nativebridge.CpuTopology.physicalCores(), json.path("automaticThreads").asInt(),
                "the default thread count is the physical cores: " + r.out());
        // the JDK's own notice about the Vector API module is the only line allowed on stderr
        assertEquals("", r.err().replace("WARNING: Using incubator modules: jdk.incubator.vector", "").strip(),
                "nothing on stderr");
        Result text = cli("", "doctor");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("llama.cpp   " + json.path("version").asText()), text.out());
    }

    @Test
    void aLibraryThatCannotBeUsedIsExplainedNotAStackTrace() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("no-natives"));
        List<String> bad = List.of("-Dblender.llama.library=" + empty);
        Result doctor = cli("", bad, "doctor");
        assertEquals(1, doctor.code(), doctor.out() + doctor.err());
        assertTrue(doctor.out().contains("NOT LOADED") && doctor.out().contains("no libllama")
                && doctor.out().contains("natives install"), doctor.out());
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        Result run = cli("", bad, "run", "--strategy", "SINGLE", "17+62=");
        assertEquals(2, run.code(), run.out() + run.err());
        assertTrue(run.err().lines().anyMatch(l -> l.startsWith("blender: ") && l.contains("no libllama")), run.err());
        assertFalse(run.err().contains("Exception"), run.err());
    }

    @Test
    void evalPrintsNothingOnStderrButItsProgress() throws Exception {
        TestModels.sharedFile("models/arith/answerer-a.gguf");
        Result r = cli("", "eval", "--limit", "1");
        assertEquals(0, r.code(), r.err());
        // the embedding row loads ONNX Runtime, which logs through SLF4J: no "no provider" warnings
        String rest = r.err().replace("WARNING: Using incubator modules: jdk.incubator.vector", "")
                .replaceAll("\\[[# ]*\\][^\\n]*", "").strip();
        assertEquals("", rest, "stderr holds only the progress bar");
        assertTrue(r.out().contains("member:answerer-a"), r.out());
    }
    /** A recipe of the arith settings whose two generators are servers at {@code urls}, with only {@code rows}. */
    private Path remoteRecipe(List<String> urls, String... rows) throws IOException {
        StringBuilder models = new StringBuilder();
        for (int i = 0; i < urls.size(); i++) {
            models.append(i == 0 ? "" : ",").append("{\"url\": \"").append(urls.get(i)).append("\", \"name\": \"server-")
                    .append((char) ('a' + i)).append("\", \"api\": \"completions\", \"retries\": 0,"
                            + " \"timeoutSeconds\": 5}");
        }
        String json = "{\"models\": [" + models + "], \"generatorPrompt\": \"Q: {prompt} A:\", \"maxTokens\": 8,"
                + " \"contextSize\": 64, \"eval\": {\"name\": \"arith\", \"checker\": \"exact\", \"compositions\": [\""
                + String.join("\", \"", rows) + "\"]}}";
        return Files.writeString(dir.resolve("remote.recipe.json"), json);
    }

    /** Stderr without the JVM's incubator warning and the progress bar (a non-empty bar: "content[]" is text). */
    private static String withoutProgress(String err) {
        return err.replace("WARNING: Using incubator modules: jdk.incubator.vector", "")
                .replaceAll("\\[[# ]+\\][^\\n]*", "").strip();
    }

    @Test
    void evalWithAServerThatDoesNotAnswerIsOneLineNamingIt() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        Path recipe = remoteRecipe(List.of("http://127.0.0.1:" + port + "/v1"), "member:server-a");
        Result r = cli("", "eval", "--recipe", recipe.toString(), "--problems",
                TestModels.sharedFile("data/arith/dev.jsonl").toString(), "--limit", "2");
        assertEquals(1, r.code(), r.out() + r.err());
        String err = withoutProgress(r.err());
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("blender: row member:server-a, problem 1"), err);
        assertTrue(err.contains("server-a: cannot reach http://127.0.0.1:" + port + "/v1"), err);
    }

    @Test
    void evalMixingOverServersWithoutLogprobsIsOneLineSayingWhatWasMissing() throws Exception {
        // answers as llama.cpp's server did when it sent no log-probabilities (completion-plain.http)
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/v1/", x -> {
            try (x) {
                x.getRequestBody().readAllBytes();
                byte[] b = ("{\"choices\":[{\"text\":\" 85\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                        + "\"object\":\"text_completion\",\"usage\":{\"completion_tokens\":4,\"prompt_tokens\":14}}")
                        .getBytes(StandardCharsets.UTF_8);
                x.getResponseHeaders().set("Content-Type", "application/json");
                x.sendResponseHeaders(200, b.length);
                x.getResponseBody().write(b);
            }
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
            Path recipe = remoteRecipe(List.of(url, url), "token:loglinear");
            Result r = cli("", "eval", "--recipe", recipe.toString(), "--problems",
                    TestModels.sharedFile("data/arith/dev.jsonl").toString(), "--limit", "2");
            assertEquals(1, r.code(), r.out() + r.err());
            String err = withoutProgress(r.err());
            assertEquals(1, err.lines().count(), err);
            assertTrue(err.startsWith("blender: row token:loglinear, problem 1"), err);
            for (String member : List.of("server-a", "server-b")) {
                assertTrue(err.contains(member + ": server " + url + " at /v1/completions returned no log-probabilities"),
                        err);
            }
            assertTrue(err.contains("choices[0].logprobs is null"), err);
            assertFalse(err.contains("Exception"), err);
        } finally {
            server.stop(0);
        }
    }
}
