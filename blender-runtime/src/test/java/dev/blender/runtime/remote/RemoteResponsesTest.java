package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.generation.FinishReason;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The response shapes of llama.cpp's server, vLLM, Ollama's OpenAI compatibility and OpenAI (recorded by
 * hand from their documented formats, in test resources), and the request a remote member sends.
 */
class RemoteResponsesTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static String fixture(String name) {
        try (InputStream in = RemoteResponsesTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new AssertionError("no fixture " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static RemoteCompletion parse(String name, RemoteEndpoint.Api api) throws IOException {
        return RemoteCompletion.parse(JSON.readTree(fixture(name)), api);
    }

    @Test
    void everyServersChatAnswerIsRead() throws IOException {
        assertEquals(new RemoteCompletion(" 79", FinishReason.END_OF_GENERATION, 9, 3),
                parse("llama-server-chat.json", RemoteEndpoint.Api.CHAT));
        assertEquals(new RemoteCompletion("The answer is 42.", FinishReason.END_OF_GENERATION, 31, 7),
                parse("vllm-chat.json", RemoteEndpoint.Api.CHAT));
        assertEquals(new RemoteCompletion("42", FinishReason.END_OF_GENERATION, 30, 2),
                parse("ollama-chat.json", RemoteEndpoint.Api.CHAT));
        assertEquals(new RemoteCompletion("42", FinishReason.END_OF_GENERATION, 14, 1),
                parse("openai-chat.json", RemoteEndpoint.Api.CHAT));
    }

    @Test
    void everyServersCompletionIsRead() throws IOException {
        assertEquals(new RemoteCompletion(" 12 + 30 = 42 and", FinishReason.LENGTH, 7, 8),
                parse("llama-server-completions.json", RemoteEndpoint.Api.COMPLETIONS));
        // vLLM names the stop string that ended it
        assertEquals(new RemoteCompletion(" 42", FinishReason.STOP, 12, 3),
                parse("vllm-completions.json", RemoteEndpoint.Api.COMPLETIONS));
        assertEquals(new RemoteCompletion(" forty-two, because", FinishReason.LENGTH, 6, 4),
                parse("ollama-completions.json", RemoteEndpoint.Api.COMPLETIONS));
    }

    @Test
    void aResponseOfTheOtherEndpointOrWithoutChoicesIsRefused() throws IOException {
        RemoteException e = assertThrows(RemoteException.class,
                () -> parse("llama-server-chat.json", RemoteEndpoint.Api.COMPLETIONS));
        assertTrue(e.getMessage().contains("no text"), e.getMessage());
        assertFalse(e.retryable());
        RemoteException none = assertThrows(RemoteException.class,
                () -> RemoteCompletion.parse(JSON.readTree("{\"object\": \"chat.completion\", \"choices\": []}"),
                        RemoteEndpoint.Api.CHAT));
        assertTrue(none.getMessage().contains("no choices"), none.getMessage());
        RemoteException refused = assertThrows(RemoteException.class,
                () -> parse("openai-refusal.json", RemoteEndpoint.Api.CHAT));
        assertTrue(refused.getMessage().contains("I can't help with that."), refused.getMessage());
    }

    @Test
    void aResponseWithoutUsageCountsNoTokens() throws IOException {
        JsonNode body = JSON.readTree("{\"choices\": [{\"message\": {\"content\": \"x\"}, \"finish_reason\": null}]}");
        assertEquals(new RemoteCompletion("x", FinishReason.END_OF_GENERATION, -1, -1),
                RemoteCompletion.parse(body, RemoteEndpoint.Api.CHAT));
    }

    @Test
    void everyServersErrorMessageIsFound() {
        assertEquals("The model `gpt-5-nano-x` does not exist or you do not have access to it.",
                OpenAiClient.errorMessage(fixture("error-openai.json")));
        assertEquals("Loading model", OpenAiClient.errorMessage(fixture("error-llama-server.json")));
        assertEquals("The model `llama` does not exist.", OpenAiClient.errorMessage(fixture("error-vllm-old.json")));
        assertEquals("model \"llama9\" not found, try pulling it first",
                OpenAiClient.errorMessage(fixture("error-ollama.json")));
        assertEquals("Bad Gateway", OpenAiClient.errorMessage("Bad Gateway\n"));
        assertEquals("(no body)", OpenAiClient.errorMessage(""));
    }

    @Test
    void theRequestPassesTheSamplingSettingsThrough() {
        RemoteRequest r = new RemoteRequest(List.of(ChatMessage.system("be brief"), ChatMessage.user("Q: 1+2= A:")),
                "Q: 1+2= A:", 0.7f, 0.9f, 16, List.of("\n"), (1L << 31) - 1);
        try (HttpClient http = OpenAiClient.newHttpClient()) {
            OpenAiClient chat = new OpenAiClient(RemoteEndpoint.of("http://127.0.0.1:1/v1", "m"), null, http);
            JsonNode b = chat.body(r, 2);
            assertEquals("m", b.get("model").asText());
            assertEquals(2, b.get("messages").size());
            assertEquals("system", b.get("messages").get(0).get("role").asText());
            assertEquals("Q: 1+2= A:", b.get("messages").get(1).get("content").asText());
            assertFalse(b.has("prompt"));
            assertEquals(16, b.get("max_tokens").asInt());
            assertEquals(0.7, b.get("temperature").asDouble(), 1e-6);
            assertEquals(0.9, b.get("top_p").asDouble(), 1e-6);
            assertEquals("\n", b.get("stop").get(0).asText());
            assertEquals(1, b.get("seed").asLong(), "candidate 2's seed, kept within 31 bits");
            assertFalse(b.has("n"));

            OpenAiClient completions = new OpenAiClient(RemoteEndpoint.of("http://127.0.0.1:1/v1", null)
                    .withApi(RemoteEndpoint.Api.COMPLETIONS), null, http);
            JsonNode c = completions.body(new RemoteRequest(List.of(ChatMessage.user("x")), "Q: x A:", 0f, 1f, 4,
                    List.of(), null), 0);
            assertFalse(c.has("model"), "no model configured: none sent");
            assertEquals("Q: x A:", c.get("prompt").asText());
            assertFalse(c.has("messages") || c.has("stop") || c.has("seed"), c.toString());
        }
    }

    @Test
    void backoffDoublesWithinItsCapAndJitters() {
        assertEquals(125, OpenAiClient.backoffMillis(0, 0));
        assertEquals(249, OpenAiClient.backoffMillis(0, 0.999), 1);
        assertEquals(250, OpenAiClient.backoffMillis(1, 0));
        assertEquals(500, OpenAiClient.backoffMillis(2, 0));
        assertEquals(2_000, OpenAiClient.backoffMillis(10, 0));
        assertTrue(OpenAiClient.backoffMillis(40, 0.999) <= OpenAiClient.BACKOFF_CAP_MILLIS);
    }
}
