package dev.blender.runtime.pipeline;

import java.util.Objects;

/**
 * One turn of a conversation ({@link BlendRequest.Builder#messages}). Roles are usually {@code system},
 * {@code user} and {@code assistant}; generators with a chat template read them through it.
 *
 * <p>Immutable, so thread-safe.
 */
public record Message(String role, String content) {
    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static Message system(String content) {
        return new Message("system", content);
    }

    public static Message user(String content) {
        return new Message("user", content);
    }

    public static Message assistant(String content) {
        return new Message("assistant", content);
    }
}
