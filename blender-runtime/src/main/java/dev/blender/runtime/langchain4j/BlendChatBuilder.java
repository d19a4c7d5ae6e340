package dev.blender.runtime.langchain4j;

import dev.blender.runtime.pipeline.BlendService;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.Strategy;
import java.util.List;

/**
 * The settings {@link BlenderChatModel} and {@link BlenderStreamingChatModel} share: the blender, and the
 * blend settings that become the model's {@code defaultRequestParameters()}. Only the blender is
 * required; a setting left unset is the blender's own. Everything is checked in {@code build()}.
 *
 * @param <B> the concrete builder
 */
public abstract class BlendChatBuilder<B extends BlendChatBuilder<B>> {
    BlendService blender;
    Strategy strategy;
    Integer candidates;
    Integer topK;
    Long seed;
    Double temperature;
    Double topP;
    Integer maxOutputTokens;
    List<String> stopSequences;

    BlendChatBuilder() {}

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** The blender that answers (required): a {@link Blender} or your own service. It stays the caller's to close. */
    public B blender(BlendService blender) {
        this.blender = blender;
        return self();
    }

    /** How requests are answered unless one names another strategy as its model name. */
    public B strategy(Strategy strategy) {
        this.strategy = strategy;
        return self();
    }

    /** Candidates each generator samples. */
    public B candidates(Integer candidatesPerModel) {
        this.candidates = candidatesPerModel;
        return self();
    }

    /** Candidates the fuser reads (not LangChain4j's sampling top-k, which a blend does not support). */
    public B topK(Integer fuseTopK) {
        this.topK = fuseTopK;
        return self();
    }

    /** The sampling seed (the blend's default is 1). */
    public B seed(Long seed) {
        this.seed = seed;
        return self();
    }

    /**
     * Sampling temperature (0 = greedy) of the candidates, and of the answer where one model or the mix
     * writes it; the fuser keeps the blender's ({@code BlendRequest#temperature}).
     */
    public B temperature(Double temperature) {
        this.temperature = temperature;
        return self();
    }

    /** Nucleus sampling, in (0, 1], where the temperature applies. */
    public B topP(Double topP) {
        this.topP = topP;
        return self();
    }

    /** Token budget of each candidate and of the answer. */
    public B maxOutputTokens(Integer maxOutputTokens) {
        this.maxOutputTokens = maxOutputTokens;
        return self();
    }

    /** Strings that end a candidate and the answer. */
    public B stopSequences(List<String> stopSequences) {
        this.stopSequences = stopSequences;
        return self();
    }

    /**
     * The checked settings.
     *
     * @throws IllegalArgumentException no blender, a strategy the blender cannot run, or a value out of range
     */
    ChatBlend chatBlend() {
        return new ChatBlend(this);
    }
}
