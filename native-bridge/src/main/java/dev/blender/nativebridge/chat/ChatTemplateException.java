package dev.blender.nativebridge.chat;

import java.util.Objects;

/**
 * Why a chat template could not be parsed or rendered. The message names the construct and the template
 * line where there is one ("line 12: unknown tag 'foo'"), so the user can find it in the template.
 */
public final class ChatTemplateException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What kind of failure, so callers can tell a broken template from a refused conversation or a limit. */
    public enum Kind {
        /** The template source is not valid Jinja. */
        SYNTAX,
        /** Valid Jinja, but a construct this engine does not provide (include, an unknown filter...). */
        UNSUPPORTED,
        /** The template refused the input itself, with {@code raise_exception(message)}. */
        RAISED,
        /** A limit of {@link ChatTemplate.Limits} was reached: time, output, depth or size. */
        LIMIT,
        /** An error while rendering, as Python would raise: a wrong type, an undefined value, a bad index. */
        RUNTIME
    }

    private final Kind kind;
    private final int line;

    ChatTemplateException(Kind kind, int line, String message) {
        super(line > 0 ? "line " + line + ": " + message : message);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.line = line;
    }

    private ChatTemplateException(ChatTemplateException cause, String where) {
        super(where + ": " + cause.getMessage(), cause);
        this.kind = cause.kind;
        this.line = cause.line;
    }

    /** The same failure, its message prefixed with where the template came from (a model's file name). */
    public ChatTemplateException in(String where) {
        return new ChatTemplateException(this, Objects.requireNonNull(where, "where"));
    }

    public Kind kind() {
        return kind;
    }

    /** The template line the error is about, or 0 where none applies (a time limit, for instance). */
    public int line() {
        return line;
    }
}
