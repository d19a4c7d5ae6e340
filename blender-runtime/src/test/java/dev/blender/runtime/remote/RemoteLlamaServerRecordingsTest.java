package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.generation.FinishReason;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Remote members against what llama.cpp's own {@code llama-server} (v0.5.0) really answered, replayed from the
 * exchanges recorded in {@code shared/data/openai-servers/llama-server-v0.5.0}: log-probabilities in the chat
 * shape on {@code /v1/completions}, the end of generation as a token with no text, its error bodies.
 */
class RemoteLlamaServerRecordingsTest {
    static final String DIR = "data/openai-servers/llama-server-v0.5.0/";

    /** One recorded exchange: the request's body and the response's status and body. */
    record Exchange(String path, JsonNode request, int status, String body) {
        static Exchange read(String name) {
            try {
                String all = Files.readString(TestModels.sharedFile(DIR + name));
                String first = all.substring(0, all.indexOf('\n'));
                String url = first.substring(2, first.indexOf(' ', 2));
                int d = first.indexOf(" -d ");
                JsonNode request = null;
                if (d >= 0) {
                    try {
                        request = RemoteResponsesTest.JSON.readTree(first.substring(d + 4));
                    } catch (IOException e) {
                        // a request recorded for being malformed (error-bad-json)
                    }
                }
                String response = all.substring(first.length() + 1);
                int status = Integer.parseInt(response.substring(response.indexOf(' ') + 1, response.indexOf(' ') + 4));
                // the response as received: CRLF after the status line and headers
                int split = response.indexOf("\r\n\r\n");
                if (split < 0) {
                    throw new AssertionError(name + ": no blank line after the response's headers");
                }
                return new Exchange(java.net.URI.create(url).getPath(), request, status, response.substring(split + 4).strip());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        JsonNode json() {
            try {
                return RemoteResponsesTest.JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    HttpServer server;
    HttpClient http;
    /** What the replaying server answers to a prompt (or a chat's last message) on any endpoint. */
    final Map<String, Exchange> byPrompt = new ConcurrentHashMap<>();
    final List<String> asked = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/v1/", x -> {
            try (x) {
                JsonNode body = RemoteResponsesTest.JSON.readTree(x.getRequestBody());
                String prompt = body.has("prompt") ? body.path("prompt").asText()
                        : body.path("messages").path(body.path("messages").size() - 1).path("content").asText();
                asked.add(prompt);
                Exchange e = byPrompt.get(prompt);
                int status = e == null ? 404 : e.status();
                // llama.cpp's own shape of an error, for a prompt nothing was recorded for
                byte[] out = (e == null ? "{\"error\":{\"code\":404,\"message\":\"nothing recorded for this prompt\","
                        + "\"type\":\"not_found_error\"}}" : e.body()).getBytes(StandardCharsets.UTF_8);
                x.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
                x.getResponseHeaders().set("Server", "llama.cpp");
                x.sendResponseHeaders(status, out.length);
                x.getResponseBody().write(out);
            }
        });
        server.start();
        http = OpenAiClient.newHttpClient();
    }

    @AfterEach
    void stop() {
        http.close();
        server.stop(0);
    }

    OpenAiClient client(RemoteEndpoint.Api api) {
        return new OpenAiClient(RemoteEndpoint.of("http://127.0.0.1:" + server.getAddress().getPort() + "/v1", null)
                .withApi(api).withRetries(0), null, http);
    }

    /** Replays {@code name} to the prompt it was recorded for. */
    Exchange serve(String name) {
        Exchange e = Exchange.read(name);
        JsonNode r = e.request();
        byPrompt.put(r.has("prompt") ? r.get("prompt").asText() : r.get("messages").get(0).get("content").asText(), e);
        return e;
    }

    static RemoteRequest ask(String prompt, int logprobs) {
        return RemoteRequest.text(prompt, 1, List.of(), null, logprobs);
    }

    @Test
    void completionsInTheChatShapeAreReadPositionByPositionWithTheEndAsAnAlternative() {
        serve("completion-logprobs.http");
        RemoteCompletion c = client(RemoteEndpoint.Api.COMPLETIONS).completeWithLogprobs(ask("Q: 37+48= A:", 5), () -> false);
        assertEquals(" 85", c.text());
        assertEquals(FinishReason.LENGTH, c.finishReason());
        assertEquals(Logprobs.Shape.CHAT, c.logprobs().shape(), "llama.cpp's completions answer in the chat shape");
        List<Logprobs.Position> at = c.logprobs().positions();
        assertEquals(List.of(" ", "8", "5"), at.stream().map(p -> p.chosen().token()).toList());
        assertEquals(List.of(" ", "5", "4", "0", "3"), c.top().stream().map(TokenLogprob::token).toList(),
                "the chosen token is listed once");
        assertArrayEquals(new byte[] {32}, c.top().get(0).bytes());
        assertEquals(-0.002034765901044011, c.top().get(0).logprob(), 1e-15);
        assertTrue(at.stream().flatMap(p -> p.top().stream()).filter(t -> !t.token().isEmpty()).noneMatch(TokenLogprob::isEnd));
        // at "Q: 37+48= A: 8" the model's end of generation (id 2, no text) is its fourth choice
        TokenLogprob end = at.get(1).top().get(3);
        assertTrue(end.isEnd(), at.get(1).top().toString());
        assertEquals(-6.861329078674316, end.logprob(), 1e-15);
        assertEquals(0, end.bytes().length);
    }

    @Test
    void theEndAsTheChosenTokenWithNoTextIsTheEnd() {
        serve("completion-logprobs-at-eos.http");
        RemoteCompletion c = client(RemoteEndpoint.Api.COMPLETIONS).completeWithLogprobs(ask("Q: 37+48= A: 85", 3), () -> false);
        assertEquals("", c.text());
        assertEquals(FinishReason.END_OF_GENERATION, c.finishReason());
        Logprobs.Position p = c.logprobs().positions().get(0);
        assertTrue(p.chosen().isEnd(), p.toString());
        assertEquals(List.of(true, false, false), c.top().stream().map(TokenLogprob::isEnd).toList());
        assertEquals(-0.0017646615160629153, c.top().get(0).logprob(), 1e-15);
        assertEquals("N", c.top().get(2).token());
    }

    @Test
    void chatCompletionsAreReadTheSameWay() {
        serve("chat-logprobs.http");
        RemoteRequest r = new RemoteRequest(List.of(dev.blender.nativebridge.ChatMessage.user("37+48=")), "37+48=",
                0f, 1f, 3, List.of(), null, 3);
        RemoteCompletion c = client(RemoteEndpoint.Api.CHAT).completeWithLogprobs(r, () -> false);
        assertEquals("0", c.text());
        assertEquals(2, c.logprobs().positions().size());
        assertFalse(c.logprobs().positions().get(0).chosen().isEnd());
        assertTrue(c.top().get(1).isEnd(), "the end was the first alternative to '0'");
        assertTrue(c.logprobs().positions().get(1).chosen().isEnd(), "then chosen");
        assertEquals(58, c.promptTokens());
    }

    @Test
    void anAnswerWithoutLogprobsWhereTheyWereAskedForFailsNamingTheServerAndWhatWasMissing() {
        Exchange plain = serve("completion-plain.http");
        OpenAiClient client = client(RemoteEndpoint.Api.COMPLETIONS);
        RemoteException e = assertThrows(RemoteException.class,
                () -> client.completeWithLogprobs(ask(plain.request().get("prompt").asText(), 20), () -> false));
        String m = e.getMessage();
        assertTrue(m.contains("server http://127.0.0.1:" + server.getAddress().getPort() + "/v1"), m);
        assertTrue(m.contains("/v1/completions"), m);
        assertTrue(m.contains("choices[0].logprobs is null"), m);
        assertTrue(m.contains("no log-probabilities"), m);
        assertFalse(e.retryable(), "asking again gets the same answer");
        // where none were needed the same answer is an answer
        assertEquals(" 85", client.completeOnce(ask(plain.request().get("prompt").asText(), 0), () -> false).text());
    }

    @Test
    void theServersErrorsAreItsOwnWords() {
        Exchange tooLong = serve("error-exceeds-context.http");
        RemoteException e = assertThrows(RemoteException.class, () -> client(RemoteEndpoint.Api.CHAT)
                .completeOnce(new RemoteRequest(List.of(dev.blender.nativebridge.ChatMessage.user(
                        tooLong.request().get("messages").get(0).get("content").asText())), "", 0f, 1f, 3, List.of(), null,
                        3), () -> false));
        assertTrue(e.getMessage().startsWith("HTTP 400 from "), e.getMessage());
        assertTrue(e.getMessage().endsWith("request (64 tokens) exceeds the available context size (64 tokens), try"
                + " increasing it"), e.getMessage());
        assertFalse(e.retryable());
    }

    /**
     * The recorded positions of "Q: 37+48= A:" served one per prefix, as a mix asks for them (one token
     * each), and the at-EOS recording after " 85".
     */
    void servePerToken() {
        Exchange e = Exchange.read("completion-logprobs.http");
        String prompt = e.request().get("prompt").asText();
        ArrayNode content = (ArrayNode) e.json().at("/choices/0/logprobs/content");
        for (int i = 0; i < content.size(); i++) {
            ObjectNode one = e.json().deepCopy();
            ObjectNode choice = (ObjectNode) one.at("/choices/0");
            choice.put("text", content.get(i).get("token").asText()).put("finish_reason", "length");
            ((ObjectNode) choice.get("logprobs")).putArray("content").add(content.get(i));
            byPrompt.put(prompt, new Exchange("/v1/completions", null, 200, one.toString()));
            prompt += content.get(i).get("token").asText();
        }
        assertEquals("Q: 37+48= A: 85", prompt);
        serve("completion-logprobs-at-eos.http");
    }

    @Test
    void aMixOverTheServerStopsWhereItsMembersEnd() {
        servePerToken();
        for (CombineMethod method : List.of(CombineMethod.LOG_LINEAR, CombineMethod.LINEAR)) {
            asked.clear();
            RemoteMix mix = new RemoteMix(List.of(RemoteMix.Member.remote("a", client(RemoteEndpoint.Api.COMPLETIONS)),
                    RemoteMix.Member.remote("a-again", client(RemoteEndpoint.Api.COMPLETIONS))),
                    CombineOptions.equal(method, 2), 20);
            RemoteMix.Result r = mix.generate("Q: 37+48= A:", 8, 0f, List.of(), 1, () -> false, TokenListener.NONE);
            assertEquals(List.of(), r.failures(), method.toString());
            assertEquals(" 85", r.candidate().text(), method.toString());
            assertEquals(FinishReason.END_OF_GENERATION, r.candidate().finishReason());
            assertEquals(4, r.steps(), "three tokens and the end");
            assertEquals(8, asked.size(), "no member was asked past its end: " + asked);
        }
    }

    @Test
    void aMixWhoseMembersAllReturnNoLogprobsFailsSayingWhy() {
        serve("completion-plain.http");
        RemoteMix mix = new RemoteMix(List.of(RemoteMix.Member.remote("a", client(RemoteEndpoint.Api.COMPLETIONS))),
                CombineOptions.equal(CombineMethod.LOG_LINEAR, 1), 20);
        RemoteException e = assertThrows(RemoteException.class,
                () -> mix.generate("Q: 37+48= A:", 8, 0f, List.of(), 1, () -> false, TokenListener.NONE));
        assertTrue(e.getMessage().startsWith("every member of the mix failed: a: server http://"), e.getMessage());
        assertTrue(e.getMessage().contains("choices[0].logprobs is null"), e.getMessage());
    }

    @Test
    void everyRecordingIsReadAsTheServerMeantIt() {
        // the non-streamed answers parse; the errors are error bodies in llama.cpp's shape
        for (String name : List.of("chat-logprobs.http", "completion-logprobs-at-eos.http", "completion-logprobs.http",
                "completion-plain.http")) {
            Exchange e = Exchange.read(name);
            RemoteEndpoint.Api api = e.path().endsWith("/chat/completions") ? RemoteEndpoint.Api.CHAT
                    : RemoteEndpoint.Api.COMPLETIONS;
            RemoteCompletion c = RemoteCompletion.parse(e.json(), api);
            assertEquals(e.request().has("logprobs"), c.logprobs().returned(), name);
            assertEquals(e.json().at("/usage/completion_tokens").asLong(), c.completionTokens(), name);
        }
        for (String name : List.of("error-bad-field.http", "error-bad-json.http", "error-exceeds-context.http")) {
            Exchange e = Exchange.read(name);
            assertTrue(e.status() >= 400, name);
            assertEquals(e.json().at("/error/message").asText(), OpenAiClient.errorMessage(e.body()), name);
        }
        assertTrue(Files.isDirectory(TestModels.shared().resolve(DIR)));
    }
}
