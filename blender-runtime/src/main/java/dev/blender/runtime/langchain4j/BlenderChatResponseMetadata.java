package dev.blender.runtime.langchain4j;

import dev.blender.runtime.pipeline.BlendResult;
import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import java.util.Objects;

/**
 * A blend's answer metadata: LangChain4j's (model name = the strategy that ran, token usage, finish
 * reason) plus the whole {@link BlendResult}: the candidates, how the judge ranked them, the fused
 * answer and each stage's time and tokens.
 */
public final class BlenderChatResponseMetadata extends ChatResponseMetadata {
    private final BlendResult blendResult;

    private BlenderChatResponseMetadata(Builder builder) {
        super(builder);
        this.blendResult = builder.blendResult;
    }

    /** Everything the blend produced; null only when the metadata was built without one. */
    public BlendResult blendResult() {
        return blendResult;
    }

    @Override
    public Builder toBuilder() {
        return ((Builder) toBuilder(builder())).blendResult(blendResult);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlenderChatResponseMetadata that && super.equals(o)
                && Objects.equals(blendResult, that.blendResult);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), blendResult);
    }

    @Override
    public String toString() {
        return "BlenderChatResponseMetadata{modelName=" + modelName() + ", tokenUsage=" + tokenUsage()
                + ", finishReason=" + finishReason() + ", blendResult=" + blendResult + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends ChatResponseMetadata.Builder<Builder> {
        private BlendResult blendResult;

        public Builder blendResult(BlendResult r) {
            this.blendResult = r;
            return this;
        }

        @Override
        public BlenderChatResponseMetadata build() {
            return new BlenderChatResponseMetadata(this);
        }
    }
}
