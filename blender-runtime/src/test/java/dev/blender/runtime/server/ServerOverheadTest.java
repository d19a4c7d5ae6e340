package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Map;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * What serving over HTTP adds, measured on loopback in one run against the same blends called in
 * process: per request (non-streamed, medians over the same seeded requests, in-process and HTTP
 * alternating so that both see the same machine) and per streamed token (the time between SSE chunks
 * as the client reads them against the time between the token callbacks in process). Prints the
 * figures the README quotes. Speed is not asserted here (these machines are noisy); what is asserted is
 * that both paths give the same answers, so the figures compare like with like.
 */
class ServerOverheadTest {
    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    static List<Double> gaps(List<Long> nanos) {
        List<Double> out = new ArrayList<>();
        for (int i = 1; i < nanos.size(); i++) {
            out.add((nanos.get(i) - nanos.get(i - 1)) / 1e6);
        }
        return out;
    }

    /** A minimal keep-alive HTTP client on one blocking socket: the server's cost without a client library's. */
    static final class RawClient implements AutoCloseable {
        private final Socket socket;
        private final DataInputStream in;

        RawClient(BlenderServer server) throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), server.port());
            socket.setTcpNoDelay(true);
            in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        }

        String post(String path, String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            socket.getOutputStream().write(("POST /v1" + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + b.length
                    + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            int length = -1;
            for (String line = line(); !line.isEmpty(); line = line()) {
                if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                    length = Integer.parseInt(line.substring(15).strip());
                }
            }
            byte[] reply = new byte[length];
            in.readFully(reply);
            return new String(reply, StandardCharsets.UTF_8);
        }

        private String line() throws IOException {
            StringBuilder b = new StringBuilder();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new IOException("connection closed");
                }
                if (c != '\r') {
                    b.append((char) c);
                }
            }
            return b.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Test
    void perRequestOverheadOfTheServer() throws Exception {
        String[] prompts = {"17+62=", "37+48=", "85+95=", "91-45=", "12+34="};
        try (Blender blender = ServerTestSupport.arithBlender().build();
             BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender));
             HttpClient http = ServerTestSupport.client();
             RawClient raw = new RawClient(server)) {
            List<Double> local = new ArrayList<>();
            List<Double> overHttp = new ArrayList<>();
            List<Double> outsideBlend = new ArrayList<>(); // HttpClient's round trip minus the blend's own time
            List<Double> outsideBlendRaw = new ArrayList<>();
            for (int round = 0; round < 6; round++) { // round 0 warms the contexts and the judge's pair cache
                for (int i = 0; i < prompts.length; i++) {
                    BlendRequest r = BlendRequest.builder().prompt(prompts[i]).seed(i + 1).strategy(Strategy.FULL_BLEND).build();
                    String body = ServerTestSupport.chat(prompts[i], "\"seed\": " + (i + 1));
                    long t0 = System.nanoTime();
                    String inProcess = blender.blend(r).answer();
                    long t1 = System.nanoTime();
                    JsonNode reply = ServerTestSupport.post(http, server, "/chat/completions", body).json();
                    long t2 = System.nanoTime();
                    JsonNode rawReply = ServerTestSupport.readJson(raw.post("/chat/completions", body));
                    long t3 = System.nanoTime();
                    assertEquals(inProcess, reply.get("choices").get(0).get("message").get("content").asText());
                    assertEquals(inProcess, rawReply.get("choices").get(0).get("message").get("content").asText());
                    if (round > 0) {
                        local.add((t1 - t0) / 1e6);
                        overHttp.add((t2 - t1) / 1e6);
                        outsideBlend.add((t2 - t1) / 1e6 - blendMillis(reply));
                        outsideBlendRaw.add((t3 - t2) / 1e6 - blendMillis(rawReply));
                    }
                }
            }
            double l = median(local);
            double h = median(overHttp);
            System.out.printf(Locale.ROOT, "server overhead per request (full-blend, arith, %d requests, medians):"
                    + " in process %.2f ms, over HTTP (java.net.http) %.2f ms, +%.2f ms; round trip minus the"
                    + " blend's own time: %.2f ms with java.net.http, %.2f ms with a bare socket client%n",
                    local.size(), l, h, h - l, median(outsideBlend), median(outsideBlendRaw));
        }
    }

    static double blendMillis(JsonNode completion) {
        return completion.get("blender").get("timings").get("total_ms").asDouble();
    }

    @Test
    void perTokenOverheadOfAStream() throws Exception {
        Path model = TestModels.generated("server-slow", SyntheticLlama.builder().weightSeed(7).vocabularySeed(3)
                .contextLength(8192).build());
        int tokens = 200;
        try (Blender blender = Blender.builder().generator(model).strategy(Strategy.SINGLE).contextSize(512)
                .maxTokens(tokens).answerSampler(SamplerOptions.greedy())
                .modelOptions(ModelOptions.defaults().withThreads(1)).build();
             BlenderServer server = ServerTestSupport.start(BlenderServer.builder(blender));
             HttpClient http = ServerTestSupport.client()) {
            List<Double> localGaps = new ArrayList<>();
            List<Double> remoteGaps = new ArrayList<>();
            double[] perToken = new double[2];
            for (int round = 0; round < 4; round++) { // round 0 warms up
                List<Long> at = new ArrayList<>();
                blender.blend(BlendRequest.of("Once upon a time"), new dev.blender.runtime.pipeline.BlendListener() {
                    @Override
                    public void onAnswer(String text) {
                        if (!text.isEmpty()) {
                            at.add(System.nanoTime());
                        }
                    }
                });
                List<Long> chunks = new ArrayList<>();
                HttpRequest req = HttpRequest.newBuilder(URI.create(server.baseUrl() + "/chat/completions"))
                        .POST(HttpRequest.BodyPublishers.ofString(ServerTestSupport.chat("Once upon a time",
                                "\"stream\": true"))).build();
                HttpResponse<java.io.InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
                try (BufferedReader in = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        if (line.startsWith("data: {") && line.contains("\"content\":\"") && !line.contains("\"role\"")) {
                            chunks.add(System.nanoTime());
                        }
                    }
                }
                assertTrue(chunks.size() > tokens / 2, "text pieces streamed: " + chunks.size());
                if (round > 0) {
                    localGaps.addAll(gaps(at));
                    remoteGaps.addAll(gaps(chunks));
                    perToken[0] += (at.getLast() - at.getFirst()) / 1e6 / (at.size() - 1);
                    perToken[1] += (chunks.getLast() - chunks.getFirst()) / 1e6 / (chunks.size() - 1);
                }
            }
            double l = median(localGaps);
            double h = median(remoteGaps);
            System.out.printf(Locale.ROOT, "server overhead per streamed token (%d tokens x 3 requests): median gap"
                    + " in process %.3f ms, over HTTP %.3f ms, +%.3f ms; mean per token %.3f vs %.3f ms%n",
                    tokens, l, h, h - l, perToken[0] / 3, perToken[1] / 3);
        }
    }

    /**
     * The server's own work per streamed token, without the client: making the chunk and writing it to
     * a loopback socket whose other end a thread reads. What is asserted is what the work is: one SSE
     * event per token, each carrying the token's text and read back whole, and a bounded allocation per
     * token (the decoding thread's own bytes, counted by the JVM, not timed). The time it takes is printed.
     */
    @Test
    void serverSideCostOfAStreamedToken() throws Exception {
        int n = 20_000;
        int rounds = 4; // round 0 warms up
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort());
             Socket server = listener.accept()) {
            server.setTcpNoDelay(true);
            long[] events = new long[2]; // [0] data events, [1] of them with the token's text as their content
            Thread drain = Thread.ofPlatform().start(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        if (line.startsWith("data: ")) {
                            events[0]++;
                            // the answer's leading whitespace is dropped, so the first token comes as "word"
                            if (line.contains("\"content\":\" word\"") || line.contains("\"content\":\"word\"")) {
                                events[1]++;
                            }
                        }
                    }
                } catch (IOException e) {
                    // closed at the end
                }
            });
            dev.blender.runtime.server.HttpRequest post = new dev.blender.runtime.server.HttpRequest("POST",
                    "/v1/chat/completions", "HTTP/1.1", Map.of(), new byte[0]);
            Exchange ex = new Exchange(post, null, new BufferedOutputStream(server.getOutputStream()), () -> false);
            ObjectMapper mapper = new ObjectMapper();
            CompletionRequest req = new CompletionRequest(CompletionRequest.Kind.CHAT, "blender", BlendRequest.of("x"),
                    1, true, false, false, null, false);
            EventStream stream = new EventStream(ex, req, new Responses(mapper), mapper, "chatcmpl-x", 1);
            com.sun.management.ThreadMXBean threads =
                    (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            List<Double> micros = new ArrayList<>();
            List<Double> bytesPerToken = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                long a0 = threads.getCurrentThreadAllocatedBytes();
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    stream.onAnswer(" word");
                }
                long t1 = System.nanoTime();
                long a1 = threads.getCurrentThreadAllocatedBytes();
                if (round > 0) {
                    micros.add((t1 - t0) / 1e3 / n);
                    bytesPerToken.add((double) (a1 - a0) / n);
                }
            }
            server.getOutputStream().flush();
            server.shutdownOutput();
            drain.join();
            assertEquals((long) n * rounds, events[1], "one event with the token's text per token");
            assertEquals(1, events[0] - events[1], "no other event but the opening one with the role");
            double bytes = median(bytesPerToken);
            // about 2.5 KB a token when this was written (the chunk's tree, its JSON text and bytes); 16 KiB would
            // mean a per-token copy of something that should be made once per stream
            assertTrue(bytes < 16 * 1024, "allocated per streamed token: " + bytes + " bytes");
            System.out.printf(Locale.ROOT, "server-side cost per streamed token (chunk made and written, %d x 3):"
                    + " %.1f us, %.0f bytes allocated%n", n, median(micros), bytes);
        }
    }
}
