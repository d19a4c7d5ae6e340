package dev.blender.runtime.remote;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.nativebridge.generation.FinishReason;
import java.util.List;

/**
 * One answer of an OpenAI-compatible server.
 *
 * @param text             the generated text ({@code message.content} of a chat, {@code text} of a completion)
 * @param finishReason     {@code length} is {@link FinishReason#LENGTH}; vLLM's {@code stop_reason} naming a
 *                         string is {@link FinishReason#STOP}; anything else ended the generation
 * @param promptTokens     {@code usage.prompt_tokens}, or -1 when the server gave no usage
 * @param completionTokens {@code usage.completion_tokens}, or -1 when the server gave no usage
 * @param top              the alternatives at the first generated position, where log-probabilities were asked
 *                         for and returned ({@link TokenLogprob#firstPosition}); else empty
 */
public record RemoteCompletion(String text, FinishReason finishReason, long promptTokens, long completionTokens,
                               List<TokenLogprob> top) {
    public RemoteCompletion {
        top = List.copyOf(top);
    }

    /** An answer without log-probabilities. */
    public RemoteCompletion(String text, FinishReason finishReason, long promptTokens, long completionTokens) {
        this(text, finishReason, promptTokens, completionTokens, List.of());
    }

    /**
     * Reads a response body of either endpoint, in the shapes llama.cpp's server, vLLM, Ollama's OpenAI
     * compatibility and OpenAI return (they differ in extra fields, all ignored here).
     *
     * @throws RemoteException the body has no first choice with text
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
                count(usage.path("completion_tokens")), TokenLogprob.firstPosition(choice));
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
