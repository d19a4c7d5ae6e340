package dev.blender.runtime.langchain4j;

import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.BlendService;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.Message;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What both chat models do around a blend: LangChain4j requests to {@link BlendRequest}s, with
 * unsupported features refused by name, and {@link BlendResult}s to {@link ChatResponse}s.
 */
final class ChatBlend {
    final BlendService blender;
    private final BlenderChatRequestParameters defaults;

    ChatBlend(BlendChatBuilder<?> b) {
        if (b.blender == null) {
            throw new IllegalArgumentException("blender is required");
        }
        this.blender = b.blender;
        BlenderConfig config = blender.config();
        if (b.strategy != null && !config.supports(b.strategy)) {
            throw new IllegalArgumentException("strategy " + b.strategy.id() + " is not possible with this blender's "
                    + config.generators().size() + " generator model(s)");
        }
        // BlendRequest owns the ranges: a default that one request would be refused is refused here
        BlendRequest checked = settings(BlendRequest.builder().prompt("?"), b.temperature, b.topP, b.maxOutputTokens,
                b.stopSequences, b.candidates, b.topK).build();
        this.defaults = BlenderChatRequestParameters.builder()
                .modelName(b.strategy != null ? b.strategy.id() : config.composition().name())
                .temperature(b.temperature).topP(b.topP).maxOutputTokens(b.maxOutputTokens)
                .stopSequences(checked.stop() != null ? checked.stop() : config.stop())
                .candidates(b.candidates != null ? b.candidates : config.candidatesPerModel())
                .fuseTopK(b.topK != null ? b.topK : config.topK())
                .seed(b.seed != null ? b.seed : checked.seed())
                .build();
    }

    /**
     * The blend settings as LangChain4j parameters. Temperature, top-p and max output tokens are null
     * unless set on the builder: the blender's own differ between candidates and answer.
     */
    BlenderChatRequestParameters defaults() {
        return defaults;
    }

    /**
     * The blend a chat request asks for.
     *
     * @throws UnsupportedFeatureException a message type, content or parameter a blend cannot honour
     * @throws IllegalArgumentException    a value out of range, an unknown strategy as the model name, or
     *                                     a conversation that does not end with the user's message
     */
    BlendRequest.Builder request(ChatRequest chatRequest) {
        Objects.requireNonNull(chatRequest, "chatRequest");
        ChatRequestParameters given = chatRequest.parameters() != null ? chatRequest.parameters()
                : DefaultChatRequestParameters.EMPTY;
        // ChatModel.chat has merged the defaults already; merging again keeps doChat right when called alone
        BlenderChatRequestParameters p = defaults.overrideWith(given);
        refuseUnsupported(p);
        BlendRequest.Builder r = BlendRequest.builder().messages(messages(chatRequest.messages()));
        Composition strategy = strategy(p.modelName());
        if (strategy != null) {
            r.composition(strategy);
        }
        settings(r, p.temperature(), p.topP(), p.maxOutputTokens(), p.stopSequences().isEmpty() ? null : p.stopSequences(),
                p.candidates(), p.fuseTopK());
        return p.seed() != null ? r.seed(p.seed()) : r;
    }

    /** The sampling settings that are set (null: the blender's), checked by the request's builder. */
    private static BlendRequest.Builder settings(BlendRequest.Builder r, Double temperature, Double topP,
                                                 Integer maxTokens, List<String> stop, Integer candidates,
                                                 Integer topK) {
        if (temperature != null) {
            r.temperature(toFloat(temperature));
        }
        if (topP != null) {
            r.topP(toFloat(topP));
        }
        if (maxTokens != null) {
            r.maxTokens(maxTokens);
        }
        if (stop != null) {
            r.stop(stop);
        }
        if (candidates != null) {
            r.candidatesPerModel(candidates);
        }
        if (topK != null) {
            r.topK(topK);
        }
        return r;
    }

    private static Composition strategy(String modelName) {
        if (modelName == null) {
            return null;
        }
        try {
            return Composition.named(modelName);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("modelName '" + modelName + "' is not a blend strategy; one of "
                    + Composition.names(), e);
        }
    }

    private static void refuseUnsupported(ChatRequestParameters p) {
        if (p.topK() != null) {
            throw unsupported("the 'topK' parameter (sampling top-k); the candidates the fuser reads are"
                    + " BlenderChatRequestParameters.fuseTopK");
        }
        if (p.frequencyPenalty() != null) {
            throw unsupported("the 'frequencyPenalty' parameter");
        }
        if (p.presencePenalty() != null) {
            throw unsupported("the 'presencePenalty' parameter");
        }
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw unsupported("tools (the 'toolSpecifications' parameter)");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) {
            throw unsupported("the 'toolChoice' parameter REQUIRED");
        }
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw unsupported("a JSON response format (the 'responseFormat' parameter)");
        }
    }

    static UnsupportedFeatureException unsupported(String what) {
        return new UnsupportedFeatureException(what + " is not supported by a blend");
    }

    private static List<Message> messages(List<dev.langchain4j.data.message.ChatMessage> in) {
        List<Message> out = new ArrayList<>(in.size());
        for (dev.langchain4j.data.message.ChatMessage m : in) {
            out.add(switch (m) {
                case SystemMessage s -> Message.system(s.text());
                case UserMessage u -> Message.user(text(u));
                case AiMessage a when a.hasToolExecutionRequests() -> throw unsupported("an AiMessage with tool calls");
                case AiMessage a -> Message.assistant(a.text() != null ? a.text() : "");
                default -> throw unsupported("a " + m.type().name().toLowerCase(Locale.ROOT) + " message");
            });
        }
        return out;
    }

    /** A user message's text parts, one per line. */
    private static String text(UserMessage u) {
        List<String> parts = new ArrayList<>();
        for (Content c : u.contents()) {
            if (!(c instanceof TextContent t)) {
                throw unsupported("user message content of type " + c.type().name().toLowerCase(Locale.ROOT));
            }
            parts.add(t.text());
        }
        return String.join("\n", parts);
    }

    private static Float toFloat(Double d) {
        return d != null ? d.floatValue() : null;
    }

    /**
     * The response for a blend's result. Token usage counts every stage: the candidates, the judge's
     * comparisons and the fusion, not only the final answer.
     */
    static ChatResponse response(BlendResult r) {
        return ChatResponse.builder().aiMessage(AiMessage.from(r.answer()))
                .metadata(BlenderChatResponseMetadata.builder().blendResult(r).modelName(r.strategy())
                        .tokenUsage(new TokenUsage(count(r.usage().promptTokens()), count(r.usage().generatedTokens())))
                        .finishReason(finishReason(r.finishReason())).build())
                .build();
    }

    /** A token count as LangChain4j holds it. */
    static int count(long tokens) {
        return (int) Math.min(Integer.MAX_VALUE, tokens);
    }

    /** A context that filled up ended the answer for want of room, as a token budget does. */
    static FinishReason finishReason(dev.blender.runtime.pipeline.Completion.FinishReason reason) {
        if (reason == null) {
            return null;
        }
        return switch (reason) {
            case END_OF_GENERATION, STOP -> FinishReason.STOP;
            case LENGTH, CONTEXT_FULL -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
    }
}
