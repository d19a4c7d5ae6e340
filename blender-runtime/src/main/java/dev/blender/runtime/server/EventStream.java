package dev.blender.runtime.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.BlendResult;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A streamed answer as server-sent events, data lines only (OpenAI's client reads an event with a name
 * as something else than a chunk): a first chunk whose delta has the role, one chunk per piece of
 * text, a last chunk with the finish reason, the usage chunk when asked for, then {@code [DONE]}.
 *
 * <p>The stream starts with the answer's first text, not with the request: until then an error (a
 * prompt too long for a context, say) still gets its own HTTP status. The text is the answer exactly:
 * leading whitespace is dropped and trailing whitespace held back until more text follows, as the
 * non-streamed answer is stripped; a completion one generator answers alone comes as it writes it.
 */
final class EventStream implements BlendListener {
    private static final Map<String, String> HEADERS = Map.of("Content-Type", "text/event-stream; charset=utf-8",
            "Cache-Control", "no-cache");

    private final Exchange exchange;
    private final CompletionRequest request;
    private final Responses responses;
    private final ObjectMapper mapper;
    private final String id;
    private final long created;
    private final StringBuilder heldBack = new StringBuilder();
    private boolean started;

    EventStream(Exchange exchange, CompletionRequest request, Responses responses, ObjectMapper mapper, String id,
                long created) {
        this.exchange = exchange;
        this.request = request;
        this.responses = responses;
        this.mapper = mapper;
        this.id = id;
        this.created = created;
    }

    @Override
    public void onAnswer(String text) {
        if (text.isEmpty() || exchange.isGone()) {
            return;
        }
        if (request.exact()) {
            // a completion one generator writes continues the prompt: its whitespace is part of it
            start();
            ObjectNode chunk = responses.chunk(request, id, created, null);
            ((ObjectNode) chunk.get("choices").get(0)).put("text", text);
            send(chunk);
            return;
        }
        String t = started ? text : text.stripLeading();
        if (!started && t.isEmpty()) {
            return;
        }
        heldBack.append(t);
        int end = heldBack.length();
        while (end > 0 && Character.isWhitespace(heldBack.charAt(end - 1))) {
            end--;
        }
        if (end == 0) {
            return;
        }
        String out = heldBack.substring(0, end);
        heldBack.delete(0, end);
        start();
        ObjectNode chunk = responses.chunk(request, id, created, null);
        if (request.kind() == CompletionRequest.Kind.CHAT) {
            ((ObjectNode) chunk.get("choices").get(0).get("delta")).put("content", out);
        } else {
            ((ObjectNode) chunk.get("choices").get(0)).put("text", out);
        }
        send(chunk);
    }

    /** Whether any of the response was sent: after that an error can only be an event in the stream. */
    boolean started() {
        return started;
    }

    private void start() {
        if (started) {
            return;
        }
        started = true;
        exchange.startStream(200, HEADERS);
        if (request.kind() == CompletionRequest.Kind.CHAT) {
            ObjectNode first = responses.chunk(request, id, created, null);
            ((ObjectNode) first.get("choices").get(0).get("delta")).put("role", "assistant").put("content", "");
            send(first);
        }
    }

    /** The last chunk (finish reason and the {@code blender} extension), the usage chunk if asked, {@code [DONE]}. */
    void finish(BlendResult r) {
        start();
        ObjectNode last = responses.chunk(request, id, created, Responses.finishReason(r.finishReason()));
        last.set("blender", responses.blender(request, r));
        send(last);
        if (request.includeUsage()) {
            send(responses.usageChunk(request, id, created, r));
        }
        sendData("[DONE]");
        exchange.endStream();
    }

    /** An error after the stream started: an event OpenAI's client raises as an APIError; no {@code [DONE]}. */
    void fail(ApiException e) {
        send(e.toJson(mapper));
        exchange.endStream();
    }

    private void send(ObjectNode chunk) {
        try {
            sendData(mapper.writeValueAsString(chunk));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void sendData(String data) {
        exchange.streamPart(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    }
}
