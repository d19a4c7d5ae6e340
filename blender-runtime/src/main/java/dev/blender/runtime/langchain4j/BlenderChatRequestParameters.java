package dev.blender.runtime.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import java.util.Objects;

/**
 * LangChain4j's request parameters plus the settings only a blend has. Pass them as a
 * {@code ChatRequest}'s parameters to change one request; what a request leaves null comes from the
 * chat model's {@code defaultRequestParameters()}.
 *
 * <p>{@link #modelName()} names the strategy ({@code full-blend}, {@code TOKEN_COMBINE}, any spelling
 * {@link dev.blender.runtime.pipeline.Strategy#parse} reads). The inherited {@link #topK()} is
 * LangChain4j's sampling top-k, which a blend does not support; the number of candidates the fuser reads
 * is {@link #fuseTopK()}.
 */
public final class BlenderChatRequestParameters extends DefaultChatRequestParameters {
    private final Integer candidates;
    private final Integer fuseTopK;
    private final Long seed;

    private BlenderChatRequestParameters(Builder builder) {
        super(builder);
        this.candidates = builder.candidates;
        this.fuseTopK = builder.fuseTopK;
        this.seed = builder.seed;
    }

    /** Candidates each generator samples ({@code BlendRequest#candidatesPerModel}); null = the chat model's. */
    public Integer candidates() {
        return candidates;
    }

    /** Candidates the fuser reads ({@code BlendRequest#topK}); null = the chat model's. */
    public Integer fuseTopK() {
        return fuseTopK;
    }

    /** The sampling seed; null = the chat model's. */
    public Long seed() {
        return seed;
    }

    // DefaultChatRequestParameters would merge into its own class and drop the blend settings
    @Override
    public BlenderChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public BlenderChatRequestParameters defaultedBy(ChatRequestParameters that) {
        return builder().overrideWith(that).overrideWith(this).build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlenderChatRequestParameters that && super.equals(o)
                && Objects.equals(candidates, that.candidates) && Objects.equals(fuseTopK, that.fuseTopK)
                && Objects.equals(seed, that.seed);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), candidates, fuseTopK, seed);
    }

    @Override
    public String toString() {
        return "BlenderChatRequestParameters{modelName=" + modelName() + ", temperature=" + temperature() + ", topP="
                + topP() + ", maxOutputTokens=" + maxOutputTokens() + ", stopSequences=" + stopSequences()
                + ", candidates=" + candidates + ", fuseTopK=" + fuseTopK + ", seed=" + seed + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends DefaultChatRequestParameters.Builder<Builder> {
        private Integer candidates;
        private Integer fuseTopK;
        private Long seed;

        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            super.overrideWith(parameters);
            if (parameters instanceof BlenderChatRequestParameters b) {
                candidates = b.candidates != null ? b.candidates : candidates;
                fuseTopK = b.fuseTopK != null ? b.fuseTopK : fuseTopK;
                seed = b.seed != null ? b.seed : seed;
            }
            return this;
        }

        public Builder candidates(Integer n) {
            this.candidates = n;
            return this;
        }

        public Builder fuseTopK(Integer k) {
            this.fuseTopK = k;
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        @Override
        public BlenderChatRequestParameters build() {
            return new BlenderChatRequestParameters(this);
        }
    }
}
