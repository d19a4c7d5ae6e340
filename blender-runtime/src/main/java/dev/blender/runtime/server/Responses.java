package dev.blender.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Completion;
import dev.blender.runtime.pipeline.Completion.Alternative;
import dev.blender.runtime.pipeline.Completion.FinishReason;
import dev.blender.runtime.pipeline.Completion.TokenLogprobs;

/** The JSON bodies of OpenAI's completion objects, chunks, model list and usage, for a blend. */
final class Responses {
    private final ObjectMapper mapper;

    Responses(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    /** A whole {@code chat.completion} or {@code text_completion}. */
    ObjectNode completion(CompletionRequest req, String id, long created, BlendResult r) {
        ObjectNode root = head(req, id, created, req.kind().object);
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        Completion by = answerCandidate(r);
        String text = req.exact() && by != null ? by.text() : r.answer();
        if (req.kind() == CompletionRequest.Kind.CHAT) {
            choice.putObject("message").put("role", "assistant").put("content", text).putNull("refusal");
        } else {
            choice.put("text", text);
        }
        if (req.logprobs() != null && by != null) {
            choice.set("logprobs", req.kind() == CompletionRequest.Kind.CHAT ? chatLogprobs(by, req.logprobs())
                    : legacyLogprobs(by, req.logprobs(), text));
        } else {
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", finishReason(r.finishReason()));
        root.set("usage", usage(r.usage()));
        root.set("blender", blender(req, r));
        return root;
    }

    /** The candidate that wrote the answer: the first whose text is the answer (a generator alone has one). */
    static Completion answerCandidate(BlendResult r) {
        return r.candidates().stream().map(BlendResult.Sampled::candidate)
                .filter(c -> c.text().strip().equals(r.answer())).findFirst().orElse(null);
    }

    /**
     * OpenAI's chat shape: per token (the end of generation included, as {@code </s>}, where the model ended
     * the answer) its text, log-probability, UTF-8 bytes and the {@code n} most likely tokens.
     */
    ObjectNode chatLogprobs(Completion c, int n) {
        ObjectNode lp = mapper.createObjectNode();
        ArrayNode content = lp.putArray("content");
        for (TokenLogprobs step : c.topLogprobs()) {
            ObjectNode entry = chatEntry(step.chosen());
            ArrayNode top = entry.putArray("top_logprobs");
            step.top().stream().limit(n).forEach(a -> top.add(chatEntry(a)));
            content.add(entry);
        }
        lp.putNull("refusal");
        return lp;
    }

    private ObjectNode chatEntry(Alternative a) {
        ObjectNode e = mapper.createObjectNode();
        e.put("token", a.text());
        e.put("logprob", a.logprob());
        ArrayNode bytes = e.putArray("bytes");
        for (byte b : a.bytes()) {
            bytes.add(b & 0xff);
        }
        return e;
    }

    /**
     * OpenAI's legacy completions shape: {@code tokens}, {@code token_logprobs}, {@code top_logprobs} (an
     * object from token to log-probability per token, the {@code n} most likely) and {@code text_offset}
     * (where each token starts in {@code text}). The end of generation is listed as a last token that adds
     * no text, so that a client asking for one token sees the alternatives to ending.
     */
    ObjectNode legacyLogprobs(Completion c, int n, String text) {
        ObjectNode lp = mapper.createObjectNode();
        ArrayNode tokens = lp.putArray("tokens");
        ArrayNode logprobs = lp.putArray("token_logprobs");
        ArrayNode tops = lp.putArray("top_logprobs");
        ArrayNode offsets = lp.putArray("text_offset");
        java.io.ByteArrayOutputStream written = new java.io.ByteArrayOutputStream();
        for (int k = 0; k < c.topLogprobs().size(); k++) {
            TokenLogprobs step = c.topLogprobs().get(k);
            tokens.add(legacyToken(step.chosen()));
            logprobs.add(step.chosen().logprob());
            ObjectNode top = tops.addObject();
            // two tokens that write the same text are one key: the likelier stands
            step.top().stream().limit(n).forEach(a -> {
                if (!top.has(legacyToken(a))) {
                    top.put(legacyToken(a), a.logprob());
                }
            });
            offsets.add(Math.min(text.length(), new String(written.toByteArray(), StandardCharsets.UTF_8).length()));
            if (k < c.tokenCount()) {
                written.writeBytes(step.chosen().bytes());
            }
        }
        return lp;
    }

    /** A token as OpenAI's legacy API writes it: its text, or {@code bytes:\xNN...} where that is part of a character. */
    static String legacyToken(Alternative a) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(a.bytes())).toString().equals(a.text())
                    ? a.text() : escaped(a.bytes());
        } catch (java.nio.charset.CharacterCodingException e) {
            return escaped(a.bytes());
        }
    }

    private static String escaped(byte[] bytes) {
        StringBuilder b = new StringBuilder("bytes:");
        for (byte x : bytes) {
            b.append(String.format("\\x%02x", x & 0xff));
        }
        return b.toString();
    }

    /** A streamed chunk with one choice, whose {@code delta} (chat) or {@code text} the caller fills. */
    ObjectNode chunk(CompletionRequest req, String id, long created, String finishReason) {
        ObjectNode root = head(req, id, created, req.kind() == CompletionRequest.Kind.CHAT
                ? "chat.completion.chunk" : "text_completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        if (req.kind() == CompletionRequest.Kind.CHAT) {
            choice.putObject("delta");
        } else {
            choice.put("text", "");
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        return root;
    }

    /** The chunk {@code stream_options.include_usage} asks for: no choices, the whole request's usage. */
    ObjectNode usageChunk(CompletionRequest req, String id, long created, BlendResult r) {
        ObjectNode root = head(req, id, created, req.kind() == CompletionRequest.Kind.CHAT
                ? "chat.completion.chunk" : "text_completion");
        root.putArray("choices");
        root.set("usage", usage(r.usage()));
        return root;
    }

    private ObjectNode head(CompletionRequest req, String id, long created, String object) {
        ObjectNode root = mapper.createObjectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", req.model());
        return root;
    }

    /** Every token every stage decoded, then the same per stage under {@code blender}. */
    ObjectNode usage(BlendResult.Usage u) {
        ObjectNode usage = mapper.createObjectNode();
        usage.put("prompt_tokens", u.promptTokens());
        usage.put("completion_tokens", u.generatedTokens());
        usage.put("total_tokens", u.totalTokens());
        ObjectNode stages = usage.putObject("blender");
        for (BlendResult.StageUsage s : u.stages()) {
            var stage = stages.putObject(s.stage()).put("prompt_tokens", s.promptTokens())
                    .put("completion_tokens", s.generatedTokens()).put("total_tokens", s.totalTokens());
            if (s.speculation().drafted() > 0) {
                stage.put("drafted_tokens", s.speculation().drafted()).put("accepted_tokens", s.speculation().accepted())
                        .put("decodes_saved", s.speculation().decodesSaved());
            }
        }
        return usage;
    }

    /** The {@code blender} extension of a response: strategy, seed, timings; the stages when asked for. */
    ObjectNode blender(CompletionRequest req, BlendResult r) {
        ObjectNode b = mapper.createObjectNode();
        b.put("strategy", r.strategy());
        b.put("seed", req.seed());
        return BlendResultJson.putDetails(b, r, req.returnCandidates());
    }

    /** {@code GET /v1/models}: the blend first, then each member with its role. */
    ObjectNode models(ServedModels models, BlenderConfig config, long created) {
        ObjectNode root = mapper.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        data.add(blendModel(models, config, created));
        for (ServedModels.Member m : models.members()) {
            data.add(member(m, created));
        }
        return root;
    }

    ObjectNode blendModel(ServedModels models, BlenderConfig config, long created) {
        ObjectNode blend = model(models.blendId(), created);
        ObjectNode ext = blend.putObject("blender");
        ext.put("role", "blend");
        ext.put("strategy", config.composition().name());
        ArrayNode members = ext.putArray("members");
        models.members().forEach(m -> members.add(m.id()));
        return blend;
    }

    ObjectNode member(ServedModels.Member m, long created) {
        ObjectNode node = model(m.id(), created);
        node.putObject("blender").put("role", m.role()).put("answers", m.answers());
        return node;
    }

    private ObjectNode model(String id, long created) {
        ObjectNode m = mapper.createObjectNode();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "blender");
        return m;
    }

    /** OpenAI's two reasons: a natural end (end of generation or a stop string), or a budget reached. */
    static String finishReason(FinishReason reason) {
        return switch (reason) {
            case LENGTH, CONTEXT_FULL -> "length";
            case END_OF_GENERATION, STOP, CANCELLED -> "stop";
        };
    }
}
