package dev.blender.nativebridge;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.blender.nativebridge.chat.ChatOptions;
import dev.blender.nativebridge.chat.ChatTemplate;
import dev.blender.nativebridge.chat.ChatTemplateException;
import dev.blender.nativebridge.chat.Reasoning;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's vocabulary: tokenising, detokenising, token text and special tokens, chat templates.
 * Thread-safe (llama.cpp's vocabulary is read-only once loaded). Every token id is checked against
 * {@link #size()} before it reaches llama.cpp, which would otherwise terminate the process; a model without
 * a tokenizer ({@link VocabType#NONE}) throws {@link LlamaException} from the text methods for the same reason.
 * Valid as long as its model is open; afterwards every method throws {@link IllegalStateException}.
 */
public final class Vocab {
    private final LlamaModel model;
    private final MemorySegment ptr;
    private final int size;
    private final VocabType type;
    private final int bos;
    private final int eos;
    private final int eot;
    private final int nl;
    private final int pad;
    private final boolean addBos;
    private final boolean addEos;
    /** Parsed on first use; races only parse twice. */
    private volatile Optional<ChatTemplate> parsedTemplate;
    private volatile Reasoning reasoning;

    Vocab(LlamaModel model, MemorySegment ptr) {
        this.model = model;
        this.ptr = ptr;
        try {
            this.size = (int) LlamaCpp.vocab_n_tokens.invokeExact(ptr);
            this.type = VocabType.of((int) LlamaCpp.vocab_type.invokeExact(ptr));
            this.bos = (int) LlamaCpp.vocab_bos.invokeExact(ptr);
            this.eos = (int) LlamaCpp.vocab_eos.invokeExact(ptr);
            this.eot = (int) LlamaCpp.vocab_eot.invokeExact(ptr);
            this.nl = (int) LlamaCpp.vocab_nl.invokeExact(ptr);
            this.pad = (int) LlamaCpp.vocab_pad.invokeExact(ptr);
            this.addBos = (boolean) LlamaCpp.vocab_get_add_bos.invokeExact(ptr);
            this.addEos = (boolean) LlamaCpp.vocab_get_add_eos.invokeExact(ptr);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    /** The model this vocabulary belongs to. */
    public LlamaModel model() {
        return model;
    }

    /** Number of tokens; valid ids are {@code 0 .. size()-1}. */
    public int size() {
        return size;
    }

    public VocabType type() {
        return type;
    }

    /** Beginning-of-sequence token id, or -1 if the vocabulary has none. */
    public int bos() {
        return bos;
    }

    /** End-of-sequence token id, or -1. */
    public int eos() {
        return eos;
    }

    /** End-of-turn token id (chat models), or -1. */
    public int eot() {
        return eot;
    }

    /** Newline token id, or -1. */
    public int newline() {
        return nl;
    }

    /** Padding token id, or -1. */
    public int pad() {
        return pad;
    }

    /** Whether tokenising with {@code addSpecial} prepends BOS. */
    public boolean addsBos() {
        return addBos;
    }

    /** Whether tokenising with {@code addSpecial} appends EOS. */
    public boolean addsEos() {
        return addEos;
    }

    /** Tokenises with special tokens added (BOS where the model wants it) and special text parsed. */
    public int[] tokenize(String text) {
        return tokenize(text, true, true);
    }

    /**
     * Tokenises UTF-8 text.
     *
     * @param addSpecial   add BOS/EOS as the model's metadata asks
     * @param parseSpecial treat special-token text such as {@code <s>} in the input as those tokens
     */
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        Objects.requireNonNull(text, "text");
        requireTokenizer();
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        model.retain();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(utf8.length + 1L);
            MemorySegment.copy(utf8, 0, in, JAVA_BYTE, 0, utf8.length);
            int capacity = utf8.length + 4; // a byte never yields more than one token, plus BOS/EOS
            MemorySegment out = arena.allocate(JAVA_INT, capacity);
            int n = (int) LlamaCpp.tokenize.invokeExact(ptr, in, utf8.length, out, capacity, addSpecial, parseSpecial);
            if (n < 0) {
                if (n == Integer.MIN_VALUE) {
                    throw new LlamaException("text too long to tokenise (" + utf8.length + " bytes)");
                }
                capacity = -n;
                out = arena.allocate(JAVA_INT, capacity);
                n = (int) LlamaCpp.tokenize.invokeExact(ptr, in, utf8.length, out, capacity, addSpecial, parseSpecial);
                if (n < 0) {
                    throw new LlamaException("llama_tokenize failed (" + n + ")");
                }
            }
            return out.asSlice(0, (long) n * Integer.BYTES).toArray(JAVA_INT);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /**
     * Turns tokens back into text.
     *
     * @param removeSpecial   drop a leading BOS / trailing EOS the model adds
     * @param unparseSpecial  render special and control tokens as their text instead of dropping them
     */
    public String detokenize(int[] tokens, boolean removeSpecial, boolean unparseSpecial) {
        Objects.requireNonNull(tokens, "tokens");
        requireTokenizer();
        checkTokens(tokens, tokens.length);
        model.retain();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(JAVA_INT, tokens);
            int capacity = Math.max(64, tokens.length * 8);
            MemorySegment out = arena.allocate(capacity);
            int n = (int) LlamaCpp.detokenize.invokeExact(ptr, in, tokens.length, out, capacity, removeSpecial,
                    unparseSpecial);
            if (n < 0) {
                capacity = -n;
                out = arena.allocate(capacity);
                n = (int) LlamaCpp.detokenize.invokeExact(ptr, in, tokens.length, out, capacity, removeSpecial,
                        unparseSpecial);
                if (n < 0) {
                    throw new LlamaException("llama_detokenize failed (" + n + ")");
                }
            }
            return new String(out.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /** Detokenises without special tokens: the text a user should see. */
    public String detokenize(int[] tokens) {
        return detokenize(tokens, true, false);
    }

    /**
     * The bytes a token contributes to output text. A byte token may carry part of a UTF-8 character,
     * which is why this returns bytes: join pieces before decoding them as text.
     *
     * @param special render control tokens as their text (otherwise they contribute nothing)
     */
    public byte[] piece(int token, boolean special) {
        requireTokenizer();
        checkToken(token);
        model.retain();
        try (Arena arena = Arena.ofConfined()) {
            int capacity = 32;
            MemorySegment buf = arena.allocate(capacity);
            int n = (int) LlamaCpp.token_to_piece.invokeExact(ptr, token, buf, capacity, 0, special);
            if (n < 0) {
                capacity = -n;
                buf = arena.allocate(capacity);
                n = (int) LlamaCpp.token_to_piece.invokeExact(ptr, token, buf, capacity, 0, special);
            }
            return buf.asSlice(0, Math.max(0, n)).toArray(JAVA_BYTE);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /** The token's text as stored in the vocabulary (e.g. {@code "▁the"} or {@code "<0x0A>"}). */
    public String text(int token) {
        requireTokenizer();
        checkToken(token);
        model.retain();
        try {
            MemorySegment s = (MemorySegment) LlamaCpp.vocab_get_text.invokeExact(ptr, token);
            return s.reinterpret(Long.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /** The tokenizer score of a token (SentencePiece log-probability or merge rank). */
    public float score(int token) {
        requireTokenizer();
        checkToken(token);
        model.retain();
        try {
            return (float) LlamaCpp.vocab_get_score.invokeExact(ptr, token);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /** The token's {@code llama_token_attr} bit set (normal, control, byte, user-defined, ...). */
    public int attributes(int token) {
        requireTokenizer();
        checkToken(token);
        model.retain();
        try {
            return (int) LlamaCpp.vocab_get_attr.invokeExact(ptr, token);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /** Whether generation should stop at this token (EOS, EOT and the like). */
    public boolean isEndOfGeneration(int token) {
        checkToken(token);
        model.retain();
        try {
            return (boolean) LlamaCpp.vocab_is_eog.invokeExact(ptr, token);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /** Whether the token is a control token (BOS, EOS, role markers). */
    public boolean isControl(int token) {
        requireTokenizer();
        checkToken(token);
        model.retain();
        try {
            return (boolean) LlamaCpp.vocab_is_control.invokeExact(ptr, token);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        } finally {
            model.release();
        }
    }

    /**
     * Formats a conversation with the model's own chat template, executed as written ({@link ChatTemplate}), the
     * assistant's turn opened when {@code addAssistantPrefix}.
     *
     * @throws LlamaException        the model has no chat template
     * @throws ChatTemplateException the template cannot be run (the message names the construct) or refuses
     *                               the conversation
     */
    public String applyChatTemplate(List<ChatMessage> messages, boolean addAssistantPrefix) {
        return applyChatTemplate(messages, ChatOptions.defaults().withGenerationPrompt(addAssistantPrefix));
    }

    /**
     * Formats a conversation with the model's own chat template as Hugging Face transformers renders it, with
     * this vocabulary's BOS and EOS texts as {@code bos_token} and {@code eos_token}.
     *
     * @throws LlamaException        the model has no chat template
     * @throws ChatTemplateException the template cannot be run (the message names the model and the construct)
     *                               or refuses the conversation
     */
    public String applyChatTemplate(List<ChatMessage> messages, ChatOptions options) {
        Objects.requireNonNull(messages, "messages");
        List<Map<String, Object>> turns = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            turns.add(Map.of("role", m.role(), "content", m.content()));
        }
        return renderChat(turns, options);
    }

    /**
     * {@link #applyChatTemplate(List, ChatOptions)} of messages given as plain data, as a chat API receives them
     * (String, Number, Boolean, null, List, Map: tool calls, reasoning content and the like included).
     *
     * @throws LlamaException        the model has no chat template
     * @throws ChatTemplateException the template cannot be run or refuses the conversation
     */
    public String renderChat(List<Map<String, Object>> messages, ChatOptions options) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(options, "options");
        ChatTemplate template = chatTemplate().orElseThrow(() -> new LlamaException("model "
                + model.path().getFileName() + " has no chat template (tokenizer.chat_template); "
                + "use applyBuiltinChatTemplate(name, ...) for one of llama.cpp's built-in formats"));
        try {
            return template.render(options.input(messages, specialText(bos), specialText(eos)));
        } catch (ChatTemplateException e) {
            throw e.in("the chat template of " + model.path().getFileName());
        }
    }

    /**
     * The model's chat template, parsed once.
     *
     * @throws ChatTemplateException the template is not Jinja this engine can run (naming the model and construct)
     */
    public Optional<ChatTemplate> chatTemplate() {
        Optional<ChatTemplate> t = parsedTemplate;
        if (t == null) {
            try {
                t = model.chatTemplate().map(ChatTemplate::parse);
            } catch (ChatTemplateException e) {
                throw e.in("the chat template of " + model.path().getFileName());
            }
            parsedTemplate = t;
        }
        return t;
    }

    /** Where this model's thinking ends and its answer begins, read off its chat template. */
    public Reasoning reasoning() {
        Reasoning r = reasoning;
        if (r == null) {
            r = Reasoning.forTemplate(model.chatTemplate().orElse(null));
            reasoning = r;
        }
        return r;
    }

    /**
     * Tokens of a conversation rendered by {@link #applyChatTemplate}: its special-token texts read as those
     * tokens, and BOS added where the model wants one but never twice. Templates write {@code bos_token}
     * themselves (Llama 3, Gemma, Mistral), so a BOS at the start of the text is dropped before the tokenizer
     * adds its own, as llama.cpp's server does.
     */
    public int[] tokenizeChat(String rendered) {
        Objects.requireNonNull(rendered, "rendered");
        String text = rendered;
        String b = specialText(bos);
        if (addBos && !b.isEmpty() && text.startsWith(b)) {
            text = text.substring(b.length());
        }
        return tokenize(text, true, true);
    }

    private String specialText(int token) {
        return token < 0 || token >= size || type == VocabType.NONE ? "" : text(token);
    }

    /**
     * Formats a conversation with one of llama.cpp's built-in chat formats, by name ({@code "chatml"},
     * {@code "llama3"}, {@code "gemma"}, ...) or by a template text it recognises. llama.cpp (b4916 and v0.5.0
     * alike) matches templates against its built-in list and writes its own approximation; it does not execute
     * Jinja. A fallback for a model whose own template cannot be run: {@link #applyChatTemplate} is the faithful
     * way.
     */
    public static String applyBuiltinChatTemplate(String template, List<ChatMessage> messages,
                                                  boolean addAssistantPrefix) {
        Objects.requireNonNull(template, "template");
        Objects.requireNonNull(messages, "messages");
        LlamaBackend.ensureInitialized();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chat = arena.allocate(Layouts.CHAT_MESSAGE, Math.max(1, messages.size()));
            long total = 0;
            for (int i = 0; i < messages.size(); i++) {
                ChatMessage m = messages.get(i);
                MemorySegment slot = chat.asSlice(i * Layouts.CHAT_MESSAGE.byteSize(), Layouts.CHAT_MESSAGE);
                slot.set(ADDRESS, 0, arena.allocateFrom(m.role()));
                slot.set(ADDRESS, ADDRESS.byteSize(), arena.allocateFrom(m.content()));
                total += m.content().length() * 4L + m.role().length() + 16;
            }
            int capacity = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(256, total * 2));
            MemorySegment buf = arena.allocate(capacity);
            MemorySegment tmpl = arena.allocateFrom(template);
            int n = (int) LlamaCpp.chat_apply_template.invokeExact(tmpl, chat, (long) messages.size(),
                    addAssistantPrefix, buf, capacity);
            if (n < 0) {
                throw new LlamaException("llama.cpp " + LlamaBackend.version() + " does not support this chat template: "
                        + abbreviate(template) + " (use a built-in name such as chatml, llama3, gemma, zephyr)");
            }
            if (n > capacity) {
                capacity = n;
                buf = arena.allocate(capacity);
                n = (int) LlamaCpp.chat_apply_template.invokeExact(tmpl, chat, (long) messages.size(),
                        addAssistantPrefix, buf, capacity);
            }
            return new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw LlamaCpp.rethrow(t);
        }
    }

    private static String abbreviate(String s) {
        String one = s.replace('\n', ' ');
        return one.length() <= 60 ? '"' + one + '"' : '"' + one.substring(0, 57) + "...\"";
    }

    /**
     * A model whose tokenizer.ggml.model is "none" (or "no_vocab") has token ids but no tokenizer: llama.cpp
     * asserts on every text call (llama-vocab.cpp: GGML_ASSERT(tokenizer && "Tokenizer not initialized...")
     * and GGML_ASSERT(type != LLAMA_VOCAB_TYPE_NONE)), which would abort the process.
     */
    private void requireTokenizer() {
        if (type == VocabType.NONE) {
            throw new LlamaException("model " + model.path().getFileName() + " has no vocabulary (its"
                    + " tokenizer.ggml.model is \"none\"): it takes token ids only and cannot tokenise, detokenise"
                    + " or give token texts");
        }
    }

    void checkToken(int token) {
        if (token < 0 || token >= size) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary of "
                    + model.path().getFileName() + " (0.." + (size - 1) + ")");
        }
    }

    void checkTokens(int[] tokens, int n) {
        for (int i = 0; i < n; i++) {
            checkToken(tokens[i]);
        }
    }

    @Override
    public String toString() {
        return "Vocab[" + type + ", " + size + " tokens, model " + model.path().getFileName() + "]";
    }
}
