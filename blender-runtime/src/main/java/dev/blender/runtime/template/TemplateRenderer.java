package dev.blender.runtime.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.LlamaException;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.chat.ChatOptions;
import dev.blender.nativebridge.chat.ChatTemplate;
import dev.blender.nativebridge.chat.ChatTemplateException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What prompt a model really gets: a conversation rendered with a model's own chat template and special tokens,
 * or with a template file and tokens given, exactly as blends render it ({@code blender template}). Stateless
 * apart from a batch's cache of parsed template files; one renderer per thread.
 */
public final class TemplateRenderer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<Path, ChatTemplate> parsed = new HashMap<>();

    /**
     * Renders with the model file's own template and BOS/EOS texts (only its vocabulary is loaded).
     *
     * @throws LlamaException        the file cannot be loaded or has no chat template
     * @throws ChatTemplateException the template cannot be run or refuses the conversation
     */
    public static String renderModel(Path gguf, List<Map<String, Object>> messages, ChatOptions options) {
        try (LlamaModel model = LlamaModel.load(gguf, ModelOptions.defaults().withVocabOnly(true))) {
            return model.vocab().renderChat(messages, options);
        }
    }

    /**
     * Renders a template's source with the given special-token texts.
     *
     * @throws ChatTemplateException the template cannot be run or refuses the conversation
     */
    public static String renderTemplate(String source, String bosToken, String eosToken,
                                        List<Map<String, Object>> messages, ChatOptions options) {
        return ChatTemplate.parse(source).render(options.input(messages, bosToken, eosToken));
    }

    /** Options of one render: a fixed clock where {@code now} is given, template variables from {@code kwargs}. */
    public static ChatOptions options(boolean addGenerationPrompt, LocalDateTime now, Map<String, Object> kwargs) {
        ChatOptions o = ChatOptions.defaults().withGenerationPrompt(addGenerationPrompt).withVariables(kwargs);
        return now == null ? o : o.withClock(Clock.fixed(now.toInstant(ZoneOffset.UTC), ZoneOffset.UTC));
    }

    /**
     * A conversation from JSON: an array of message objects, or an object with a {@code messages} array.
     *
     * @throws IllegalArgumentException anything else, naming what was found
     */
    public static List<Map<String, Object>> messages(JsonNode json) {
        JsonNode list = json != null && json.isObject() && json.has("messages") ? json.get("messages") : json;
        if (list == null || !list.isArray()) {
            throw new IllegalArgumentException("messages must be a JSON array of message objects (or an object with"
                    + " \"messages\"), was " + (json == null ? "nothing" : json.getNodeType().name().toLowerCase()));
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode m = list.get(i);
            if (!m.isObject()) {
                throw new IllegalArgumentException("messages[" + i + "] must be an object, was "
                        + m.getNodeType().name().toLowerCase());
            }
            out.add(plain(m));
        }
        return out;
    }

    /** Template variables from a JSON object ({@code --kwargs}, a batch line's {@code kwargs}). */
    public static Map<String, Object> kwargs(JsonNode json, String field) {
        if (json == null || json.isNull()) {
            return Map.of();
        }
        if (!json.isObject()) {
            throw new IllegalArgumentException(field + " must be a JSON object, was " + json.getNodeType().name()
                    .toLowerCase());
        }
        return plain(json);
    }

    /** An ISO local date-time such as {@code 2026-07-26T09:30:00}, or a date alone (midnight). */
    public static LocalDateTime now(String iso, String field) {
        if (iso == null) {
            return null;
        }
        try {
            return iso.contains("T") ? LocalDateTime.parse(iso) : java.time.LocalDate.parse(iso).atStartOfDay();
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException(field + " must be an ISO date or date-time such as 2026-07-26T09:30:00,"
                    + " was '" + iso + "'");
        }
    }

    private static Map<String, Object> plain(JsonNode object) {
        Map<String, Object> out = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = object.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            out.put(e.getKey(), JSON.convertValue(e.getValue(), Object.class));
        }
        return out;
    }

    /** How a batch went. */
    public record Summary(int rendered, int failed) {}

    /**
     * Renders one JSON object per input line, {@code {"template": PATH, "messages": [...], "add_generation_prompt",
     * "bos_token", "eos_token", "now", "kwargs"}}, writing one line per input in order: {@code {"text": ...}} or
     * {@code {"error": ...}}. A line that is not valid JSON, or names a template that cannot be read, is an error
     * line too; the batch goes on. Template files are read and parsed once.
     */
    public Summary renderBatch(BufferedReader in, Writer out, Path baseDir) throws IOException {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(out, "out");
        int ok = 0;
        int failed = 0;
        int lineNo = 0;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            ObjectNode result = JSON.createObjectNode();
            try {
                result.put("text", renderLine(JSON.readTree(line), baseDir));
                ok++;
            } catch (ChatTemplateException | IllegalArgumentException | UncheckedIOException e) {
                result.put("error", e.getMessage());
                failed++;
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                result.put("error", "line " + lineNo + " is not JSON: " + e.getOriginalMessage());
                failed++;
            }
            out.write(JSON.writeValueAsString(result));
            out.write('\n');
        }
        out.flush();
        return new Summary(ok, failed);
    }

    private String renderLine(JsonNode line, Path baseDir) {
        if (!line.isObject()) {
            throw new IllegalArgumentException("each line must be a JSON object");
        }
        JsonNode t = line.get("template");
        if (t == null || !t.isTextual()) {
            throw new IllegalArgumentException("\"template\" must be the path of a template file");
        }
        Path path = baseDir.resolve(t.asText());
        ChatTemplate template = parsed.computeIfAbsent(path, p -> {
            try {
                return ChatTemplate.parse(Files.readString(p));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read template " + p + ": " + e.getMessage(), e);
            }
        });
        ChatOptions options = options(bool(line, "add_generation_prompt", true), now(text(line, "now"), "\"now\""),
                kwargs(line.get("kwargs"), "\"kwargs\""));
        String bos = text(line, "bos_token");
        String eos = text(line, "eos_token");
        return template.render(options.input(messages(line.get("messages")), bos == null ? "" : bos,
                eos == null ? "" : eos));
    }

    private static String text(JsonNode line, String field) {
        JsonNode v = line.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("\"" + field + "\" must be a string, was " + v.getNodeType().name()
                    .toLowerCase());
        }
        return v.asText();
    }

    private static boolean bool(JsonNode line, String field, boolean otherwise) {
        JsonNode v = line.get(field);
        if (v == null || v.isNull()) {
            return otherwise;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("\"" + field + "\" must be true or false, was " + v);
        }
        return v.asBoolean();
    }
}
