package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The log-probability shapes of vLLM's and Ollama's OpenAI-compatible servers, in fixtures written from their
 * documented fields (test resources), and the ways a server can name the end of generation or get a field
 * wrong. llama.cpp's own answers are replayed from recordings in {@link RemoteLlamaServerRecordingsTest}.
 */
class RemoteLogprobShapesTest {

    static RemoteCompletion parse(String json, RemoteEndpoint.Api api) throws IOException {
        return RemoteCompletion.parse(RemoteResponsesTest.JSON.readTree(json), api);
    }

    static List<String> chosen(RemoteCompletion c) {
        return c.logprobs().positions().stream().map(p -> p.chosen().token()).toList();
    }

    @Test
    void vllmsCompletionsAreTheLegacyShapePositionByPosition() throws IOException {
        RemoteCompletion c = RemoteResponsesTest.parse("vllm-completions-logprobs-positions.json",
                RemoteEndpoint.Api.COMPLETIONS);
        assertEquals(Logprobs.Shape.COMPLETIONS, c.logprobs().shape());
        assertEquals(List.of(" ", "18", "0"), chosen(c));
        assertEquals(List.of(" ", " 1"), c.top().stream().map(TokenLogprob::token).toList());
        // sampled below its top list: the chosen token joins the alternatives, after them
        List<TokenLogprob> third = c.logprobs().positions().get(2).top();
        assertEquals(List.of("1", "2", "0"), third.stream().map(TokenLogprob::token).toList());
        assertEquals(-3.1, third.get(2).logprob(), 1e-12);
        assertTrue(c.logprobs().positions().stream().flatMap(p -> p.top().stream()).noneMatch(TokenLogprob::isEnd));
    }

    @Test
    void vllmsAndOllamasChatAnswersAreTheChatShape() throws IOException {
        RemoteCompletion v = RemoteResponsesTest.parse("vllm-chat-logprobs.json", RemoteEndpoint.Api.CHAT);
        assertEquals(Logprobs.Shape.CHAT, v.logprobs().shape());
        assertEquals("180", v.text());
        assertEquals(List.of("18", "0", "<|im_end|>"), chosen(v));
        assertArrayEquals(new byte[] {49, 56}, v.top().get(0).bytes());
        assertEquals(-1.6, v.top().get(1).logprob(), 1e-12);
        assertTrue(v.logprobs().positions().get(2).chosen().isEnd(), "vLLM names the end by its text");

        RemoteCompletion o = RemoteResponsesTest.parse("ollama-chat-logprobs.json", RemoteEndpoint.Api.CHAT);
        assertEquals(Logprobs.Shape.CHAT, o.logprobs().shape());
        assertEquals(List.of("7", "9"), chosen(o));
        assertEquals(List.of("7", "8"), o.top().stream().map(TokenLogprob::token).toList());
        assertEquals(-2.2, o.top().get(1).logprob(), 1e-12);
    }

    @Test
    void theEndIsAMarkerAnEmptyTokenTheServerStoppedOnOrAStopWithNothingListed() throws IOException {
        // OpenAI's legacy completions name it
        RemoteCompletion named = parse("{\"choices\":[{\"text\":\"\",\"logprobs\":{\"tokens\":[\"<|endoftext|>\"],"
                + "\"token_logprobs\":[-0.2],\"top_logprobs\":[{\"<|endoftext|>\":-0.2,\" 7\":-1.9}],\"text_offset\":[5]},"
                + "\"finish_reason\":\"stop\"}]}", RemoteEndpoint.Api.COMPLETIONS);
        assertEquals(List.of(true, false), named.top().stream().map(TokenLogprob::isEnd).toList());
        // a legacy token with no text that the server stopped on
        RemoteCompletion empty = parse("{\"choices\":[{\"text\":\"\",\"logprobs\":{\"tokens\":[\"\"],"
                + "\"token_logprobs\":[-0.1],\"top_logprobs\":[{\"\":-0.1,\"5\":-2.5}]},\"finish_reason\":\"stop\"}]}",
                RemoteEndpoint.Api.COMPLETIONS);
        assertTrue(empty.logprobs().positions().get(0).chosen().isEnd());
        // stopped at once and listed no position: the end was its choice
        RemoteCompletion bare = parse("{\"choices\":[{\"message\":{\"content\":\"\"},\"logprobs\":{\"content\":[]},"
                + "\"finish_reason\":\"stop\"}]}", RemoteEndpoint.Api.CHAT);
        assertEquals(1, bare.top().size());
        assertTrue(bare.top().get(0).isEnd());
        assertEquals(0.0, bare.top().get(0).logprob());
    }

    @Test
    void aTokenWithNoTextTheServerWentOnPastIsNotTheEnd() throws IOException {
        // a control token (id 7) chosen and generated past; id 2 listed beside it stays the end
        RemoteCompletion c = parse("{\"choices\":[{\"text\":\"4\",\"logprobs\":{\"content\":["
                + "{\"id\":7,\"token\":\"\",\"bytes\":[],\"logprob\":-0.5,\"top_logprobs\":[{\"id\":7,\"token\":\"\","
                + "\"bytes\":[],\"logprob\":-0.5},{\"id\":2,\"token\":\"\",\"bytes\":[],\"logprob\":-1.5}]},"
                + "{\"id\":263,\"token\":\"4\",\"bytes\":[52],\"logprob\":-0.1,\"top_logprobs\":[]}]},"
                + "\"finish_reason\":\"length\"}]}", RemoteEndpoint.Api.COMPLETIONS);
        assertEquals(List.of(false, true), c.top().stream().map(TokenLogprob::isEnd).toList());
        assertEquals(2, c.top().size(), "two tokens with no text, told apart by their ids");
        // cut by max_tokens on a token with no text: not an end either
        RemoteCompletion cut = parse("{\"choices\":[{\"text\":\"\",\"logprobs\":{\"content\":[{\"id\":7,\"token\":\"\","
                + "\"bytes\":[],\"logprob\":-0.5,\"top_logprobs\":[]}]},\"finish_reason\":\"length\"}]}",
                RemoteEndpoint.Api.COMPLETIONS);
        assertFalse(cut.top().get(0).isEnd());
    }

    @Test
    void aMalformedFieldIsNamed() {
        RemoteException noLogprob = assertThrows(RemoteException.class, () -> parse("{\"choices\":[{\"text\":\"7\","
                + "\"logprobs\":{\"content\":[{\"token\":\"7\",\"top_logprobs\":[]}]},\"finish_reason\":\"length\"}]}",
                RemoteEndpoint.Api.COMPLETIONS));
        assertEquals("choices[0].logprobs.content[0].logprob should be a number, was missing", noLogprob.getMessage());
        RemoteException badTop = assertThrows(RemoteException.class, () -> parse("{\"choices\":[{\"text\":\"7\","
                + "\"logprobs\":{\"content\":[{\"token\":\"7\",\"logprob\":-1,\"top_logprobs\":[{\"token\":\"8\","
                + "\"logprob\":\"low\"}]}]}}]}", RemoteEndpoint.Api.COMPLETIONS));
        assertEquals("choices[0].logprobs.content[0].top_logprobs[0].logprob should be a number, was \"low\"",
                badTop.getMessage());
        RemoteException lengths = assertThrows(RemoteException.class, () -> parse("{\"choices\":[{\"text\":\"7\","
                + "\"logprobs\":{\"tokens\":[\"7\",\"9\"],\"token_logprobs\":[-0.1],\"top_logprobs\":[{},{}]}}]}",
                RemoteEndpoint.Api.COMPLETIONS));
        assertTrue(lengths.getMessage().startsWith("choices[0].logprobs.token_logprobs should be a list as long as"
                + " tokens (2)"), lengths.getMessage());
    }

    /** A started server on loopback that answers every request under /v1/ with {@code body}. */
    static HttpServer answering(String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/v1/", x -> {
            try (x) {
                x.getRequestBody().readAllBytes();
                x.getResponseHeaders().set("Content-Type", "application/json");
                x.sendResponseHeaders(200, b.length);
                x.getResponseBody().write(b);
            }
        });
        server.start();
        return server;
    }

    @Test
    void ollamaWithoutLogprobsFailsAMemberThatNeedsThemNamingTheServerAndTheMissingField() throws IOException {
        // Ollama's OpenAI compatibility as documented before it listed logprobs: the field is left out
        HttpServer server = answering(RemoteResponsesTest.fixture("ollama-completions.json"));
        try (HttpClient http = OpenAiClient.newHttpClient()) {
            String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
            OpenAiClient client = new OpenAiClient(RemoteEndpoint.of(base, "llama3.2:1b")
                    .withApi(RemoteEndpoint.Api.COMPLETIONS).withRetries(0), null, http);
            RemoteException e = assertThrows(RemoteException.class, () -> client.completeWithLogprobs(
                    RemoteRequest.text("Q: 1+1= A:", 1, List.of(), null, 20), () -> false));
            assertTrue(e.getMessage().startsWith("server " + base + " (model llama3.2:1b) at /v1/completions returned"
                    + " no log-probabilities although asked for the top 20 per token (\"logprobs\"): choices[0] has no"
                    + " \"logprobs\" field; expected choices[0].logprobs.content[]"), e.getMessage());
            // a remote judge takes the same answer as text (it judges by the verdict written)
            assertEquals(" forty-two, because", client.completeOnce(RemoteRequest.text("Q: 1+1= A:", 4, List.of(),
                    null, 20), () -> false).text());
            // a mix of it alone fails with that reason, not with an empty answer
            RemoteMix mix = new RemoteMix(List.of(RemoteMix.Member.remote("ollama", client)),
                    dev.blender.runtime.combine.CombineOptions.equal(dev.blender.runtime.combine.CombineMethod.LINEAR, 1), 20);
            RemoteException m = assertThrows(RemoteException.class, () -> mix.generate("Q: 1+1= A:", 4, 0f, List.of(),
                    1, () -> false, dev.blender.nativebridge.generation.TokenListener.NONE));
            assertTrue(m.getMessage().contains("ollama: server " + base), m.getMessage());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void aShapeNeitherServerWritesIsNamedWithWhatCameInstead() throws IOException {
        JsonNode choice = RemoteResponsesTest.JSON.readTree("{\"text\":\"7\",\"logprobs\":{\"probs\":[0.5]}}");
        Logprobs l = Logprobs.read(choice, "7");
        assertFalse(l.returned());
        assertTrue(l.missing().startsWith("choices[0].logprobs has neither content[] (chat shape) nor tokens[]/"
                + "token_logprobs[]/top_logprobs[] (completions shape): {\"probs\":[0.5]}"), l.missing());
    }
}
