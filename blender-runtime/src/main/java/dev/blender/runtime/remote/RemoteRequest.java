package dev.blender.runtime.remote;

import dev.blender.nativebridge.ChatMessage;
import java.util.List;
import java.util.Objects;

/**
 * What a blend asks a remote model for: the conversation (for {@link RemoteEndpoint.Api#CHAT}) or the
 * prompt text (for {@link RemoteEndpoint.Api#COMPLETIONS}), and the sampling settings passed through.
 *
 * @param seed     the first candidate's seed; candidate i asks with {@code seed + i} (null: none is sent)
 * @param logprobs how many alternatives to return at each generated position (0: none asked for)
 */
public record RemoteRequest(List<ChatMessage> messages, String prompt, float temperature, float topP, int maxTokens,
                            List<String> stop, Long seed, int logprobs) {
    public RemoteRequest {
        messages = List.copyOf(messages);
        Objects.requireNonNull(prompt, "prompt");
        stop = List.copyOf(stop);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        if (logprobs < 0) {
            throw new IllegalArgumentException("logprobs must be >= 0, was " + logprobs);
        }
    }

    /** A request that asks for no log-probabilities. */
    public RemoteRequest(List<ChatMessage> messages, String prompt, float temperature, float topP, int maxTokens,
                         List<String> stop, Long seed) {
        this(messages, prompt, temperature, topP, maxTokens, stop, seed, 0);
    }

    /** A raw-text prompt, greedy: what a remote judge or per-token mix sends (a fuser samples as its blend says). */
    public static RemoteRequest text(String prompt, int maxTokens, List<String> stop, Long seed, int logprobs) {
        return new RemoteRequest(List.of(ChatMessage.user(prompt)), prompt, 0f, 1f, maxTokens, stop, seed, logprobs);
    }
}
