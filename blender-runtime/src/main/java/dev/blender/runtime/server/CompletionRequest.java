package dev.blender.runtime.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Cancellation;
import dev.blender.runtime.pipeline.Message;
import dev.blender.runtime.pipeline.Composition;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A {@code /v1/chat/completions} or {@code /v1/completions} body read into a blend request. Standard
 * fields map onto the blend; blend settings come in the {@code blender} extension object. A field this
 * server does not implement is refused (400) rather than silently ignored, except where its value asks
 * for nothing (a penalty of 0, {@code echo: false}, {@code best_of: 1}). Log-probabilities are given for a
 * generator answering alone, whose tokens they are; the blend's answer has no one model's.
 *
 * @param model            the id the client asked for, echoed in the response
 * @param seed             the request's seed, or one drawn for it (reported back so it can be replayed)
 * @param returnCandidates whether the response lists what was sampled and how it was ranked
 * @param logprobs         how many alternatives each answer token lists ({@code logprobs} of a completion,
 *                         {@code top_logprobs} of a chat), or null when no log-probabilities were asked for
 * @param exact            the text is the generator's continuation exactly as it wrote it (a completion that
 *                         one generator answers alone: it continues the prompt, leading space and all), not the
 *                         stripped answer a blend gives
 */
record CompletionRequest(Kind kind, String model, BlendRequest blend, long seed, boolean stream, boolean includeUsage,
                         boolean returnCandidates, Integer logprobs, boolean exact) {

    /** Which endpoint: chat messages, or a bare prompt. */
    enum Kind {
        CHAT("chatcmpl-", "chat.completion"), TEXT("cmpl-", "text_completion");

        final String idPrefix;
        final String object;

        Kind(String idPrefix, String object) {
            this.idPrefix = idPrefix;
            this.object = object;
        }
    }

    private static final Set<String> COMMON = Set.of("model", "stream", "stream_options", "temperature", "top_p",
            "max_tokens", "stop", "seed", "n", "user", "presence_penalty", "frequency_penalty", "logprobs", "blender");
    private static final Set<String> CHAT_ONLY = Set.of("messages", "max_completion_tokens", "top_logprobs");
    private static final Set<String> TEXT_ONLY = Set.of("prompt", "best_of", "echo");
    private static final Set<String> BLENDER = Set.of("strategy", "candidates", "top_k", "return_candidates");
    /** Accepted only with the value that asks for nothing this server would have to do. */
    private static final Map<String, Function<JsonNode, Boolean>> NEUTRAL = Map.of(
            "presence_penalty", v -> v.isNumber() && v.asDouble() == 0,
            "frequency_penalty", v -> v.isNumber() && v.asDouble() == 0,
            "echo", v -> v.isBoolean() && !v.asBoolean(),
            "best_of", v -> v.isIntegralNumber() && v.asInt() == 1);

    /** The request in a body; {@code cancellation} stops its blend (the client left, the server closes). */
    static CompletionRequest parse(ObjectMapper mapper, byte[] body, Kind kind, ServedModels models,
                                   BlenderConfig config, Cancellation cancellation) {
        JsonNode root;
        try {
            root = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest(null, "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest(null, "the body cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw ApiException.badRequest(null, "the body must be a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            JsonNode v = root.get(f);
            boolean known = COMMON.contains(f) || (kind == Kind.CHAT ? CHAT_ONLY : TEXT_ONLY).contains(f);
            if (!known) {
                throw ApiException.unsupported(f, "unsupported parameter '" + f + "'");
            }
            if (NEUTRAL.containsKey(f) && !v.isNull() && !NEUTRAL.get(f).apply(v)) {
                throw ApiException.unsupported(f, "'" + f + "' is not supported with the value " + v);
            }
        }
        String model = text(root, "model");
        if (model == null) {
            throw ApiException.badRequest("model", "'model' is required: '" + models.blendId()
                    + "' for the blend, or one of " + models.ids());
        }
        ServedModels.Member member = models.resolve(model);

        BlendRequest.Builder request = BlendRequest.builder().cancellation(cancellation);
        if (kind == Kind.CHAT) {
            request.messages(messages(root));
        } else {
            request.prompt(prompt(root));
        }
        Integer n = integer(root, "n");
        if (n != null && n != 1) {
            throw ApiException.badRequest("n", "only n = 1 is supported (the blend gives one answer), was " + n);
        }
        boolean stream = bool(root, "stream");
        boolean includeUsage = false;
        JsonNode options = present(root, "stream_options");
        if (options != null) {
            if (!stream) {
                throw ApiException.badRequest("stream_options", "stream_options is only allowed with stream: true");
            }
            if (!options.isObject()) {
                throw ApiException.badRequest("stream_options", "stream_options must be an object");
            }
            for (Iterator<String> it = options.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!f.equals("include_usage")) {
                    throw ApiException.unsupported("stream_options." + f, "unsupported stream option '" + f + "'");
                }
            }
            includeUsage = bool(options, "include_usage", "stream_options.include_usage");
        }
        Integer maxTokens = integer(root, "max_tokens");
        if (kind == Kind.CHAT && present(root, "max_completion_tokens") != null) {
            if (maxTokens != null) {
                throw ApiException.badRequest("max_completion_tokens", "give max_tokens or max_completion_tokens, not both");
            }
            maxTokens = integer(root, "max_completion_tokens");
        }
        String maxName = present(root, "max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
        apply(request, maxName, maxTokens, BlendRequest.Builder::maxTokens);
        apply(request, "temperature", number(root, "temperature"), BlendRequest.Builder::temperature);
        apply(request, "top_p", number(root, "top_p"), BlendRequest.Builder::topP);
        apply(request, "stop", stop(root), BlendRequest.Builder::stop);
        Long seed = longValue(root, "seed");
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong(1L << 53); // exact in a JSON double
        request.seed(s);

        Integer logprobs = logprobs(root, kind);

        boolean returnCandidates = false;
        JsonNode ext = present(root, "blender");
        Composition strategy = null;
        if (ext != null) {
            if (!ext.isObject()) {
                throw ApiException.badRequest("blender", "'blender' must be an object");
            }
            for (Iterator<String> it = ext.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!BLENDER.contains(f)) {
                    throw ApiException.unsupported("blender." + f, "unsupported blender setting '" + f + "'; known: "
                            + BLENDER.stream().sorted().toList());
                }
            }
            String name = text(ext, "strategy", "blender.strategy");
            if (name != null) {
                try {
                    strategy = Composition.named(name);
                } catch (IllegalArgumentException e) {
                    throw ApiException.badRequest("blender.strategy", e.getMessage());
                }
            }
            apply(request, "blender.candidates", integer(ext, "candidates", "blender.candidates"),
                    BlendRequest.Builder::candidatesPerModel);
            apply(request, "blender.top_k", integer(ext, "top_k", "blender.top_k"), BlendRequest.Builder::topK);
            returnCandidates = bool(ext, "return_candidates", "blender.return_candidates");
        }
        if (member != null) {
            Composition alone = strategy != null ? strategy : Composition.named("single");
            if (!alone.samplesFirst()) {
                throw ApiException.badRequest("blender.strategy", "model '" + model + "' is one generator: it answers"
                        + " with strategy single, self-blend or cascade, not " + alone.name() + "; ask '"
                        + models.blendId() + "' for " + alone.name());
            }
            strategy = alone;
            request.generator(member.path());
        }
        boolean alone = member != null && strategy.stages().equals(Composition.named("single").stages());
        boolean exact = kind == Kind.TEXT && alone;
        if (logprobs != null) {
            String param = kind == Kind.CHAT && present(root, "top_logprobs") != null ? "top_logprobs" : "logprobs";
            if (member == null) {
                throw ApiException.badRequest(param, "'" + param + "' needs one generator's id as the model (one of "
                        + models.generatorIds() + "): the blend '" + models.blendId() + "' has no per-token"
                        + " probabilities of one model");
            }
            if (!alone) {
                throw ApiException.badRequest(param, "'" + param + "' is given with strategy single only (the"
                        + " generator's own answer), not " + strategy.name());
            }
            if (config.remote(member.path()).isPresent()) {
                throw ApiException.badRequest(param, "'" + param + "': model '" + model + "' is a remote member,"
                        + " whose answers come without log-probabilities here");
            }
            if (stream) {
                throw ApiException.badRequest(param, "'" + param + "' is not streamed: ask without stream");
            }
            // the chosen tokens' own entries come with the top list: at least one alternative is asked for
            request.topLogprobs(Math.max(1, logprobs));
        }
        if (strategy != null) {
            if (!config.supports(strategy)) {
                throw ApiException.badRequest("blender.strategy", "strategy " + strategy.name()
                        + " needs generators this blend lacks; it has " + config.generatorNames());
            }
            request.composition(strategy);
        }
        return new CompletionRequest(kind, model, request.build(), s, stream, includeUsage, returnCandidates, logprobs, exact);
    }

    /** The strategy that will run. */
    Composition strategy(BlenderConfig config) {
        return blend.composition() != null ? blend.composition() : config.composition();
    }

    /**
     * The number of alternatives asked for, or null for none: {@code logprobs: N} on completions (OpenAI's
     * legacy API; 0, false or null ask for nothing, as before), {@code logprobs: true} with
     * {@code top_logprobs: N} (default 0) on chat.
     */
    private static Integer logprobs(JsonNode root, Kind kind) {
        JsonNode lp = present(root, "logprobs");
        int max = GenerationRequest.MAX_TOP_LOGPROBS;
        if (kind == Kind.TEXT) {
            if (lp == null || lp.isBoolean() && !lp.asBoolean()) {
                return null;
            }
            if (!lp.isIntegralNumber() || !lp.canConvertToInt() || lp.asInt() < 0 || lp.asInt() > max) {
                throw ApiException.badRequest("logprobs", "'logprobs' must be an integer from 0 to " + max + ", was "
                        + lp);
            }
            return lp.asInt() == 0 ? null : lp.asInt();
        }
        boolean asked;
        if (lp == null || lp.isIntegralNumber() && lp.asInt() == 0) {
            asked = false; // 0 was accepted as "none" before chat took logprobs
        } else if (lp.isBoolean()) {
            asked = lp.asBoolean();
        } else {
            throw ApiException.badRequest("logprobs", "'logprobs' must be true or false, was " + lp);
        }
        Integer top = integer(root, "top_logprobs");
        if (top != null && (top < 0 || top > max)) {
            throw ApiException.badRequest("top_logprobs", "'top_logprobs' must be from 0 to " + max + ", was " + top);
        }
        if (top != null && !asked) {
            throw ApiException.badRequest("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        return asked ? (top == null ? 0 : top) : null;
    }

    /** The request with one value set, when the client gave it; a value out of range is a 400 naming it. */
    private static <T> void apply(BlendRequest.Builder request, String param, T value,
                                  BiConsumer<BlendRequest.Builder, T> with) {
        if (value == null) {
            return;
        }
        try {
            with.accept(request, value);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(param, param + ": " + e.getMessage());
        }
    }

    private static List<Message> messages(JsonNode root) {
        JsonNode list = present(root, "messages");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw ApiException.badRequest("messages", "'messages' must be a non-empty array");
        }
        List<Message> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode m = list.get(i);
            String at = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiException.badRequest(at, at + " must be an object");
            }
            String role = text(m, "role", at + ".role");
            if (role == null) {
                throw ApiException.badRequest(at + ".role", at + " has no role");
            }
            role = switch (role) {
                case "system", "developer" -> "system"; // developer is the newer name of the system turn
                case "user", "assistant" -> role;
                default -> throw ApiException.badRequest(at + ".role", "role '" + role
                        + "' is not supported (system, developer, user, assistant)");
            };
            out.add(new Message(role, content(m.get("content"), at + ".content")));
        }
        if (!out.getLast().role().equals("user")) {
            throw ApiException.badRequest("messages", "the last message must be the user's, was "
                    + out.getLast().role());
        }
        return out;
    }

    /** A message's text: a string, or text parts joined. */
    private static String content(JsonNode c, String at) {
        if (c == null || c.isNull()) {
            return "";
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (c.isArray()) {
            StringBuilder b = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.badRequest(at, "only text content parts are supported");
                }
                b.append(part.get("text").asText());
            }
            return b.toString();
        }
        throw ApiException.badRequest(at, at + " must be a string or an array of text parts");
    }

    private static String prompt(JsonNode root) {
        JsonNode p = present(root, "prompt");
        if (p != null && p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            return p.get(0).asText();
        }
        if (p == null || !p.isTextual()) {
            throw ApiException.badRequest("prompt", "'prompt' must be a string (or an array of one string)");
        }
        return p.asText();
    }

    private static List<String> stop(JsonNode root) {
        JsonNode s = present(root, "stop");
        if (s == null) {
            return null;
        }
        if (s.isTextual()) {
            return List.of(s.asText());
        }
        if (s.isArray()) {
            List<String> out = new ArrayList<>();
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw ApiException.badRequest("stop", "'stop' must be a string or an array of strings");
                }
                out.add(e.asText());
            }
            return out;
        }
        throw ApiException.badRequest("stop", "'stop' must be a string or an array of strings");
    }

    /** A field's value, or null when it is absent or JSON null (which clients send for "not set"). */
    private static JsonNode present(JsonNode o, String field) {
        JsonNode v = o.get(field);
        return v == null || v.isNull() ? null : v;
    }

    /**
     * A field of one JSON type, or null when absent; another type is a 400 naming {@code param} (the
     * field's path, e.g. {@code blender.top_k}) and what it must be.
     */
    private static <T> T typed(JsonNode o, String field, String param, Predicate<JsonNode> ok, String mustBe,
                               Function<JsonNode, T> value) {
        JsonNode v = present(o, field);
        if (v == null) {
            return null;
        }
        if (!ok.test(v)) {
            throw ApiException.badRequest(param, "'" + param + "' must be " + mustBe);
        }
        return value.apply(v);
    }

    private static String text(JsonNode o, String field) {
        return text(o, field, field);
    }

    private static String text(JsonNode o, String field, String param) {
        return typed(o, field, param, JsonNode::isTextual, "a string", JsonNode::asText);
    }

    private static boolean bool(JsonNode o, String field) {
        return bool(o, field, field);
    }

    private static boolean bool(JsonNode o, String field, String param) {
        return Boolean.TRUE.equals(typed(o, field, param, JsonNode::isBoolean, "true or false", JsonNode::asBoolean));
    }

    private static Integer integer(JsonNode o, String field) {
        return integer(o, field, field);
    }

    private static Integer integer(JsonNode o, String field, String param) {
        return typed(o, field, param, v -> v.isIntegralNumber() && v.canConvertToInt(), "an integer", JsonNode::asInt);
    }

    private static Long longValue(JsonNode o, String field) {
        return typed(o, field, field, v -> v.isIntegralNumber() && v.canConvertToLong(), "an integer",
                JsonNode::asLong);
    }

    private static Float number(JsonNode o, String field) {
        return typed(o, field, field, JsonNode::isNumber, "a number", v -> (float) v.asDouble());
    }
}
