package dev.blender.runtime.remote;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.nativebridge.generation.FinishReason;
import java.util.List;
import java.util.Objects;

/**
 * One answer of an OpenAI-compatible server.
 *
 * @param text             the generated text ({@code message.content} of a chat, {@code text} of a completion)
 * @param finishReason     {@code length} is {@link FinishReason#LENGTH}; vLLM's {@code stop_reason} naming a
 *                         string is {@link FinishReason#STOP}; anything else ended the generation
 * @param promptTokens     {@code usage.prompt_tokens}, or -1 when the server gave no usage
 * @param completionTokens {@code usage.completion_tokens}, or -1 when the server gave no usage
 * @param logprobs         the log-probabilities of the generated positions, in either shape servers write
 *                         them ({@link Logprobs#NONE} where none came back)
 */
public record RemoteCompletion(String text, FinishReason finishReason, long promptTokens, long completionTokens,
                               Logprobs logprobs) {
    public RemoteCompletion {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(logprobs, "logprobs");
    }

    /** An answer without log-probabilities. */
    public RemoteCompletion(String text, FinishReason finishReason, long promptTokens, long completionTokens) {
        this(text, finishReason, promptTokens, completionTokens, Logprobs.NONE);
    }

    /** The alternatives at the first generated position, the chosen one among them; empty where none came back. */
    public List<TokenLogprob> top() {
        return logprobs.first();
    }

    /**
     * Reads a response body of either endpoint, in the shapes llama.cpp's server, vLLM, Ollama's OpenAI
     * compatibility and OpenAI return (they differ in extra fields, all ignored here).
     *
     * @throws RemoteException the body has no first choice with text, or log-probabilities in a known shape
     *                         with a field missing or mistyped (named)
     */
    public static RemoteCompletion parse(JsonNode body, RemoteEndpoint.Api api) {
        JsonNode choice = body.path("choices").path(0);
        if (!choice.isObject()) {
            throw new RemoteException("the response has no choices: " + abbreviate(body.toString()), false);
        }
        JsonNode text = api == RemoteEndpoint.Api.CHAT ? choice.path("message").path("content") : choice.path("text");
        String content;
        if (text.isTextual()) {
            content = text.asText();
        } else if (text.isNull() && choice.path("message").path("refusal").isTextual()) {
            throw new RemoteException("the model refused: " + choice.path("message").path("refusal").asText(), false);
        } else if (text.isNull() || text.isMissingNode() && api == RemoteEndpoint.Api.CHAT && choice.has("message")) {
            content = ""; // a chat answer with no content (e.g. only tool calls) wrote nothing
        } else {
            throw new RemoteException("the response's first choice has no " + (api == RemoteEndpoint.Api.CHAT
                    ? "message.content" : "text") + ": " + abbreviate(choice.toString()), false);
        }
        JsonNode usage = body.path("usage");
        return new RemoteCompletion(content, finishReason(choice), count(usage.path("prompt_tokens")),
                count(usage.path("completion_tokens")), Logprobs.read(choice, content));
    }

    private static FinishReason finishReason(JsonNode choice) {
        if (choice.path("finish_reason").asText("").equals("length")) {
            return FinishReason.LENGTH;
        }
        return choice.path("stop_reason").isTextual() ? FinishReason.STOP : FinishReason.END_OF_GENERATION;
    }

    private static long count(JsonNode n) {
        return n.canConvertToLong() && n.asLong() >= 0 ? n.asLong() : -1;
    }

    static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
