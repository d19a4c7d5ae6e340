package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import java.math.BigDecimal;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The engine's values and Python's rules for them. A template only ever sees: String, Long, Double, Boolean,
 * null (None), List (read-only), {@link Tuple}, Map (read-only, insertion-ordered), {@link Undefined},
 * {@link Namespace} and {@link PyCallable}. Nothing else is reachable, which is what makes the sandbox.
 */
final class Py {
    private Py() {}

    /** Jinja's default Undefined: prints empty, is falsy, iterates as empty; most other uses are errors. */
    record Undefined(String message) {
        static final Undefined ANON = new Undefined("value is undefined");

        static Undefined name(String name) {
            return new Undefined("'" + name + "' is undefined");
        }

        static Undefined attribute(Object owner, Object attr) {
            return new Undefined("'" + typeName(owner) + " object' has no attribute " + reprString(String.valueOf(attr)));
        }
    }

    /** Python's tuple: an immutable sequence that prints with parentheses and is not equal to a list. */
    static final class Tuple extends AbstractList<Object> {
        private final Object[] items;

        Tuple(List<?> items) {
            this.items = items.toArray();
        }

        @Override
        public Object get(int index) {
            return items[index];
        }

        @Override
        public int size() {
            return items.length;
        }
    }

    /** jinja2's namespace(): the one mutable object, assignable only through {@code {% set ns.attr = v %}}. */
    static final class Namespace {
        final Map<String, Object> attrs = new LinkedHashMap<>();
    }

    /** Anything a template can call: a global, a macro, a bound method, {@code loop.cycle}, {@code caller}. */
    @FunctionalInterface
    interface PyCallable {
        Object call(Renderer r, List<Object> args, Map<String, Object> kwargs);
    }

    static ChatTemplateException error(String message) {
        return new ChatTemplateException(Kind.RUNTIME, 0, message);
    }

    static ChatTemplateException limit(String message) {
        return new ChatTemplateException(Kind.LIMIT, 0, message);
    }

    static List<Object> list(List<Object> items) {
        return Collections.unmodifiableList(items);
    }

    static Map<Object, Object> dict(Map<Object, Object> items) {
        return Collections.unmodifiableMap(items);
    }

    // ---- conversion of the caller's data ----

    /** Copies plain data into engine values, rejecting anything else so no host object leaks into the render. */
    static Object fromJava(Object v, int depth) {
        if (depth > 200) throw new IllegalArgumentException("input data nested deeper than 200 levels");
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double) return v;
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return Double.parseDouble(f.toString());
        if (v instanceof java.math.BigInteger b) {
            if (b.bitLength() < 64) return b.longValue();
            throw new IllegalArgumentException("integer " + b + " is out of range");
        }
        if (v instanceof BigDecimal b) {
            try {
                return b.longValueExact();
            } catch (ArithmeticException e) {
                return b.doubleValue();
            }
        }
        if (v instanceof CharSequence cs) return cs.toString();
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) out.add(fromJava(o, depth + 1));
            return list(out);
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                Object k = fromJava(e.getKey(), depth + 1);
                if (k instanceof List || k instanceof Map) throw new IllegalArgumentException("map key must be a scalar: " + k);
                out.put(k, fromJava(e.getValue(), depth + 1));
            }
            return dict(out);
        }
        throw new IllegalArgumentException("unsupported value type " + v.getClass().getName()
                + " (use String, Number, Boolean, null, List or Map)");
    }

    // ---- type names, truth, numbers ----

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof String) return "str";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof Tuple) return "tuple";
        if (v instanceof List) return "list";
        if (v instanceof Map) return "dict";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Namespace) return "Namespace";
        if (v instanceof PyCallable) return "function";
        if (v instanceof Renderer.Loop) return "LoopContext";
        return "object";
    }

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0.0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof List<?> l) return !l.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Boolean;
    }

    static long toLong(Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Boolean b) return b ? 1 : 0;
        throw error("expected an integer, got " + typeName(v));
    }

    static double toDouble(Object v) {
        if (v instanceof Double d) return d;
        return toLong(v);
    }

    // ---- printing ----

    /** Python's str(); {@code cap} bounds the text built, so printing a huge nested value fails early. */
    static String str(Object v, long cap) {
        if (v instanceof String s) return s;
        if (v instanceof Undefined) return "";
        return repr(v, cap);
    }

    static String str(Object v) {
        return str(v, Integer.MAX_VALUE - 16);
    }

    static String repr(Object v) {
        return repr(v, Integer.MAX_VALUE - 16);
    }

    static String repr(Object v, long cap) {
        StringBuilder sb = new StringBuilder();
        repr(v, sb, 0, cap);
        return sb.toString();
    }

    private static void repr(Object v, StringBuilder sb, int depth, long cap) {
        if (depth > 500) throw limit("value nested too deeply to print");
        if (sb.length() > cap) throw limit("printed value longer than " + cap + " characters");
        if (v == null) sb.append("None");
        else if (v instanceof String s) sb.append(reprString(s));
        else if (v instanceof Boolean b) sb.append(b ? "True" : "False");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) sb.append(floatRepr(d));
        else if (v instanceof Undefined) { }
        else if (v instanceof List<?> l) {
            boolean tuple = v instanceof Tuple;
            sb.append(tuple ? '(' : '[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(", ");
                repr(l.get(i), sb, depth + 1, cap);
            }
            sb.append(tuple ? (l.size() == 1 ? ",)" : ")") : "]");
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                repr(e.getKey(), sb, depth + 1, cap);
                sb.append(": ");
                repr(e.getValue(), sb, depth + 1, cap);
            }
            sb.append('}');
        } else if (v instanceof Namespace ns) {
            sb.append("<Namespace ");
            repr(new LinkedHashMap<Object, Object>(ns.attrs), sb, depth + 1, cap);
            sb.append('>');
        } else if (v instanceof Renderer.MacroFn m) sb.append("<Macro '").append(m.name()).append("'>");
        else sb.append('<').append(typeName(v)).append('>');
        if (sb.length() > cap) throw limit("printed value longer than " + cap + " characters");
    }

    static String reprString(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder sb = new StringBuilder(s.length() + 2).append(quote);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c == quote || c == '\\') sb.append('\\').appendCodePoint(c);
            else if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c == '\t') sb.append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", c));
            else if (c > 0x7f && !printable(c)) {
                sb.append(c <= 0xff ? String.format("\\x%02x", c) : c <= 0xffff ? String.format("\\u%04x", c) : String.format("\\U%08x", c));
            } else sb.appendCodePoint(c);
        }
        return sb.append(quote).toString();
    }

    private static boolean printable(int c) {
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
                    Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /** Python's repr(float): the shortest round-tripping digits, scientific outside 1e-4 <= |x| < 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (Double.doubleToRawLongBits(d) < 0) ? "-0.0" : "0.0";
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int n = digits.length();
        int exp = n - 1 - bd.scale();
        StringBuilder sb = new StringBuilder(d < 0 ? "-" : "");
        if (exp >= -4 && exp < 16) {
            if (exp >= n - 1) {
                sb.append(digits).append("0".repeat(exp - (n - 1))).append(".0");
            } else if (exp < 0) {
                sb.append("0.").append("0".repeat(-exp - 1)).append(digits);
            } else {
                sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, n);
            }
        } else {
            sb.append(digits.charAt(0));
            if (n > 1) sb.append('.').append(digits, 1, n);
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) sb.append('0');
            sb.append(a);
        }
        return sb.toString();
    }

    // ---- equality and order ----

    static boolean eq(Object a, Object b) {
        return eq(a, b, 0);
    }

    private static boolean eq(Object a, Object b, int depth) {
        if (depth > 500) throw limit("values nested too deeply to compare");
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return toLong(a) == toLong(b);
            return toDouble(a) == toDouble(b);
        }
        if (a instanceof String s) return s.equals(b);
        if (a instanceof Undefined) return b instanceof Undefined;
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if ((a instanceof Tuple) != (b instanceof Tuple) || x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!eq(x.get(i), y.get(i), depth + 1)) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!containsKey(y, e.getKey()) || !eq(e.getValue(), getKey(y, e.getKey()), depth + 1)) return false;
            }
            return true;
        }
        return false;
    }

    static boolean containsKey(Map<?, ?> m, Object key) {
        if (m.containsKey(key)) return true;
        if (isNumber(key)) for (Object k : m.keySet()) if (isNumber(k) && eq(k, key)) return true;
        return false;
    }

    static Object getKey(Map<?, ?> m, Object key) {
        Object v = m.get(key);
        if (v != null || m.containsKey(key)) return v;
        if (isNumber(key)) for (Map.Entry<?, ?> e : m.entrySet()) if (isNumber(e.getKey()) && eq(e.getKey(), key)) return e.getValue();
        return null;
    }

    static int compare(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return Long.compare(toLong(a), toLong(b));
            double x = toDouble(a), y = toDouble(b);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a instanceof String x && b instanceof String y) return compareStrings(x, y);
        if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof Tuple) == (b instanceof Tuple)) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                if (!eq(x.get(i), y.get(i))) return compare(x.get(i), y.get(i));
            }
            return Integer.compare(x.size(), y.size());
        }
        throw error("'<' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    /** Python orders strings by code point, which differs from UTF-16 order above the surrogates. */
    static int compareStrings(String x, String y) {
        int i = 0, j = 0;
        while (i < x.length() && j < y.length()) {
            int a = x.codePointAt(i), b = y.codePointAt(j);
            if (a != b) return Integer.compare(a, b);
            i += Character.charCount(a);
            j += Character.charCount(b);
        }
        return Integer.compare(x.length() - i, y.length() - j);
    }

    static boolean contains(Object container, Object item) {
        if (container instanceof String s) {
            if (item instanceof String t) return s.contains(t);
            throw error("'in <string>' requires string as left operand, not " + typeName(item));
        }
        if (container instanceof List<?> l) {
            for (Object o : l) if (eq(o, item)) return true;
            return false;
        }
        if (container instanceof Map<?, ?> m) return containsKey(m, item);
        if (container instanceof Undefined) return false;
        throw error("argument of type '" + typeName(container) + "' is not iterable");
    }

    // ---- sequences ----

    /** The items a for loop or a filter iterates over: a dict's keys, a string's characters. */
    static List<Object> iterate(Object v) {
        if (v instanceof List<?> l) return Collections.unmodifiableList(l);
        if (v instanceof Map<?, ?> m) return List.copyOf(m.keySet().stream().map(k -> (Object) k).toList());
        if (v instanceof String s) {
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(c -> out.add(new String(Character.toChars(c))));
            return out;
        }
        if (v instanceof Undefined) return List.of();
        throw error("'" + typeName(v) + "' object is not iterable");
    }

    static int length(Object v) {
        if (v instanceof String s) return s.codePointCount(0, s.length());
        if (v instanceof List<?> l) return l.size();
        if (v instanceof Map<?, ?> m) return m.size();
        if (v instanceof Undefined) return 0;
        if (v instanceof Namespace) throw error("object of type 'Namespace' has no len()");
        throw error("object of type '" + typeName(v) + "' has no len()");
    }

    /** A string's code points, so indexes and slices count characters as Python does. */
    static int[] codePoints(String s) {
        return s.codePoints().toArray();
    }

    static String fromCodePoints(int[] cps, int from, int to) {
        return new String(cps, from, to - from);
    }

    static boolean same(Object a, Object b) {
        if (a == null || b == null) return a == b;
        if (a instanceof Boolean || a instanceof Long) return a.equals(b) && a.getClass() == b.getClass();
        return a == b || (a instanceof String && Objects.equals(a, b) && ((String) a).length() <= 1);
    }

}
