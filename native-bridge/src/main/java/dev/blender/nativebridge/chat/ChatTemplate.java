package dev.blender.nativebridge.chat;

import java.time.Duration;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A Hugging Face chat template (Jinja), parsed once and rendered as Python's jinja2 renders it under transformers'
 * {@code apply_chat_template}: a sandboxed environment with {@code trim_blocks}, {@code lstrip_blocks}, loop controls,
 * {@code raise_exception}, {@code strftime_now} and transformers' {@code tojson}.
 *
 * <p>A template read from a model file is untrusted code. It sees only the render's own data (strings, numbers,
 * booleans, None, lists and dicts, copied from the {@link Input}) and the methods Python's str, list and dict offer
 * that do not modify anything; no Java object is reachable. Every render is bounded by {@link Limits}: time,
 * output size, macro depth, loop iterations and collection size; reaching one throws a {@link ChatTemplateException}
 * of kind {@code LIMIT}. Anything the engine does not provide is an error naming the construct, never a guess.
 *
 * <p>Thread safety: a ChatTemplate is immutable and may be rendered from many threads at once; each render keeps
 * its state to itself.
 */
public final class ChatTemplate {

    /** How deeply tags and expressions may nest in the source; deeper source is refused when parsed. */
    static final int MAX_NESTING = 200;

    private static final Set<String> RESERVED = Set.of("messages", "add_generation_prompt", "bos_token", "eos_token");

    private final List<Node.Stmt> body;

    private ChatTemplate(List<Node.Stmt> body) {
        this.body = body;
    }

    /**
     * Parses a template.
     *
     * @throws ChatTemplateException of kind SYNTAX (naming the construct and line), UNSUPPORTED (include, import...)
     *     or LIMIT (nesting deeper than {@value #MAX_NESTING})
     */
    public static ChatTemplate parse(String source) {
        Objects.requireNonNull(source, "source");
        try {
            return new ChatTemplate(Parser.parse(source, MAX_NESTING));
        } catch (StackOverflowError e) {
            throw new ChatTemplateException(ChatTemplateException.Kind.LIMIT, 0, "template nested too deeply to parse");
        }
    }

    /** Renders with the default limits. */
    public String render(Input input) {
        return render(input, Limits.DEFAULT);
    }

    /**
     * Renders the conversation in {@code input}.
     *
     * @throws ChatTemplateException when the template raises, fails as Python would, or reaches a limit
     */
    public String render(Input input, Limits limits) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(limits, "limits");
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("tools", null);
        vars.put("documents", null);
        for (Map.Entry<String, Object> e : input.variables().entrySet()) vars.put(e.getKey(), Py.fromJava(e.getValue(), 0));
        vars.put("messages", Py.fromJava(input.messages(), 0));
        vars.put("add_generation_prompt", input.addGenerationPrompt());
        vars.put("bos_token", input.bosToken());
        vars.put("eos_token", input.eosToken());
        try {
            return new Renderer(limits, input.now(), vars).render(body);
        } catch (StackOverflowError e) {
            // the depth limits normally stop first; this catches a caller thread with a very small stack
            throw new ChatTemplateException(ChatTemplateException.Kind.LIMIT, 0, "template recursion exhausted the thread's stack");
        }
    }

    /**
     * What a template renders: the messages (plain data as parsed from JSON: String, Number, Boolean, null, List,
     * Map), whether to open the assistant's turn, the family's special tokens, the clock {@code strftime_now} reads,
     * and extra template variables ({@code tools}, {@code documents}, {@code enable_thinking}...; {@code tools} and
     * {@code documents} are None unless given).
     */
    public record Input(List<Map<String, Object>> messages, boolean addGenerationPrompt, String bosToken, String eosToken,
            LocalDateTime now, Map<String, Object> variables) {

        public Input {
            Objects.requireNonNull(messages, "messages");
            Objects.requireNonNull(bosToken, "bosToken");
            Objects.requireNonNull(eosToken, "eosToken");
            Objects.requireNonNull(now, "now");
            Objects.requireNonNull(variables, "variables");
            for (Map<String, Object> m : messages) Objects.requireNonNull(m, "a message is null");
            messages = Collections.unmodifiableList(new ArrayList<>(messages));
            Map<String, Object> vars = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : variables.entrySet()) {
                String name = Objects.requireNonNull(e.getKey(), "a variable name is null");
                if (RESERVED.contains(name)) {
                    throw new IllegalArgumentException("variable '" + name + "' is set by its own Input field, not in variables");
                }
                vars.put(name, e.getValue());
            }
            variables = Collections.unmodifiableMap(vars);
            // rejects values a template may not see (host objects, cycles too deep) now rather than at render
            Py.fromJava(messages, 0);
            Py.fromJava(variables, 0);
        }

        /** The messages with a generation prompt, no special tokens, the current time and no extra variables. */
        public static Input of(List<Map<String, Object>> messages) {
            return new Input(messages, true, "", "", LocalDateTime.now(), Map.of());
        }

        public Input withAddGenerationPrompt(boolean add) {
            return new Input(messages, add, bosToken, eosToken, now, variables);
        }

        public Input withTokens(String bos, String eos) {
            return new Input(messages, addGenerationPrompt, bos, eos, now, variables);
        }

        public Input withNow(LocalDateTime time) {
            return new Input(messages, addGenerationPrompt, bosToken, eosToken, time, variables);
        }

        /** A copy with one more template variable (or a replaced one). */
        public Input withVariable(String name, Object value) {
            Map<String, Object> vars = new LinkedHashMap<>(variables);
            vars.put(name, value);
            return new Input(messages, addGenerationPrompt, bosToken, eosToken, now, vars);
        }
    }

    /**
     * Bounds on one render.
     *
     * @param timeout wall-clock time, checked at every loop iteration and call
     * @param maxOutputChars the longest output, and the longest string or printed value built on the way; all the
     *     strings and collections one render builds may add up to 16 times this
     * @param maxDepth how deeply macros may call each other (or themselves)
     * @param maxLoopIterations for-loop iterations in the whole render
     * @param maxCollectionSize the largest list, dict or range
     */
    public record Limits(Duration timeout, int maxOutputChars, int maxDepth, long maxLoopIterations, int maxCollectionSize) {

        /** 1 s, 4 M characters, depth 64, 1 M iterations, 100 000 items (jinja2's sandbox range limit). */
        public static final Limits DEFAULT = new Limits(Duration.ofSeconds(1), 4_000_000, 64, 1_000_000, 100_000);

        public Limits {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive: " + timeout);
            if (maxOutputChars <= 0) throw new IllegalArgumentException("maxOutputChars must be positive: " + maxOutputChars);
            if (maxDepth <= 0) throw new IllegalArgumentException("maxDepth must be positive: " + maxDepth);
            if (maxLoopIterations <= 0) throw new IllegalArgumentException("maxLoopIterations must be positive: " + maxLoopIterations);
            if (maxCollectionSize <= 0) throw new IllegalArgumentException("maxCollectionSize must be positive: " + maxCollectionSize);
        }

        public Limits withTimeout(Duration t) {
            return new Limits(t, maxOutputChars, maxDepth, maxLoopIterations, maxCollectionSize);
        }
    }
}
