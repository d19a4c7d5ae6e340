package dev.blender.runtime.langchain4j;

import dev.blender.runtime.pipeline.Blender;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

/**
 * A {@link Blender} as a LangChain4j {@link ChatModel}: each chat request is one blend, so an
 * {@code AiServices} interface, a chain or anything else that takes a {@code ChatModel} answers through
 * several local models at once.
 *
 * <pre>{@code
 * ChatModel model = BlenderChatModel.builder().blender(blender)
 *         .strategy(Strategy.FULL_BLEND).candidates(4).topK(3).seed(7L).build();
 * }</pre>
 *
 * <p>Requests: system, user (text only) and AI (text only) messages, ending with the user's; the model
 * name chooses the strategy ({@code full-blend}, {@code token-combine}, ...); temperature, top-p, max
 * output tokens and stop sequences map onto {@link dev.blender.runtime.pipeline.BlendRequest};
 * {@link BlenderChatRequestParameters} adds candidates, the fuser's top-k and the seed. Tools, a JSON
 * response format, LangChain4j's sampling top-k and the penalties throw
 * {@link dev.langchain4j.exception.UnsupportedFeatureException} naming what is unsupported.
 *
 * <p>Responses: the answer, the strategy that ran as the model name, a finish reason, and token usage
 * summed over every stage (candidates, judge, fuser: what the blend cost, not the answer's length);
 * {@link BlenderChatResponseMetadata#blendResult()} has the rest. Thread-safe, as the blender is.
 */
public final class BlenderChatModel implements ChatModel {
    private final ChatBlend blend;

    private BlenderChatModel(ChatBlend blend) {
        this.blend = blend;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest chatRequest) {
        return ChatBlend.response(blend.blender.blend(blend.request(chatRequest).build()));
    }

    /** The blend settings: {@link BlenderChatRequestParameters}, what a request does not set. */
    @Override
    public BlenderChatRequestParameters defaultRequestParameters() {
        return blend.defaults();
    }

    public static final class Builder extends BlendChatBuilder<Builder> {
        private Builder() {}

        /** @throws IllegalArgumentException see {@link BlendChatBuilder} */
        public BlenderChatModel build() {
            return new BlenderChatModel(chatBlend());
        }
    }
}
