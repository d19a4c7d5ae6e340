package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import dev.blender.nativebridge.chat.Py.Tuple;
import dev.blender.nativebridge.chat.Py.Undefined;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** jinja2's built-in filters that chat templates use, plus transformers' {@code tojson}. */
final class Filters {
    private Filters() {}

    private static final Pattern WORD_BEGINNING = Pattern.compile("([-\\s({\\[<]+)");
    private static final Pattern TAGS = Pattern.compile("(<!--.*?-->|<[^>]*>)", Pattern.DOTALL);
    private static final Pattern WORDS = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);

    /** Positional or keyword argument {@code i}/{@code name}, else {@code fallback}. */
    private static Object arg(List<Object> args, Map<String, Object> kw, int i, String name, Object fallback) {
        if (i < args.size()) {
            if (kw.containsKey(name)) throw Py.error("got multiple values for argument '" + name + "'");
            return args.get(i);
        }
        return kw.containsKey(name) ? kw.get(name) : fallback;
    }

    private static void known(String filter, List<Object> args, Map<String, Object> kw, int maxArgs, String... names) {
        if (args.size() > maxArgs) throw Py.error("filter '" + filter + "' takes at most " + maxArgs + " arguments (" + args.size() + " given)");
        for (String k : kw.keySet()) {
            if (!List.of(names).contains(k)) throw Py.error("filter '" + filter + "' got an unexpected keyword argument '" + k + "'");
        }
    }

    static Object apply(Renderer r, String name, Object v, List<Object> args, Map<String, Object> kw) {
        switch (name) {
            case "default", "d" -> {
                known(name, args, kw, 2, "default_value", "boolean");
                Object fallback = arg(args, kw, 0, "default_value", "");
                boolean bool = Py.truthy(arg(args, kw, 1, "boolean", false));
                return v instanceof Undefined || (bool && !Py.truthy(v)) ? fallback : v;
            }
            case "trim" -> {
                known(name, args, kw, 1, "chars");
                Object chars = arg(args, kw, 0, "chars", null);
                return Strings.strip(r.str(v), chars == null ? null : r.str(chars), true, true);
            }
            case "upper" -> {
                known(name, args, kw, 0);
                return r.str(v).toUpperCase(java.util.Locale.ROOT);
            }
            case "lower" -> {
                known(name, args, kw, 0);
                return r.str(v).toLowerCase(java.util.Locale.ROOT);
            }
            case "capitalize" -> {
                known(name, args, kw, 0);
                return Strings.call(r, r.str(v), "capitalize", List.of(), Map.of());
            }
            case "title" -> {
                known(name, args, kw, 0);
                StringBuilder sb = new StringBuilder();
                for (String item : splitKeeping(WORD_BEGINNING, r.str(v))) {
                    if (item.isEmpty()) continue;
                    int first = item.offsetByCodePoints(0, 1);
                    sb.append(item.substring(0, first).toUpperCase(java.util.Locale.ROOT)).append(item.substring(first).toLowerCase(java.util.Locale.ROOT));
                }
                return sb.toString();
            }
            case "length", "count" -> {
                known(name, args, kw, 0);
                return (long) Py.length(v);
            }
            case "string" -> {
                known(name, args, kw, 0);
                return r.str(v);
            }
            case "safe" -> {
                known(name, args, kw, 0);
                return r.str(v);
            }
            case "e", "escape", "forceescape" -> {
                known(name, args, kw, 0);
                return r.str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace("\"", "&#34;");
            }
            case "first" -> {
                known(name, args, kw, 0);
                List<Object> items = Py.iterate(v);
                return items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.get(0);
            }
            case "last" -> {
                known(name, args, kw, 0);
                List<Object> items = Py.iterate(v);
                return items.isEmpty() ? new Undefined("No last item, sequence was empty.") : items.get(items.size() - 1);
            }
            case "join" -> {
                known(name, args, kw, 2, "d", "attribute");
                String sep = r.str(arg(args, kw, 0, "d", ""));
                Object attribute = arg(args, kw, 1, "attribute", null);
                List<String> parts = new ArrayList<>();
                long size = 0;
                for (Object o : Py.iterate(v)) {
                    String s = r.str(attribute == null ? o : attribute(o, attribute));
                    size += s.length() + sep.length();
                    r.charge(size);
                    parts.add(s);
                }
                return String.join(sep, parts);
            }
            case "replace" -> {
                known(name, args, kw, 3, "old", "new", "count");
                Object count = arg(args, kw, 2, "count", null);
                return Strings.replace(r, r.str(v), r.str(arg(args, kw, 0, "old", "")), r.str(arg(args, kw, 1, "new", "")),
                        count == null ? -1 : Py.toLong(count));
            }
            case "int" -> {
                known(name, args, kw, 2, "default", "base");
                return toInt(v, arg(args, kw, 0, "default", 0L), Py.toLong(arg(args, kw, 1, "base", 10L)));
            }
            case "float" -> {
                known(name, args, kw, 1, "default");
                return toFloat(v, arg(args, kw, 0, "default", 0.0));
            }
            case "abs" -> {
                known(name, args, kw, 0);
                if (v instanceof Double d) return Math.abs(d);
                if (Py.isInt(v)) return Math.abs(Py.toLong(v));
                throw Py.error("bad operand type for abs(): '" + Py.typeName(v) + "'");
            }
            case "round" -> {
                known(name, args, kw, 2, "precision", "method");
                int precision = (int) Py.toLong(arg(args, kw, 0, "precision", 0L));
                String method = r.str(arg(args, kw, 1, "method", "common"));
                if (!Py.isNumber(v)) throw Py.error("type " + Py.typeName(v) + " doesn't define __round__ method");
                if (method.equals("common") && Py.isInt(v)) return Py.toLong(v);
                double d = Py.toDouble(v);
                if (Double.isNaN(d) || Double.isInfinite(d)) return d;
                RoundingMode mode = switch (method) {
                    case "common" -> RoundingMode.HALF_EVEN;
                    case "ceil" -> RoundingMode.CEILING;
                    case "floor" -> RoundingMode.FLOOR;
                    default -> throw Py.error("method must be common, ceil or floor");
                };
                return new BigDecimal(d).setScale(precision, mode).doubleValue();
            }
            case "list" -> {
                known(name, args, kw, 0);
                List<Object> items = Py.iterate(v);
                r.chargeCollection(items.size());
                return Py.list(new ArrayList<>(items));
            }
            case "items" -> {
                known(name, args, kw, 0);
                if (v instanceof Undefined) return Py.list(new ArrayList<>());
                if (!(v instanceof Map<?, ?> m)) throw Py.error("Can only get item pairs from a mapping.");
                return Attributes.getattr(m, "items") instanceof Py.PyCallable c ? c.call(r, List.of(), Map.of()) : null;
            }
            case "tojson" -> {
                known(name, args, kw, 5, "ensure_ascii", "indent", "separators", "sort_keys");
                boolean ascii = Py.truthy(arg(args, kw, 0, "ensure_ascii", false));
                Object indent = arg(args, kw, 1, "indent", null);
                Object separators = arg(args, kw, 2, "separators", null);
                boolean sortKeys = Py.truthy(arg(args, kw, 3, "sort_keys", false));
                return Json.dumps(r, v, ascii, indent, separators, sortKeys);
            }
            case "selectattr", "rejectattr", "select", "reject" -> {
                boolean attr = name.endsWith("attr");
                boolean keep = name.startsWith("select");
                if (attr && args.isEmpty()) throw Py.error("Missing parameter for attribute name");
                Object attribute = attr ? args.get(0) : null;
                int t = attr ? 1 : 0;
                String test = args.size() > t ? r.str(args.get(t)) : null;
                List<Object> testArgs = args.size() > t + 1 ? args.subList(t + 1, args.size()) : List.of();
                List<Object> out = new ArrayList<>();
                // jinja2 iterates only a truthy input, so None selects nothing rather than failing
                for (Object o : Py.truthy(v) ? Py.iterate(v) : List.of()) {
                    r.tick();
                    Object x = attr ? attribute(o, attribute) : o;
                    boolean ok = test == null ? Py.truthy(x) : Tests.test(r, test, x, testArgs);
                    if (ok == keep) out.add(o);
                }
                return Py.list(out);
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                if (!Py.truthy(v)) return Py.list(out);
                if (kw.containsKey("attribute")) {
                    Object attribute = kw.get("attribute");
                    Object fallback = kw.get("default");
                    for (Object o : Py.iterate(v)) {
                        Object x = attribute(o, attribute);
                        out.add(x instanceof Undefined && kw.containsKey("default") ? fallback : x);
                    }
                } else {
                    if (args.isEmpty()) throw Py.error("map requires a filter argument");
                    String filter = r.str(args.get(0));
                    List<Object> rest = args.subList(1, args.size());
                    for (Object o : Py.iterate(v)) {
                        r.tick();
                        out.add(apply(r, filter, o, rest, kw));
                    }
                }
                return Py.list(out);
            }
            case "unique" -> {
                known(name, args, kw, 2, "case_sensitive", "attribute");
                boolean cs = Py.truthy(arg(args, kw, 0, "case_sensitive", false));
                Object attribute = arg(args, kw, 1, "attribute", null);
                List<Object> out = new ArrayList<>();
                List<Object> seen = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    r.tick();
                    Object key = sortKey(attribute == null ? o : attribute(o, attribute), cs);
                    boolean dup = false;
                    for (Object s : seen) if (Py.eq(s, key)) dup = true;
                    if (!dup) {
                        seen.add(key);
                        out.add(o);
                    }
                }
                return Py.list(out);
            }
            case "sort" -> {
                known(name, args, kw, 3, "reverse", "case_sensitive", "attribute");
                boolean reverse = Py.truthy(arg(args, kw, 0, "reverse", false));
                boolean cs = Py.truthy(arg(args, kw, 1, "case_sensitive", false));
                Object attribute = arg(args, kw, 2, "attribute", null);
                List<Object> out = new ArrayList<>(Py.iterate(v));
                Comparator<Object> c = (a, b) -> Py.compare(sortKey(attribute == null ? a : attribute(a, attribute), cs),
                        sortKey(attribute == null ? b : attribute(b, attribute), cs));
                out.sort(reverse ? c.reversed() : c);
                return Py.list(out);
            }
            case "dictsort" -> {
                known(name, args, kw, 3, "case_sensitive", "by", "reverse");
                boolean cs = Py.truthy(arg(args, kw, 0, "case_sensitive", false));
                String by = r.str(arg(args, kw, 1, "by", "key"));
                boolean reverse = Py.truthy(arg(args, kw, 2, "reverse", false));
                if (!(v instanceof Map<?, ?> m)) throw Py.error("dictsort needs a mapping, got " + Py.typeName(v));
                int pos = switch (by) {
                    case "key" -> 0;
                    case "value" -> 1;
                    default -> throw Py.error("You can only sort by either \"key\" or \"value\"");
                };
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(new Tuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
                Comparator<Object> c = (a, b) -> Py.compare(sortKey(((List<?>) a).get(pos), cs), sortKey(((List<?>) b).get(pos), cs));
                out.sort(reverse ? c.reversed() : c);
                return Py.list(out);
            }
            case "reverse" -> {
                known(name, args, kw, 0);
                if (v instanceof String s) return new StringBuilder(s).reverse().toString();
                List<Object> out = new ArrayList<>(Py.iterate(v));
                java.util.Collections.reverse(out);
                return Py.list(out);
            }
            case "indent" -> {
                known(name, args, kw, 3, "width", "first", "blank");
                Object width = arg(args, kw, 0, "width", 4L);
                boolean first = Py.truthy(arg(args, kw, 1, "first", false));
                boolean blank = Py.truthy(arg(args, kw, 2, "blank", false));
                String indention;
                if (width instanceof String s) {
                    indention = s;
                } else {
                    long w = Math.max(0, Py.toLong(width));
                    r.charge(w);
                    indention = " ".repeat((int) w);
                }
                @SuppressWarnings("unchecked")
                List<Object> lines = new ArrayList<>((List<Object>) Strings.call(r, r.str(v) + "\n", "splitlines", List.of(), Map.of()));
                r.charge((long) Py.length(r.str(v)) + (long) lines.size() * indention.length());
                StringBuilder sb = new StringBuilder();
                if (blank) {
                    for (int i = 0; i < lines.size(); i++) sb.append(i > 0 ? "\n" + indention : "").append(lines.get(i));
                } else {
                    sb.append(lines.isEmpty() ? "" : lines.get(0));
                    for (int i = 1; i < lines.size(); i++) {
                        String line = (String) lines.get(i);
                        sb.append('\n').append(line.isEmpty() ? "" : indention + line);
                    }
                }
                return first ? indention + sb : sb.toString();
            }
            case "center" -> {
                known(name, args, kw, 1, "width");
                return Strings.pad(r, r.str(v), Py.toLong(arg(args, kw, 0, "width", 80L)), " ", '^');
            }
            case "wordcount" -> {
                known(name, args, kw, 0);
                Matcher m = WORDS.matcher(r.str(v));
                long n = 0;
                while (m.find()) n++;
                return n;
            }
            case "sum" -> {
                known(name, args, kw, 2, "attribute", "start");
                Object attribute = arg(args, kw, 0, "attribute", null);
                Object total = arg(args, kw, 1, "start", 0L);
                for (Object o : Py.iterate(v)) total = Ops.binary(r, "+", total, attribute == null ? o : attribute(o, attribute));
                return total;
            }
            case "min", "max" -> {
                known(name, args, kw, 2, "case_sensitive", "attribute");
                boolean cs = Py.truthy(arg(args, kw, 0, "case_sensitive", false));
                Object attribute = arg(args, kw, 1, "attribute", null);
                Object best = null;
                Object bestKey = null;
                boolean any = false;
                for (Object o : Py.iterate(v)) {
                    Object key = sortKey(attribute == null ? o : attribute(o, attribute), cs);
                    if (!any || (name.equals("min") ? Py.compare(key, bestKey) < 0 : Py.compare(key, bestKey) > 0)) {
                        best = o;
                        bestKey = key;
                        any = true;
                    }
                }
                return any ? best : new Undefined("No aggregated item, sequence was empty.");
            }
            case "batch" -> {
                known(name, args, kw, 2, "linecount", "fill_with");
                long n = Py.toLong(arg(args, kw, 0, "linecount", 1L));
                if (n <= 0) throw Py.error("batch size must be positive");
                Object fill = arg(args, kw, 1, "fill_with", null);
                boolean hasFill = args.size() > 1 || kw.containsKey("fill_with");
                List<Object> out = new ArrayList<>();
                List<Object> cur = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    cur.add(o);
                    if (cur.size() == n) {
                        out.add(Py.list(cur));
                        cur = new ArrayList<>();
                    }
                }
                if (!cur.isEmpty()) {
                    if (hasFill) {
                        r.chargeCollection(n);
                        while (cur.size() < n) cur.add(fill);
                    }
                    out.add(Py.list(cur));
                }
                return Py.list(out);
            }
            case "format" -> {
                String fmt = r.str(v);
                if (!kw.isEmpty()) {
                    if (!args.isEmpty()) throw Py.error("can't handle positional and keyword arguments at the same time");
                    throw new ChatTemplateException(Kind.UNSUPPORTED, 0, "filter 'format' with keyword arguments is not supported");
                }
                return Strings.percentFormat(r, fmt, args.size() == 1 && args.get(0) instanceof Map ? args.get(0) : new Tuple(args));
            }
            case "striptags" -> {
                known(name, args, kw, 0);
                String s = TAGS.matcher(r.str(v)).replaceAll("");
                s = String.join(" ", Strings.split(s, null, -1, false).stream().map(o -> (String) o).toList());
                return s.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&#34;", "\"").replace("&quot;", "\"");
            }
            case "truncate" -> {
                known(name, args, kw, 4, "length", "killwords", "end", "leeway");
                String s = r.str(v);
                long length = Py.toLong(arg(args, kw, 0, "length", 255L));
                boolean killwords = Py.truthy(arg(args, kw, 1, "killwords", false));
                String end = r.str(arg(args, kw, 2, "end", "..."));
                long leeway = Py.toLong(arg(args, kw, 3, "leeway", 5L));
                if (length < end.length()) throw Py.error("expected length >= " + end.length() + ", got " + length);
                int n = Py.length(s);
                if (n <= length + leeway) return s;
                String cut = (String) Ops.slice(r, s, null, length - end.length(), null);
                if (killwords) return cut + end;
                int sp = cut.lastIndexOf(' ');
                return (sp >= 0 ? cut.substring(0, sp) : cut) + end;
            }
            case "attr" -> {
                known(name, args, kw, 1);
                if (args.isEmpty()) throw Py.error("attr needs a name");
                return Attributes.getattr(v, r.str(args.get(0)));
            }
            case "pprint" -> {
                return Py.repr(v);
            }
            default -> throw new ChatTemplateException(Kind.UNSUPPORTED, 0, "no filter named '" + name + "'");
        }
    }

    /** A dotted attribute path ({@code "function.name"}, {@code "0"}), as jinja2's attribute= arguments take. */
    static Object attribute(Object o, Object path) {
        if (!(path instanceof String s)) return Attributes.getitem(o, path);
        Object cur = o;
        for (String part : s.split("\\.", -1)) {
            if (cur instanceof Undefined) return cur;
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part) : part;
            cur = Attributes.getitem(cur, key);
        }
        return cur;
    }

    private static Object sortKey(Object v, boolean caseSensitive) {
        return !caseSensitive && v instanceof String s ? s.toLowerCase(java.util.Locale.ROOT) : v;
    }

    private static List<String> splitKeeping(Pattern p, String s) {
        List<String> out = new ArrayList<>();
        Matcher m = p.matcher(s);
        int last = 0;
        while (m.find()) {
            out.add(s.substring(last, m.start()));
            out.add(m.group());
            last = m.end();
        }
        out.add(s.substring(last));
        return out;
    }

    private static Object toInt(Object v, Object fallback, long base) {
        if (v instanceof Long) return v;
        if (v instanceof Boolean b) return b ? 1L : 0L;
        if (v instanceof Double d) {
            if (Double.isNaN(d) || Double.isInfinite(d)) return fallback;
            return (long) (double) d;
        }
        if (v instanceof String s) {
            String t = Strings.strip(s, null, true, true).replace("_", "");
            try {
                if (base == 10) return Long.parseLong(t.startsWith("+") ? t.substring(1) : t);
                return Long.parseLong(t.replaceFirst("^(0[xXoObB])", ""), (int) base);
            } catch (NumberFormatException | IndexOutOfBoundsException e) {
                try {
                    double d = Double.parseDouble(t);
                    if (t.matches("(?i)[+-]?(inf|infinity|nan)|.*[dDfF]$")) return fallback;
                    if (Double.isNaN(d) || Double.isInfinite(d)) return fallback;
                    return (long) d;
                } catch (NumberFormatException e2) {
                    return fallback;
                }
            }
        }
        return fallback;
    }

    private static Object toFloat(Object v, Object fallback) {
        if (v instanceof Double) return v;
        if (Py.isInt(v)) return (double) Py.toLong(v);
        if (v instanceof String s) {
            String t = Strings.strip(s, null, true, true);
            if (t.matches("(?i)[+-]?(inf|infinity)")) return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            if (t.matches("(?i)[+-]?nan")) return Double.NaN;
            if (!t.matches("[+-]?(\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)([eE][+-]?\\d+)?")) return fallback;
            try {
                return Double.parseDouble(t.replace("_", ""));
            } catch (NumberFormatException e) {
                return fallback;
            }
        }
        return fallback;
    }
}
