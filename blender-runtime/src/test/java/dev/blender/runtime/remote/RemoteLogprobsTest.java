package dev.blender.runtime.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The alternatives servers return at a generated position, and how they are asked for. */
class RemoteLogprobsTest {

    @Test
    void llamaServersListIsReadWithBytesAndItsEndOfGeneration() throws IOException {
        RemoteCompletion c = RemoteResponsesTest.parse("llama-server-completions-logprobs.json", RemoteEndpoint.Api.COMPLETIONS);
        assertEquals(3, c.top().size(), c.top().toString());
        assertEquals(" ", c.top().get(0).token());
        assertArrayEquals(new byte[] {32}, c.top().get(0).bytes());
        assertEquals(-0.0123, c.top().get(0).logprob(), 1e-12);
        assertTrue(c.top().get(1).isEnd(), "</s> is the end of generation, not text");
        assertFalse(c.top().get(2).isEnd());
    }

    @Test
    void legacyCompletionsListsAreReadWithOpenAisByteEscapes() throws IOException {
        RemoteCompletion c = RemoteResponsesTest.parse("vllm-completions-logprobs.json", RemoteEndpoint.Api.COMPLETIONS);
        assertEquals(List.of(" X", " Y", "bytes:\\xe2\\x80"), c.top().stream().map(TokenLogprob::token).toList());
        assertEquals(-2.31, c.top().get(1).logprob(), 1e-12);
        assertArrayEquals(new byte[] {(byte) 0xe2, (byte) 0x80}, c.top().get(2).bytes(), "part of a UTF-8 character");
    }

    @Test
    void chatListsAreReadAndAnAnswerWithoutThemHasNone() throws IOException {
        RemoteCompletion c = RemoteResponsesTest.parse("openai-chat-logprobs.json", RemoteEndpoint.Api.CHAT);
        assertEquals(List.of("A", "B"), c.top().stream().map(TokenLogprob::token).toList());
        assertTrue(RemoteResponsesTest.parse("vllm-completions.json", RemoteEndpoint.Api.COMPLETIONS).top().isEmpty());
    }

    @Test
    void logprobsAreAskedForInEachApisOwnFieldsAndCachePromptOnlyOfLlamaCpp() {
        try (java.net.http.HttpClient http = OpenAiClient.newHttpClient()) {
            asked(http);
        }
    }

    static void asked(java.net.http.HttpClient http) {
        RemoteRequest r = RemoteRequest.text("Q: 1+1= A:", 1, List.of(), 3L, 20);
        OpenAiClient completions = new OpenAiClient(RemoteEndpoint.of("http://h:1/v1", null)
                .withApi(RemoteEndpoint.Api.COMPLETIONS), null, http);
        ObjectNode body = completions.body(r, 0);
        assertEquals(20, body.get("logprobs").asInt());
        assertEquals(0, body.get("temperature").asDouble());
        assertEquals(1, body.get("max_tokens").asInt());
        assertFalse(body.has("cache_prompt"), "unknown to OpenAI, which would refuse it");
        OpenAiClient chat = new OpenAiClient(RemoteEndpoint.of("http://h:1/v1", "m"), null, http);
        ObjectNode chatBody = chat.body(r, 0);
        assertTrue(chatBody.get("logprobs").asBoolean());
        assertEquals(20, chatBody.get("top_logprobs").asInt());
        assertFalse(completions.body(RemoteRequest.text("x", 1, List.of(), null, 0), 0).has("logprobs"));
    }
}
