package dev.blender.nativebridge.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python's json.dumps as transformers' tojson calls it: its separators, indents, key rules and escapes. */
final class Json {
    private Json() {}

    static String dumps(Renderer r, Object v, boolean ensureAscii, Object indent, Object separators, boolean sortKeys) {
        String ind = null;
        if (indent instanceof String s) ind = s;
        else if (indent != null && Py.isInt(indent)) ind = " ".repeat((int) Math.max(0, Math.min(Py.toLong(indent), 1000)));
        else if (indent != null) throw Py.error("indent must be an int or a string");
        String item = ind == null ? ", " : ",";
        String key = ": ";
        if (separators != null) {
            List<Object> seps = Py.iterate(separators);
            if (seps.size() != 2 || !(seps.get(0) instanceof String a) || !(seps.get(1) instanceof String b)) {
                throw Py.error("separators must be a pair of strings");
            }
            item = a;
            key = b;
        }
        StringBuilder sb = new StringBuilder();
        new Json.Writer(r, sb, ensureAscii, ind, item, key, sortKeys).write(v, 0);
        r.charge(sb.length());
        return sb.toString();
    }

    private record Writer(Renderer r, StringBuilder sb, boolean ascii, String indent, String item, String key, boolean sort) {
        void newline(int level) {
            if (indent == null) return;
            sb.append('\n');
            for (int i = 0; i < level; i++) sb.append(indent);
        }

        void write(Object v, int level) {
            if (level > 500) throw Py.limit("value nested too deeply for tojson");
            r.checkSize(sb.length());
            if (v == null) sb.append("null");
            else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
            else if (v instanceof Long l) sb.append(l);
            else if (v instanceof Double d) sb.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.floatRepr(d));
            else if (v instanceof String s) string(s);
            else if (v instanceof List<?> l) {
                if (l.isEmpty()) {
                    sb.append("[]");
                    return;
                }
                sb.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) sb.append(item);
                    newline(level + 1);
                    write(l.get(i), level + 1);
                }
                newline(level);
                sb.append(']');
            } else if (v instanceof Map<?, ?> m) {
                if (m.isEmpty()) {
                    sb.append("{}");
                    return;
                }
                List<Map.Entry<String, Object>> entries = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) entries.add(Map.entry(keyString(e.getKey()), e.getValue() == null ? NULL : e.getValue()));
                if (sort) entries.sort((a, b) -> Py.compareStrings(a.getKey(), b.getKey()));
                sb.append('{');
                boolean first = true;
                for (Map.Entry<String, Object> e : entries) {
                    if (!first) sb.append(item);
                    first = false;
                    newline(level + 1);
                    string(e.getKey());
                    sb.append(key);
                    write(e.getValue() == NULL ? null : e.getValue(), level + 1);
                }
                newline(level);
                sb.append('}');
            } else {
                throw Py.error("Object of type " + Py.typeName(v) + " is not JSON serializable");
            }
        }

        private static final Object NULL = new Object();

        private String keyString(Object k) {
            if (k instanceof String s) return s;
            if (k == null) return "null";
            if (k instanceof Boolean b) return b ? "true" : "false";
            if (k instanceof Long l) return l.toString();
            if (k instanceof Double d) return Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.floatRepr(d);
            throw Py.error("keys must be str, int, float, bool or None, not " + Py.typeName(k));
        }

        private void string(String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    default -> {
                        if (c < 0x20 || (ascii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                        else sb.append(c);
                    }
                }
            }
            sb.append('"');
        }
    }
}
