package dev.blender.nativebridge.chat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A small JSON reader for the test data (objects as insertion-ordered maps, integers as Long). */
final class MiniJson {
    private final String s;
    private int p;

    private MiniJson(String s) {
        this.s = s;
    }

    static Object parse(String s) {
        MiniJson j = new MiniJson(s);
        Object v = j.value();
        j.ws();
        if (j.p != s.length()) throw new IllegalArgumentException("trailing data at " + j.p);
        return v;
    }

    private void ws() {
        while (p < s.length() && Character.isWhitespace(s.charAt(p))) p++;
    }

    private Object value() {
        ws();
        char c = s.charAt(p);
        switch (c) {
            case '{' -> {
                p++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (s.charAt(p) == '}') {
                    p++;
                    return m;
                }
                while (true) {
                    ws();
                    String k = (String) value();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                    if (s.charAt(p) == ',') p++;
                    else {
                        expect('}');
                        return m;
                    }
                }
            }
            case '[' -> {
                p++;
                List<Object> l = new ArrayList<>();
                ws();
                if (s.charAt(p) == ']') {
                    p++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    ws();
                    if (s.charAt(p) == ',') p++;
                    else {
                        expect(']');
                        return l;
                    }
                }
            }
            case '"' -> {
                p++;
                StringBuilder sb = new StringBuilder();
                while (s.charAt(p) != '"') {
                    char ch = s.charAt(p++);
                    if (ch != '\\') {
                        sb.append(ch);
                        continue;
                    }
                    char e = s.charAt(p++);
                    switch (e) {
                        case 'n' -> sb.append('\n');
                        case 't' -> sb.append('\t');
                        case 'r' -> sb.append('\r');
                        case 'b' -> sb.append('\b');
                        case 'f' -> sb.append('\f');
                        case 'u' -> {
                            sb.append((char) Integer.parseInt(s.substring(p, p + 4), 16));
                            p += 4;
                        }
                        default -> sb.append(e);
                    }
                }
                p++;
                return sb.toString();
            }
            default -> {
                if (s.startsWith("true", p)) {
                    p += 4;
                    return true;
                }
                if (s.startsWith("false", p)) {
                    p += 5;
                    return false;
                }
                if (s.startsWith("null", p)) {
                    p += 4;
                    return null;
                }
                int b = p;
                while (p < s.length() && "+-0123456789.eE".indexOf(s.charAt(p)) >= 0) p++;
                String n = s.substring(b, p);
                return n.matches("-?\\d+") ? (Object) Long.parseLong(n) : (Object) Double.parseDouble(n);
            }
        }
    }

    private void expect(char c) {
        if (s.charAt(p) != c) throw new IllegalArgumentException("expected " + c + " at " + p);
        p++;
    }
}
