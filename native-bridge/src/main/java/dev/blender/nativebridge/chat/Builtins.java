package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import dev.blender.nativebridge.chat.Py.Namespace;
import dev.blender.nativebridge.chat.Py.PyCallable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The global functions a template can call: jinja2's and the two transformers adds. */
final class Builtins {
    private Builtins() {}

    private static final Map<String, Object> GLOBALS = build();

    static Map<String, Object> globals() {
        return GLOBALS;
    }

    private static Map<String, Object> build() {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("range", (PyCallable) Builtins::range);
        g.put("namespace", (PyCallable) (r, args, kw) -> {
            Namespace ns = new Namespace();
            if (args.size() > 1) throw Py.error("namespace() takes at most one positional argument");
            if (args.size() == 1) {
                if (!(args.get(0) instanceof Map<?, ?> m)) throw Py.error("namespace() argument must be a mapping");
                m.forEach((k, v) -> ns.attrs.put(Py.str(k), v));
            }
            ns.attrs.putAll(kw);
            return ns;
        });
        g.put("dict", (PyCallable) (r, args, kw) -> {
            Map<Object, Object> m = new LinkedHashMap<>();
            if (args.size() > 1) throw Py.error("dict expected at most 1 argument, got " + args.size());
            if (args.size() == 1) {
                if (args.get(0) instanceof Map<?, ?> src) {
                    m.putAll(src);
                } else {
                    for (Object pair : Py.iterate(args.get(0))) {
                        List<Object> kv = Py.iterate(pair);
                        if (kv.size() != 2) throw Py.error("dictionary update sequence element has length " + kv.size() + "; 2 is required");
                        m.put(kv.get(0), kv.get(1));
                    }
                }
            }
            m.putAll(kw);
            r.chargeCollection(m.size());
            return Py.dict(m);
        });
        g.put("raise_exception", (PyCallable) (r, args, kw) -> {
            throw new ChatTemplateException(Kind.RAISED, 0, args.isEmpty() ? "raise_exception()" : r.str(args.get(0)));
        });
        g.put("strftime_now", (PyCallable) (r, args, kw) -> {
            if (args.size() != 1 || !(args.get(0) instanceof String fmt)) throw Py.error("strftime_now() takes one format string");
            return StrFTime.format(r.now(), fmt);
        });
        g.put("cycler", (PyCallable) (r, args, kw) -> cycler(new ArrayList<>(args)));
        g.put("joiner", (PyCallable) (r, args, kw) -> {
            String sep = args.isEmpty() ? (String) kw.getOrDefault("sep", ", ") : r.str(args.get(0));
            boolean[] used = {false};
            return (PyCallable) (r2, a2, k2) -> {
                if (used[0]) return sep;
                used[0] = true;
                return "";
            };
        });
        return Map.copyOf(g);
    }

    private static Object cycler(List<Object> items) {
        if (items.isEmpty()) throw Py.error("at least one item has to be provided");
        Namespace ns = new Namespace();
        int[] pos = {0};
        ns.attrs.put("next", (PyCallable) (r, a, k) -> {
            Object v = items.get(pos[0]);
            pos[0] = (pos[0] + 1) % items.size();
            return v;
        });
        ns.attrs.put("reset", (PyCallable) (r, a, k) -> {
            pos[0] = 0;
            return null;
        });
        return ns;
    }

    private static Object range(Renderer r, List<Object> args, Map<String, Object> kw) {
        if (!kw.isEmpty()) throw Py.error("range() takes no keyword arguments");
        if (args.isEmpty() || args.size() > 3) throw Py.error("range expected 1 to 3 arguments, got " + args.size());
        for (Object a : args) if (!Py.isInt(a)) throw Py.error("'" + Py.typeName(a) + "' object cannot be interpreted as an integer");
        long start = args.size() == 1 ? 0 : Py.toLong(args.get(0));
        long stop = Py.toLong(args.get(args.size() == 1 ? 0 : 1));
        long step = args.size() == 3 ? Py.toLong(args.get(2)) : 1;
        if (step == 0) throw Py.error("range() arg 3 must not be zero");
        double n = Math.max(0, Math.ceil(((double) stop - start) / step));
        if (n > r.maxCollectionSize()) throw Py.limit("range of " + (long) n + " items exceeds the limit of " + r.maxCollectionSize());
        r.chargeCollection((long) n);
        List<Object> out = new ArrayList<>((int) n);
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) out.add(i);
        return Py.list(out);
    }
}
