package dev.blender.runtime.member;

import dev.blender.runtime.remote.RemoteEndpoint;
import java.nio.file.Path;
import java.util.Objects;

/**
 * One model a blend asks: a GGUF file, a LoRA adapter over a base file, or a model an OpenAI-compatible server
 * answers for. Every stage takes its members as this one type; what a member can do differs only where its
 * nature does (a remote member gives text and, at most, top log-probabilities, never token ids).
 *
 * <p>Each member has two names. {@link #name()} is its identity: what compositions, routes and {@code member:}
 * rows call it. {@link #label()} is its display name: what a candidate says wrote it and the model id a
 * server lists it under. They differ only for a model file ({@code a} and {@code a.gguf}).
 *
 * <p>Immutable values; thread-safe.
 */
public sealed interface Member permits Member.Local, Member.Adapter, Member.Remote {

    /** Identity in compositions, routes and results' member rows. */
    String name();

    /** Display name: what its candidates say wrote them, its model id on a server. */
    String label();

    /**
     * Whether it answers to {@code name} in a composition: its identity, or a model file's file name with its
     * {@code .gguf}.
     */
    default boolean answersTo(String name) {
        return name().equals(name) || label().equals(name);
    }

    /** Whether its candidates carry their tokens and each token's probability (a remote member's carry text). */
    default boolean givesTokens() {
        return !(this instanceof Remote);
    }

    /** The one short-name rule: a model file is known by its file name without {@code .gguf}. */
    static String shortName(Path file) {
        String n = file.getFileName().toString();
        return n.endsWith(".gguf") ? n.substring(0, n.length() - ".gguf".length()) : n;
    }

    /** A GGUF model file. */
    record Local(Path model) implements Member {
        public Local {
            Objects.requireNonNull(model, "model");
        }

        @Override
        public String name() {
            return shortName(model);
        }

        @Override
        public String label() {
            return model.getFileName().toString();
        }
    }

    /**
     * A LoRA adapter applied over a base model at {@code scale}; members over one base share its weights (the
     * pool loads the base once).
     */
    record Adapter(Path base, Path adapter, float scale, String name) implements Member {
        public Adapter {
            Objects.requireNonNull(base, "base");
            Objects.requireNonNull(adapter, "adapter");
            Objects.requireNonNull(name, "name");
            if (!Float.isFinite(scale)) {
                throw new IllegalArgumentException("the scale of adapter " + adapter.getFileName() + " must be finite, was "
                        + scale);
            }
        }

        @Override
        public String label() {
            return name;
        }
    }

    /**
     * A model an OpenAI-compatible server answers for: no file here, no memory budget, never loaded. Its
     * {@code name} is also the model id it is asked for.
     */
    record Remote(RemoteEndpoint endpoint, String name) implements Member {
        public Remote {
            Objects.requireNonNull(endpoint, "endpoint");
            Objects.requireNonNull(name, "name");
            if (name.isBlank() || name.contains("/") || name.contains("\\")) {
                throw new IllegalArgumentException("the remote member at " + endpoint.baseUrl() + " needs a name without"
                        + " slashes, was '" + name + "'");
            }
        }

        @Override
        public String label() {
            return name;
        }
    }
}
