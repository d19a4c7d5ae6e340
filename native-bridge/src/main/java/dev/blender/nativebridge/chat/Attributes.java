package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.Py.Namespace;
import dev.blender.nativebridge.chat.Py.PyCallable;
import dev.blender.nativebridge.chat.Py.Tuple;
import dev.blender.nativebridge.chat.Py.Undefined;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code x.name} and {@code x[key]} as jinja2's immutable sandbox resolves them: a method of the value's type
 * first for {@code .}, the item first for {@code []}, and an Undefined when neither exists. Only the methods
 * listed here exist; those that would modify a list or dict are refused as the sandbox refuses them.
 */
final class Attributes {
    private Attributes() {}

    private static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
            "startswith", "endswith", "replace", "upper", "lower", "title", "capitalize", "swapcase", "casefold", "find",
            "rfind", "index", "rindex", "count", "join", "format", "isdigit", "isalpha", "isalnum", "isspace", "islower",
            "isupper", "isnumeric", "isdecimal", "istitle", "isidentifier", "removeprefix", "removesuffix", "center",
            "ljust", "rjust", "zfill", "partition", "rpartition", "expandtabs", "encode");
    private static final Set<String> DICT_METHODS = Set.of("get", "items", "keys", "values", "copy");
    private static final Set<String> DICT_UNSAFE = Set.of("pop", "popitem", "update", "setdefault", "clear");
    private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    private static final Set<String> LIST_UNSAFE = Set.of("append", "pop", "insert", "extend", "remove", "sort", "reverse", "clear");

    private static Undefined unsafe(Object owner, String name) {
        return new Undefined("access to attribute '" + name + "' of '" + Py.typeName(owner) + "' object is unsafe");
    }

    static Object getattr(Object obj, String name) {
        if (obj instanceof Undefined u) throw Py.error(u.message());
        if (name.startsWith("_")) return obj instanceof Map<?, ?> m && Py.containsKey(m, name) ? Py.getKey(m, name) : Undefined.attribute(obj, name);
        if (obj instanceof String s && STR_METHODS.contains(name)) return method(name, (r, a, k) -> Strings.call(r, s, name, a, k));
        if (obj instanceof Map<?, ?> m) {
            if (DICT_METHODS.contains(name)) return method(name, (r, a, k) -> dictMethod(r, m, name, a));
            if (DICT_UNSAFE.contains(name)) return unsafe(obj, name);
            return Py.containsKey(m, name) ? Py.getKey(m, name) : Undefined.attribute(obj, name);
        }
        if (obj instanceof List<?> l && !(obj instanceof Tuple)) {
            if (LIST_METHODS.contains(name)) return method(name, (r, a, k) -> listMethod(r, l, name, a));
            if (LIST_UNSAFE.contains(name)) return unsafe(obj, name);
        }
        if (obj instanceof Tuple t && (name.equals("index") || name.equals("count"))) return method(name, (r, a, k) -> listMethod(r, t, name, a));
        if (obj instanceof Namespace ns) return ns.attrs.containsKey(name) ? ns.attrs.get(name) : Undefined.attribute(obj, name);
        if (obj instanceof Renderer.Loop loop) return loop.attr(name);
        if (obj instanceof Double d && (name.equals("real") || name.equals("is_integer"))) {
            return name.equals("real") ? d : method(name, (r, a, k) -> d == Math.rint(d) && !Double.isInfinite(d));
        }
        return Undefined.attribute(obj, name);
    }

    static Object getitem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw Py.error(u.message());
        if (obj instanceof Map<?, ?> m) {
            if (Py.containsKey(m, key)) return Py.getKey(m, key);
        } else if (obj instanceof List<?> l && Py.isInt(key)) {
            long i = Py.toLong(key);
            if (i < 0) i += l.size();
            if (i >= 0 && i < l.size()) return l.get((int) i);
            return new Undefined("list index out of range");
        } else if (obj instanceof String s && Py.isInt(key)) {
            int n = s.codePointCount(0, s.length());
            long i = Py.toLong(key);
            if (i < 0) i += n;
            if (i >= 0 && i < n) {
                int at = s.offsetByCodePoints(0, (int) i);
                return new String(Character.toChars(s.codePointAt(at)));
            }
            return new Undefined("string index out of range");
        }
        if (key instanceof String name && !(obj instanceof Map)) return getattr(obj, name);
        if (key instanceof String name && obj instanceof Map<?, ?> && !name.startsWith("_")) return getattr(obj, name);
        return new Undefined("'" + Py.typeName(obj) + " object' has no attribute " + Py.repr(key));
    }

    /** A bound method: the lambda captures the receiver and nothing else of the host. */
    private static PyCallable method(String name, PyCallable body) {
        return body;
    }

    private static void arity(String name, List<Object> args, int min, int max) {
        if (args.size() < min || args.size() > max) {
            throw Py.error(name + "() takes " + (min == max ? "" + min : min + " to " + max) + " arguments (" + args.size() + " given)");
        }
    }

    private static Object dictMethod(Renderer r, Map<?, ?> m, String name, List<Object> args) {
        switch (name) {
            case "get" -> {
                arity("get", args, 1, 2);
                return Py.containsKey(m, args.get(0)) ? Py.getKey(m, args.get(0)) : args.size() > 1 ? args.get(1) : null;
            }
            case "items" -> {
                arity("items", args, 0, 0);
                r.chargeCollection(m.size());
                List<Object> out = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(new Tuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
                return Py.list(out);
            }
            case "keys" -> {
                arity("keys", args, 0, 0);
                r.chargeCollection(m.size());
                return Py.list(new ArrayList<>(m.keySet()));
            }
            case "values" -> {
                arity("values", args, 0, 0);
                r.chargeCollection(m.size());
                return Py.list(new ArrayList<>(m.values()));
            }
            default -> {
                r.chargeCollection(m.size());
                return Py.dict(new LinkedHashMap<>(m));
            }
        }
    }

    private static Object listMethod(Renderer r, List<?> l, String name, List<Object> args) {
        switch (name) {
            case "index" -> {
                arity("index", args, 1, 1);
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), args.get(0))) return (long) i;
                throw Py.error(Py.repr(args.get(0)) + " is not in list");
            }
            case "count" -> {
                arity("count", args, 1, 1);
                long c = 0;
                for (Object o : l) if (Py.eq(o, args.get(0))) c++;
                return c;
            }
            default -> {
                r.chargeCollection(l.size());
                return Py.list(new ArrayList<>(l));
            }
        }
    }
}
