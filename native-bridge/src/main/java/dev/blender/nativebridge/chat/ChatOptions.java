package dev.blender.nativebridge.chat;

import java.time.Clock;
import java.time.LocalDateTime;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How a conversation is put through a model's chat template, beside the messages: whether the assistant's
 * turn is opened for the model to answer, the clock templates read with {@code strftime_now} (Llama 3.1's
 * "Today Date"), and the template's own switches ({@code enable_thinking} for Qwen3, {@code tools}...).
 * Immutable; start from {@link #defaults()}.
 *
 * @param addGenerationPrompt open the assistant's turn after the messages
 * @param clock               what "now" is for the template
 * @param variables           extra template variables, plain data (String, Number, Boolean, null, List, Map)
 */
public record ChatOptions(boolean addGenerationPrompt, Clock clock, Map<String, Object> variables) {

    /** The variable reasoning templates (Qwen3, SmolLM3, GLM, DeepSeek V3.1...) read to think or not. */
    public static final String ENABLE_THINKING = "enable_thinking";

    public ChatOptions {
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(variables, "variables");
        variables = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(variables));
    }

    /** The assistant's turn opened, the system clock, no extra variables. */
    public static ChatOptions defaults() {
        return new ChatOptions(true, Clock.systemDefaultZone(), Map.of());
    }

    public ChatOptions withGenerationPrompt(boolean add) {
        return new ChatOptions(add, clock, variables);
    }

    public ChatOptions withClock(Clock c) {
        return new ChatOptions(addGenerationPrompt, c, variables);
    }

    /** A copy with one more template variable, or one replaced. */
    public ChatOptions withVariable(String name, Object value) {
        Objects.requireNonNull(name, "name");
        Map<String, Object> v = new LinkedHashMap<>(variables);
        v.put(name, value);
        return new ChatOptions(addGenerationPrompt, clock, v);
    }

    /**
     * What a template renders for these messages (plain data: String, Number, Boolean, null, List, Map) with
     * these special-token texts, under these options.
     */
    public ChatTemplate.Input input(List<Map<String, Object>> messages, String bosToken, String eosToken) {
        return new ChatTemplate.Input(messages, addGenerationPrompt, bosToken, eosToken, LocalDateTime.now(clock),
                variables);
    }

    /** A copy with these template variables added (replacing any of the same names). */
    public ChatOptions withVariables(Map<String, Object> more) {
        Map<String, Object> v = new LinkedHashMap<>(variables);
        v.putAll(Objects.requireNonNull(more, "more"));
        return new ChatOptions(addGenerationPrompt, clock, v);
    }
}
