package dev.blender.runtime.remote;

import dev.blender.nativebridge.ChatMessage;
import java.util.List;
import java.util.Objects;

/**
 * What a blend asks a remote generator for: the conversation (for {@link RemoteEndpoint.Api#CHAT}) or the
 * prompt text (for {@link RemoteEndpoint.Api#COMPLETIONS}), and the sampling settings passed through.
 *
 * @param seed the first candidate's seed; candidate i asks with {@code seed + i} (null: none is sent)
 */
public record RemoteRequest(List<ChatMessage> messages, String prompt, float temperature, float topP, int maxTokens,
                            List<String> stop, Long seed) {
    public RemoteRequest {
        messages = List.copyOf(messages);
        Objects.requireNonNull(prompt, "prompt");
        stop = List.copyOf(stop);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
    }
}
