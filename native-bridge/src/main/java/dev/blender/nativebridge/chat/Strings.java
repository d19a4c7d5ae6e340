package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.Py.Tuple;
import dev.blender.nativebridge.chat.Py.Undefined;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python's str methods that templates call, and the two string formatting operators. */
final class Strings {
    private Strings() {}

    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x1c || c == 0x1d || c == 0x1e || c == 0x1f || c == 0x85;
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0, e = s.length();
        if (chars == null) {
            while (left && b < e && isSpace(s.charAt(b))) b++;
            while (right && e > b && isSpace(s.charAt(e - 1))) e--;
        } else {
            while (left && b < e && chars.indexOf(s.charAt(b)) >= 0) b++;
            while (right && e > b && chars.indexOf(s.charAt(e - 1)) >= 0) e--;
        }
        return s.substring(b, e);
    }

    private static String arg(List<Object> args, int i, String method) {
        Object v = args.get(i);
        if (v instanceof String s) return s;
        throw Py.error(method + "() argument must be str, not " + Py.typeName(v));
    }

    private static String optChars(List<Object> args, String method) {
        if (args.isEmpty() || args.get(0) == null) return null;
        return arg(args, 0, method);
    }

    private static void arity(String name, List<Object> args, int min, int max) {
        if (args.size() < min || args.size() > max) {
            throw Py.error("str." + name + "() takes " + (min == max ? "" + min : min + " to " + max) + " arguments (" + args.size() + " given)");
        }
    }

    static Object call(Renderer r, String s, String name, List<Object> args, Map<String, Object> kw) {
        if (!kw.isEmpty() && !name.equals("format") && !name.equals("split") && !name.equals("rsplit")) {
            throw Py.error("str." + name + "() takes no keyword arguments");
        }
        switch (name) {
            case "strip", "lstrip", "rstrip" -> {
                arity(name, args, 0, 1);
                return strip(s, optChars(args, name), !name.equals("rstrip"), !name.equals("lstrip"));
            }
            case "split", "rsplit" -> {
                Object sep = kw.containsKey("sep") ? kw.get("sep") : args.size() > 0 ? args.get(0) : null;
                Object max = kw.containsKey("maxsplit") ? kw.get("maxsplit") : args.size() > 1 ? args.get(1) : -1L;
                if (args.size() > 2) throw Py.error("str." + name + "() takes at most 2 arguments");
                if (sep != null && !(sep instanceof String)) throw Py.error("must be str or None, not " + Py.typeName(sep));
                List<Object> parts = split(s, (String) sep, Py.toLong(max), name.equals("rsplit"));
                r.chargeCollection(parts.size());
                return Py.list(parts);
            }
            case "splitlines" -> {
                arity(name, args, 0, 1);
                boolean keep = !args.isEmpty() && Py.truthy(args.get(0));
                List<Object> out = new ArrayList<>();
                int start = 0;
                for (int i = 0; i < s.length(); i++) {
                    char c = s.charAt(i);
                    if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e || c == 0x85
                            || c == 0x2028 || c == 0x2029) {
                        int end = i;
                        if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') i++;
                        out.add(s.substring(start, keep ? i + 1 : end));
                        start = i + 1;
                    }
                }
                if (start < s.length()) out.add(s.substring(start));
                r.chargeCollection(out.size());
                return Py.list(out);
            }
            case "startswith", "endswith" -> {
                arity(name, args, 1, 3);
                String t = s;
                if (args.size() > 1) t = (String) Ops.slice(r, s, args.get(1), args.size() > 2 ? args.get(2) : null, null);
                Object p = args.get(0);
                List<Object> options = p instanceof Tuple tu ? tu : List.of(p == null ? new Undefined("") : p);
                for (Object o : options) {
                    if (!(o instanceof String x)) {
                        throw Py.error(name + " first arg must be str or a tuple of str, not " + Py.typeName(o));
                    }
                    if (name.equals("startswith") ? t.startsWith(x) : t.endsWith(x)) return true;
                }
                return false;
            }
            case "replace" -> {
                arity(name, args, 2, 3);
                long count = args.size() > 2 ? Py.toLong(args.get(2)) : -1;
                return replace(r, s, arg(args, 0, name), arg(args, 1, name), count);
            }
            case "upper" -> {
                return s.toUpperCase(java.util.Locale.ROOT);
            }
            case "lower", "casefold" -> {
                return s.toLowerCase(java.util.Locale.ROOT);
            }
            case "title" -> {
                return title(s);
            }
            case "capitalize" -> {
                return s.isEmpty() ? s : s.substring(0, s.offsetByCodePoints(0, 1)).toUpperCase(java.util.Locale.ROOT)
                        + s.substring(s.offsetByCodePoints(0, 1)).toLowerCase(java.util.Locale.ROOT);
            }
            case "swapcase" -> {
                StringBuilder sb = new StringBuilder();
                s.codePoints().forEach(c -> sb.appendCodePoint(Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c)));
                return sb.toString();
            }
            case "find", "rfind", "index", "rindex", "count" -> {
                arity(name, args, 1, 3);
                String sub = arg(args, 0, name);
                int[] cps = Py.codePoints(s);
                int n = cps.length;
                int from = args.size() > 1 && args.get(1) != null ? (int) clamp(Py.toLong(args.get(1)), n) : 0;
                int to = args.size() > 2 && args.get(2) != null ? (int) clamp(Py.toLong(args.get(2)), n) : n;
                if (from > to) return name.equals("count") ? 0L : notFound(name);
                String hay = Py.fromCodePoints(cps, from, to);
                if (name.equals("count")) {
                    if (sub.isEmpty()) return (long) hay.codePointCount(0, hay.length()) + 1;
                    long c = 0;
                    for (int i = hay.indexOf(sub); i >= 0; i = hay.indexOf(sub, i + sub.length())) c++;
                    return c;
                }
                int i = name.startsWith("r") ? hay.lastIndexOf(sub) : hay.indexOf(sub);
                if (i < 0) return notFound(name);
                return (long) (from + hay.codePointCount(0, i));
            }
            case "join" -> {
                arity(name, args, 1, 1);
                List<Object> items = Py.iterate(args.get(0));
                List<String> parts = new ArrayList<>(items.size());
                long size = 0;
                for (Object o : items) {
                    if (!(o instanceof String x)) throw Py.error("sequence item " + parts.size() + ": expected str instance, " + Py.typeName(o) + " found");
                    parts.add(x);
                    size += x.length() + s.length();
                }
                r.charge(size);
                return String.join(s, parts);
            }
            case "format" -> {
                return format(r, s, args, kw);
            }
            case "isdigit", "isdecimal", "isnumeric" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            }
            case "isalpha" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            }
            case "isalnum" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            }
            case "isspace" -> {
                return !s.isEmpty() && s.codePoints().allMatch(Strings::isSpace);
            }
            case "islower" -> {
                return s.codePoints().anyMatch(Character::isLowerCase) && s.codePoints().noneMatch(Character::isUpperCase);
            }
            case "isupper" -> {
                return s.codePoints().anyMatch(Character::isUpperCase) && s.codePoints().noneMatch(Character::isLowerCase);
            }
            case "istitle" -> {
                return !s.isEmpty() && title(s).equals(s) && s.codePoints().anyMatch(Character::isLetter);
            }
            case "isidentifier" -> {
                return !s.isEmpty() && (Character.isLetter(s.codePointAt(0)) || s.charAt(0) == '_')
                        && s.codePoints().allMatch(c -> Character.isLetterOrDigit(c) || c == '_');
            }
            case "removeprefix" -> {
                arity(name, args, 1, 1);
                String p = arg(args, 0, name);
                return s.startsWith(p) ? s.substring(p.length()) : s;
            }
            case "removesuffix" -> {
                arity(name, args, 1, 1);
                String p = arg(args, 0, name);
                return s.endsWith(p) && !p.isEmpty() ? s.substring(0, s.length() - p.length()) : s;
            }
            case "center", "ljust", "rjust" -> {
                arity(name, args, 1, 2);
                long width = Py.toLong(args.get(0));
                String fill = args.size() > 1 ? arg(args, 1, name) : " ";
                if (fill.codePointCount(0, fill.length()) != 1) throw Py.error("The fill character must be exactly one character long");
                return pad(r, s, width, fill, name.equals("center") ? '^' : name.equals("ljust") ? '<' : '>');
            }
            case "zfill" -> {
                arity(name, args, 1, 1);
                long width = Py.toLong(args.get(0));
                int n = s.codePointCount(0, s.length());
                if (width <= n) return s;
                r.charge(width);
                int signLen = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+') ? 1 : 0;
                return s.substring(0, signLen) + "0".repeat((int) (width - n)) + s.substring(signLen);
            }
            case "partition", "rpartition" -> {
                arity(name, args, 1, 1);
                String sep = arg(args, 0, name);
                if (sep.isEmpty()) throw Py.error("empty separator");
                int i = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (i < 0) return name.equals("partition") ? new Tuple(List.of(s, "", "")) : new Tuple(List.of("", "", s));
                return new Tuple(List.of(s.substring(0, i), sep, s.substring(i + sep.length())));
            }
            case "expandtabs" -> {
                return s.replace("\t", "        ");
            }
            default -> throw new ChatTemplateException(ChatTemplateException.Kind.UNSUPPORTED, 0, "str." + name + "() is not supported");
        }
    }

    private static Object notFound(String name) {
        if (name.equals("index") || name.equals("rindex")) throw Py.error("substring not found");
        return -1L;
    }

    private static long clamp(long i, int n) {
        if (i < 0) i += n;
        return Math.max(0, Math.min(n, i));
    }

    static List<Object> split(String s, String sep, long max, boolean fromRight) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            List<int[]> words = new ArrayList<>();
            int i = 0, n = s.length();
            while (i < n) {
                while (i < n && isSpace(s.charAt(i))) i++;
                if (i >= n) break;
                int b = i;
                while (i < n && !isSpace(s.charAt(i))) i++;
                words.add(new int[] {b, i});
            }
            if (max < 0 || words.size() <= max) {
                for (int[] w : words) out.add(s.substring(w[0], w[1]));
                return out;
            }
            if (!fromRight) {
                for (int k = 0; k < max; k++) out.add(s.substring(words.get(k)[0], words.get(k)[1]));
                out.add(s.substring(words.get((int) max)[0]));
            } else {
                int first = words.size() - (int) max;
                out.add(s.substring(0, words.get(first - 1)[1]));
                for (int k = first; k < words.size(); k++) out.add(s.substring(words.get(k)[0], words.get(k)[1]));
            }
            return out;
        }
        if (sep.isEmpty()) throw Py.error("empty separator");
        if (!fromRight) {
            int start = 0;
            for (int i = s.indexOf(sep); i >= 0 && (max < 0 || out.size() < max); i = s.indexOf(sep, start)) {
                out.add(s.substring(start, i));
                start = i + sep.length();
            }
            out.add(s.substring(start));
        } else {
            int end = s.length();
            for (int i = s.lastIndexOf(sep, end - sep.length()); i >= 0 && (max < 0 || out.size() < max); i = s.lastIndexOf(sep, end - sep.length())) {
                out.add(0, s.substring(i + sep.length(), end));
                end = i;
                if (end - sep.length() < 0) {
                    break;
                }
            }
            out.add(0, s.substring(0, end));
        }
        return out;
    }

    static String replace(Renderer r, String s, String old, String repl, long count) {
        if (old.isEmpty()) {
            int n = s.codePointCount(0, s.length());
            long times = count < 0 ? n + 1 : Math.min(count, n + 1);
            r.charge(s.length() + times * repl.length());
            StringBuilder sb = new StringBuilder();
            int i = 0;
            long done = 0;
            while (true) {
                if (done < times) {
                    sb.append(repl);
                    done++;
                }
                if (i >= s.length()) break;
                int c = s.codePointAt(i);
                sb.appendCodePoint(c);
                i += Character.charCount(c);
            }
            return sb.toString();
        }
        long occurrences = 0;
        for (int i = s.indexOf(old); i >= 0 && (count < 0 || occurrences < count); i = s.indexOf(old, i + old.length())) occurrences++;
        r.charge(s.length() + occurrences * Math.max(0, repl.length() - old.length()));
        StringBuilder sb = new StringBuilder();
        int start = 0;
        long done = 0;
        for (int i = s.indexOf(old); i >= 0 && done < occurrences; i = s.indexOf(old, start)) {
            sb.append(s, start, i).append(repl);
            start = i + old.length();
            done++;
        }
        return sb.append(s, start, s.length()).toString();
    }

    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            boolean cased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
            sb.appendCodePoint(prevCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            prevCased = cased || (Character.isLetter(c) && !cased && prevCased);
        }
        return sb.toString();
    }

    static String pad(Renderer r, String s, long width, String fill, char align) {
        int n = s.codePointCount(0, s.length());
        if (width <= n) return s;
        r.charge(width);
        int total = (int) (width - n);
        int left = switch (align) {
            case '<' -> 0;
            case '>' -> total;
            default -> total / 2 + ((total & (int) width & 1));
        };
        return fill.repeat(left) + s + fill.repeat(total - left);
    }

    /** str.format: positional ({}, {0}) and named fields, with a small format spec (fill, align, width, precision). */
    static String format(Renderer r, String fmt, List<Object> args, Map<String, Object> kw) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c == '{') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '{') {
                    sb.append('{');
                    i++;
                    continue;
                }
                int end = fmt.indexOf('}', i);
                if (end < 0) throw Py.error("Single '{' encountered in format string");
                String field = fmt.substring(i + 1, end);
                String spec = "";
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    spec = field.substring(colon + 1);
                    field = field.substring(0, colon);
                }
                int bang = field.indexOf('!');
                String conv = null;
                if (bang >= 0) {
                    conv = field.substring(bang + 1);
                    field = field.substring(0, bang);
                }
                Object v;
                if (field.isEmpty()) {
                    if (auto >= args.size()) throw Py.error("Replacement index " + auto + " out of range for positional args tuple");
                    v = args.get(auto++);
                } else if (field.chars().allMatch(Character::isDigit)) {
                    int k = Integer.parseInt(field);
                    if (k >= args.size()) throw Py.error("Replacement index " + k + " out of range for positional args tuple");
                    v = args.get(k);
                } else {
                    if (!kw.containsKey(field)) throw Py.error("KeyError: " + Py.reprString(field));
                    v = kw.get(field);
                }
                if ("r".equals(conv)) v = Py.repr(v);
                sb.append(formatSpec(r, v, spec));
                r.charge(sb.length());
                i = end;
            } else if (c == '}') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '}') i++;
                else throw Py.error("Single '}' encountered in format string");
                sb.append('}');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    static String formatSpec(Renderer r, Object v, String spec) {
        if (spec.isEmpty()) return r.str(v);
        int i = 0;
        String fill = " ";
        char align = 0;
        if (spec.length() >= 2 && "<>^".indexOf(spec.charAt(1)) >= 0) {
            fill = spec.substring(0, 1);
            align = spec.charAt(1);
            i = 2;
        } else if ("<>^".indexOf(spec.charAt(0)) >= 0) {
            align = spec.charAt(0);
            i = 1;
        }
        int w = i;
        while (i < spec.length() && Character.isDigit(spec.charAt(i))) i++;
        long width = i > w ? Long.parseLong(spec.substring(w, Math.min(i, w + 9))) : 0;
        int precision = -1;
        if (i < spec.length() && spec.charAt(i) == '.') {
            int p = ++i;
            while (i < spec.length() && Character.isDigit(spec.charAt(i))) i++;
            precision = Integer.parseInt(spec.substring(p, Math.min(i, p + 3)));
        }
        String type = spec.substring(i);
        String body;
        switch (type) {
            case "f", "F" -> body = String.format(java.util.Locale.ROOT, "%." + (precision < 0 ? 6 : precision) + "f", Py.toDouble(v));
            case "d" -> body = Long.toString(Py.toLong(v));
            case "", "s" -> {
                body = precision >= 0 && v instanceof String s ? (String) Ops.slice(r, s, null, (long) precision, null) : r.str(v);
                if (precision >= 0 && v instanceof Double d) body = String.format(java.util.Locale.ROOT, "%." + precision + "g", d);
            }
            default -> throw new ChatTemplateException(ChatTemplateException.Kind.UNSUPPORTED, 0, "format spec '" + spec + "' is not supported");
        }
        if (align == 0) align = Py.isNumber(v) ? '>' : '<';
        return pad(r, body, width, fill, align);
    }

    /** printf-style {@code 'fmt' % args} with %s, %d, %r, %f and %%. */
    static String percentFormat(Renderer r, String fmt, Object args) {
        List<Object> values = args instanceof Tuple t ? t : List.of(args == null ? new Undefined("") : args);
        if (args == null) values = java.util.Arrays.asList((Object) null);
        StringBuilder sb = new StringBuilder();
        int k = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%') {
                sb.append(c);
                continue;
            }
            if (++i >= fmt.length()) throw Py.error("incomplete format");
            char t = fmt.charAt(i);
            if (t == '%') {
                sb.append('%');
                continue;
            }
            if (k >= values.size()) throw Py.error("not enough arguments for format string");
            Object v = values.get(k++);
            switch (t) {
                case 's' -> sb.append(r.str(v));
                case 'r' -> sb.append(Py.repr(v));
                case 'd', 'i' -> sb.append(Py.isInt(v) ? Py.toLong(v) : (long) Py.toDouble(v));
                case 'f' -> sb.append(String.format(java.util.Locale.ROOT, "%f", Py.toDouble(v)));
                default -> throw new ChatTemplateException(ChatTemplateException.Kind.UNSUPPORTED, 0, "format '%" + t + "' is not supported");
            }
            r.charge(sb.length());
        }
        if (k < values.size()) throw Py.error("not all arguments converted during string formatting");
        return sb.toString();
    }
}
