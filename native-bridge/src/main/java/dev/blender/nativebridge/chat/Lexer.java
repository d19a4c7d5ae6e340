package dev.blender.nativebridge.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits template source into text and tag tokens, applying Jinja's whitespace rules as transformers
 * configures them: {@code trim_blocks} (a block or comment tag eats the newline after it), {@code lstrip_blocks}
 * (spaces before a block tag on its own line go), {@code -} and {@code +} markers, and one trailing newline of
 * the source dropped ({@code keep_trailing_newline=False}).
 */
final class Lexer {

    enum Type { TEXT, BLOCK_BEGIN, BLOCK_END, VAR_BEGIN, VAR_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Token(Type type, String text, Object value, int line) {
        boolean is(Type t, String s) {
            return type == t && text.equals(s);
        }

        boolean isOp(String s) {
            return type == Type.OP && text.equals(s);
        }

        boolean isName(String s) {
            return type == Type.NAME && text.equals(s);
        }
    }

    private static final String[] OPERATORS = {
        "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}", ",", ".",
        ":", "|", "=", "<", ">"
    };

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;
    private int lineAt; // the position up to which `line` is counted

    private Lexer(String source) {
        String s = source.replace("\r\n", "\n").replace('\r', '\n');
        if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        this.src = s;
    }

    static List<Token> tokenize(String source) {
        Lexer lx = new Lexer(source);
        lx.run();
        return lx.out;
    }

    private int lineOf(int p) {
        // positions only grow while lexing, so counting forward is enough
        for (; lineAt < p && lineAt < src.length(); lineAt++) if (src.charAt(lineAt) == '\n') line++;
        return line;
    }

    private ChatTemplateException error(int p, String message) {
        return new ChatTemplateException(ChatTemplateException.Kind.SYNTAX, lineOf(p), message);
    }

    private void run() {
        boolean lineStarting = true;
        while (pos < src.length()) {
            int open = nextOpen(pos);
            if (open < 0) {
                text(pos, src.substring(pos));
                break;
            }
            char kind = src.charAt(open + 1);
            char sign = open + 2 < src.length() ? src.charAt(open + 2) : 0;
            String text = src.substring(pos, open);
            if (sign == '-') {
                text = rstrip(text);
            } else if (sign != '+' && kind != '{') {
                int l = text.lastIndexOf('\n') + 1;
                if ((l > 0 || lineStarting) && text.substring(l).isBlank()) text = text.substring(0, l);
            }
            text(pos, text);
            int p = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
            if (kind == '#') {
                int end = src.indexOf("#}", p);
                if (end < 0) throw error(open, "unclosed comment '{#'");
                pos = afterEnd(end, 2, end > p && src.charAt(end - 1) == '-', end > p && src.charAt(end - 1) == '+', true);
            } else if (kind == '%' && isRaw(p)) {
                pos = raw(open, p);
            } else {
                boolean block = kind == '%';
                out.add(new Token(block ? Type.BLOCK_BEGIN : Type.VAR_BEGIN, block ? "{%" : "{{", null, lineOf(open)));
                pos = expression(p, block);
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        out.add(new Token(Type.EOF, "", null, lineOf(src.length())));
    }

    private int nextOpen(int from) {
        int i = from;
        while ((i = src.indexOf('{', i)) >= 0 && i + 1 < src.length()) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
            i++;
        }
        return -1;
    }

    private void text(int at, String text) {
        if (!text.isEmpty()) out.add(new Token(Type.TEXT, text, null, lineOf(at)));
    }

    /** Where text resumes after a closing delimiter at {@code end} of length {@code len}. */
    private int afterEnd(int end, int len, boolean strip, boolean keep, boolean trim) {
        int p = end + len;
        if (strip) {
            while (p < src.length() && Character.isWhitespace(src.charAt(p))) p++;
        } else if (trim && !keep && p < src.length() && src.charAt(p) == '\n') {
            p++;
        }
        return p;
    }

    private boolean isRaw(int p) {
        int i = skipSpace(p);
        if (!src.startsWith("raw", i)) return false;
        i = skipSpace(i + 3);
        return src.startsWith("%}", i) || src.startsWith("-%}", i);
    }

    private int skipSpace(int p) {
        while (p < src.length() && Character.isWhitespace(src.charAt(p))) p++;
        return p;
    }

    private int raw(int open, int p) {
        int i = skipSpace(skipSpace(p) + 3);
        int bodyStart = src.startsWith("-%}", i) ? skipSpace(i + 3) : i + 2;
        int search = bodyStart;
        while (true) {
            int tag = src.indexOf("{%", search);
            if (tag < 0) throw error(open, "unclosed '{% raw %}'");
            char sign = tag + 2 < src.length() ? src.charAt(tag + 2) : 0;
            int j = skipSpace(tag + 2 + (sign == '-' || sign == '+' ? 1 : 0));
            if (!src.startsWith("endraw", j)) {
                search = tag + 2;
                continue;
            }
            j = skipSpace(j + 6);
            boolean strip = src.startsWith("-%}", j), keep = src.startsWith("+%}", j);
            if (!strip && !keep && !src.startsWith("%}", j)) {
                search = tag + 2;
                continue;
            }
            String body = src.substring(bodyStart, tag);
            if (sign == '-') {
                body = rstrip(body);
            } else if (sign != '+') {
                int l = body.lastIndexOf('\n') + 1;
                if (l > 0 && body.substring(l).isBlank()) body = body.substring(0, l);
            }
            text(bodyStart, body);
            return afterEnd(j + (strip || keep ? 1 : 0), 2, strip, keep, true);
        }
    }

    private int expression(int p, boolean block) {
        int depth = 0;
        while (true) {
            p = skipSpace(p);
            if (p >= src.length()) throw error(p, "unclosed '" + (block ? "{%" : "{{") + "'");
            char c = src.charAt(p);
            if (depth == 0) {
                String close = block ? "%}" : "}}";
                boolean strip = c == '-' && src.startsWith(close, p + 1);
                boolean keep = block && c == '+' && src.startsWith(close, p + 1);
                if (strip || keep || src.startsWith(close, p)) {
                    out.add(new Token(block ? Type.BLOCK_END : Type.VAR_END, close, null, lineOf(p)));
                    int end = p + (strip || keep ? 1 : 0);
                    return afterEnd(end, 2, strip, keep, block);
                }
            }
            int start = p;
            if (Character.isLetter(c) || c == '_') {
                while (p < src.length() && (Character.isLetterOrDigit(src.charAt(p)) || src.charAt(p) == '_')) p++;
                out.add(new Token(Type.NAME, src.substring(start, p), null, lineOf(start)));
            } else if (c >= '0' && c <= '9') {
                p = number(p);
            } else if (c == '\'' || c == '"') {
                p = string(p, c);
            } else {
                String op = null;
                for (String o : OPERATORS) {
                    if (src.startsWith(o, p)) {
                        op = o;
                        break;
                    }
                }
                if (op == null) throw error(p, "unexpected character '" + c + "'");
                if (op.equals("(") || op.equals("[") || op.equals("{")) depth++;
                if (op.equals(")") || op.equals("]") || op.equals("}")) depth = Math.max(0, depth - 1);
                out.add(new Token(Type.OP, op, null, lineOf(start)));
                p += op.length();
            }
        }
    }

    private int number(int p) {
        int start = p;
        while (p < src.length() && (isDigit(src.charAt(p)) || src.charAt(p) == '_')) p++;
        boolean isFloat = false;
        if (p + 1 < src.length() && src.charAt(p) == '.' && isDigit(src.charAt(p + 1))) {
            isFloat = true;
            p++;
            while (p < src.length() && (isDigit(src.charAt(p)) || src.charAt(p) == '_')) p++;
        }
        if (p < src.length() && (src.charAt(p) == 'e' || src.charAt(p) == 'E')) {
            int q = p + 1;
            if (q < src.length() && (src.charAt(q) == '+' || src.charAt(q) == '-')) q++;
            if (q < src.length() && isDigit(src.charAt(q))) {
                isFloat = true;
                p = q;
                while (p < src.length() && isDigit(src.charAt(p))) p++;
            }
        }
        String text = src.substring(start, p).replace("_", "");
        Object value;
        try {
            value = isFloat ? (Object) Double.parseDouble(text) : (Object) Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new ChatTemplateException(ChatTemplateException.Kind.LIMIT, lineOf(start), "integer literal too large: " + text);
        }
        out.add(new Token(isFloat ? Type.FLOAT : Type.INT, text, value, lineOf(start)));
        return p;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private int string(int p, char quote) {
        int start = p;
        StringBuilder sb = new StringBuilder();
        p++;
        while (true) {
            if (p >= src.length()) throw error(start, "unclosed string literal");
            char c = src.charAt(p);
            if (c == quote) break;
            if (c == '\\' && p + 1 < src.length()) {
                p = escape(p + 1, sb);
                continue;
            }
            sb.append(c);
            p++;
        }
        out.add(new Token(Type.STRING, src.substring(start, p + 1), sb.toString(), lineOf(start)));
        return p + 1;
    }

    /** Python's string escapes; an unknown one keeps its backslash, as Python does. */
    private int escape(int p, StringBuilder sb) {
        char c = src.charAt(p);
        switch (c) {
            case 'n' -> sb.append('\n');
            case 't' -> sb.append('\t');
            case 'r' -> sb.append('\r');
            case '\\' -> sb.append('\\');
            case '\'' -> sb.append('\'');
            case '"' -> sb.append('"');
            case 'a' -> sb.append('\u0007');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'v' -> sb.append('\u000b');
            case '\n' -> { }
            case 'x', 'u', 'U' -> {
                int n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
                if (p + 1 + n > src.length()) throw error(p, "truncated \\" + c + " escape");
                int cp;
                try {
                    cp = Integer.parseInt(src.substring(p + 1, p + 1 + n), 16);
                } catch (NumberFormatException e) {
                    throw error(p, "bad \\" + c + " escape");
                }
                if (!Character.isValidCodePoint(cp)) throw error(p, "bad \\" + c + " escape");
                sb.appendCodePoint(cp);
                return p + 1 + n;
            }
            default -> {
                if (c >= '0' && c <= '7') {
                    int q = p, v = 0;
                    while (q < src.length() && q < p + 3 && src.charAt(q) >= '0' && src.charAt(q) <= '7') v = v * 8 + (src.charAt(q++) - '0');
                    sb.append((char) v);
                    return q;
                }
                sb.append('\\').append(c);
            }
        }
        return p + 1;
    }

    static String rstrip(String s) {
        int e = s.length();
        while (e > 0 && Character.isWhitespace(s.charAt(e - 1))) e--;
        return s.substring(0, e);
    }
}
