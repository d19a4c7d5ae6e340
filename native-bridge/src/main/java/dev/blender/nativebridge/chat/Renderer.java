package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import dev.blender.nativebridge.chat.Node.*;
import dev.blender.nativebridge.chat.Py.Namespace;
import dev.blender.nativebridge.chat.Py.PyCallable;
import dev.blender.nativebridge.chat.Py.Tuple;
import dev.blender.nativebridge.chat.Py.Undefined;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One render of a parsed template: walks the tree with Jinja's scoping (a for-loop iteration and a macro call
 * get their own scope, an if does not) and charges every loop step, call and allocation against the limits.
 * Not thread-safe; {@link ChatTemplate} makes a new one per render.
 */
final class Renderer {

    private enum Flow { NORMAL, BREAK, CONTINUE }

    /** Variables of one scope; lookups walk out to the enclosing ones. */
    static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                Object v = s.vars.get(name);
                if (v != null || s.vars.containsKey(name)) return v;
            }
            return Undefined.name(name);
        }
    }

    record MacroFn(String name, List<String> params, List<Expr> defaults, List<Stmt> body, Scope closure, Object caller,
            boolean isCaller) implements PyCallable {
        @Override
        public Object call(Renderer r, List<Object> args, Map<String, Object> kwargs) {
            return r.callMacro(this, args, kwargs);
        }
    }

    /** The {@code loop} variable of a for loop. */
    final class Loop implements PyCallable {
        final List<Object> items;
        final int depth;
        final For node;
        final Scope scope;
        int index0;
        Object lastChanged = new Object();

        Loop(List<Object> items, int depth, For node, Scope scope) {
            this.items = items;
            this.depth = depth;
            this.node = node;
            this.scope = scope;
        }

        Object attr(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) index0 + 1;
                case "index0" -> (long) index0;
                case "revindex" -> (long) (n - index0);
                case "revindex0" -> (long) (n - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == n - 1;
                case "length" -> (long) n;
                case "depth" -> (long) depth;
                case "depth0" -> (long) depth - 1;
                case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("there is no previous item");
                case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Undefined("there is no next item");
                case "cycle" -> (PyCallable) (r, args, kw) -> {
                    if (args.isEmpty()) throw Py.error("no items for cycling given");
                    return args.get(index0 % args.size());
                };
                case "changed" -> (PyCallable) (r, args, kw) -> {
                    Object v = new Tuple(args);
                    if (Py.eq(v, lastChanged)) return false;
                    lastChanged = v;
                    return true;
                };
                default -> Undefined.attribute(this, name);
            };
        }

        @Override
        public Object call(Renderer r, List<Object> args, Map<String, Object> kwargs) {
            if (!node.recursive()) throw Py.error("the loop is not recursive; add 'recursive' to call loop()");
            if (args.size() != 1) throw Py.error("loop() takes exactly one argument");
            StringBuilder saved = out;
            out = new StringBuilder();
            try {
                runFor(node, Py.iterate(args.get(0)), scope, depth + 1);
                return out.toString();
            } finally {
                out = saved;
            }
        }
    }

    private final ChatTemplate.Limits limits;
    private final long deadline;
    private final LocalDateTime now;
    private final Scope globals;
    private StringBuilder out = new StringBuilder();
    private long iterations;
    private long allocated;
    private int callDepth;

    Renderer(ChatTemplate.Limits limits, LocalDateTime now, Map<String, Object> variables) {
        this.limits = limits;
        this.deadline = System.nanoTime() + limits.timeout().toNanos();
        this.now = now;
        this.globals = new Scope(null);
        globals.vars.putAll(Builtins.globals());
        globals.vars.putAll(variables);
    }

    String render(List<Stmt> template) {
        exec(template, new Scope(globals));
        return out.toString();
    }

    LocalDateTime now() {
        return now;
    }

    // ---- limits ----

    void tick() {
        if (System.nanoTime() - deadline > 0) throw Py.limit("rendering took longer than " + limits.timeout().toMillis() + " ms");
    }

    private void step() {
        if (++iterations > limits.maxLoopIterations()) {
            throw Py.limit("more than " + limits.maxLoopIterations() + " loop iterations");
        }
        tick();
    }

    /** Charges a string or collection about to be built; refuses it when it alone or all of them together are too big. */
    void charge(long size) {
        if (size > limits.maxOutputChars()) throw Py.limit("a value of " + size + " characters or items exceeds the limit of " + limits.maxOutputChars());
        allocated += size;
        if (allocated > 16L * limits.maxOutputChars()) throw Py.limit("the render built more than " + 16L * limits.maxOutputChars() + " characters or items in all");
    }

    void chargeCollection(long size) {
        if (size > limits.maxCollectionSize()) throw Py.limit("a collection of " + size + " items exceeds the limit of " + limits.maxCollectionSize());
        charge(size);
    }

    int maxCollectionSize() {
        return limits.maxCollectionSize();
    }

    String str(Object v) {
        if (v instanceof String s) return s;
        String s = Py.str(v, limits.maxOutputChars());
        charge(s.length());
        return s;
    }

    void checkSize(long size) {
        if (size > limits.maxOutputChars()) throw Py.limit("a value of " + size + " characters exceeds the limit of " + limits.maxOutputChars());
    }

    private void write(String s) {
        if ((long) out.length() + s.length() > limits.maxOutputChars()) {
            throw Py.limit("output longer than " + limits.maxOutputChars() + " characters");
        }
        out.append(s);
    }

    // ---- statements ----

    private Flow exec(List<Stmt> body, Scope scope) {
        for (Stmt s : body) {
            Flow f;
            try {
                f = exec(s, scope);
            } catch (ChatTemplateException e) {
                throw e.line() == 0 ? new ChatTemplateException(e.kind(), s.line(), e.getMessage()) : e;
            }
            if (f != Flow.NORMAL) return f;
        }
        return Flow.NORMAL;
    }

    private Flow exec(Stmt stmt, Scope scope) {
        switch (stmt) {
            case Text t -> write(t.text());
            case Output o -> write(str(eval(o.expr(), scope)));
            case If i -> {
                for (int k = 0; k < i.conditions().size(); k++) {
                    if (Py.truthy(eval(i.conditions().get(k), scope))) return exec(i.bodies().get(k), scope);
                }
                return exec(i.otherwise(), scope);
            }
            case For f -> runFor(f, Py.iterate(eval(f.iterable(), scope)), scope, 1);
            case Set s -> assign(s.target(), eval(s.value(), scope), scope);
            case SetBlock s -> {
                Object v = capture(s.body(), new Scope(scope));
                for (FilterCall fc : s.filters()) v = applyFilter(fc, v, scope);
                assign(s.target(), v, scope);
            }
            case Macro m -> scope.vars.put(m.name(), new MacroFn(m.name(), m.params(), m.defaults(), m.body(), scope, null, false));
            case CallBlock c -> {
                MacroFn caller = new MacroFn("caller", c.params(), c.defaults(), c.body(), scope, null, true);
                Call call = c.call();
                Object callee = eval(call.callee(), scope);
                List<Object> args = new ArrayList<>();
                for (Expr a : call.args()) args.add(eval(a, scope));
                Map<String, Object> kw = new LinkedHashMap<>();
                for (int k = 0; k < call.kwNames().size(); k++) kw.put(call.kwNames().get(k), eval(call.kwValues().get(k), scope));
                kw.put("caller", caller);
                write(str(invoke(callee, args, kw, "call block")));
            }
            case FilterBlock fb -> {
                Object v = capture(fb.body(), new Scope(scope));
                for (FilterCall fc : fb.filters()) v = applyFilter(fc, v, scope);
                write(str(v));
            }
            case Break b -> {
                return Flow.BREAK;
            }
            case Continue c -> {
                return Flow.CONTINUE;
            }
        }
        return Flow.NORMAL;
    }

    private String capture(List<Stmt> body, Scope scope) {
        StringBuilder saved = out;
        out = new StringBuilder();
        try {
            exec(body, scope);
            return out.toString();
        } finally {
            out = saved;
        }
    }

    private void runFor(For f, List<Object> all, Scope scope, int depth) {
        List<Object> items = all;
        if (f.filter() != null) {
            items = new ArrayList<>();
            for (Object item : all) {
                step();
                Scope s = new Scope(scope);
                assign(f.target(), item, s);
                if (Py.truthy(eval(f.filter(), s))) items.add(item);
            }
        }
        Loop loop = new Loop(items, depth, f, scope);
        for (int i = 0; i < items.size(); i++) {
            step();
            loop.index0 = i;
            Scope s = new Scope(scope);
            s.vars.put("loop", loop);
            assign(f.target(), items.get(i), s);
            if (exec(f.body(), s) == Flow.BREAK) break;
        }
        if (items.isEmpty()) exec(f.otherwise(), new Scope(scope));
    }

    private void assign(Target target, Object value, Scope scope) {
        switch (target) {
            case NameTarget n -> scope.vars.put(n.name(), value);
            case AttrTarget a -> {
                Object obj = scope.lookup(a.object());
                if (!(obj instanceof Namespace ns)) {
                    throw Py.error("cannot assign attribute '" + a.attr() + "' on a " + Py.typeName(obj) + "; only a namespace() allows it");
                }
                ns.attrs.put(a.attr(), value);
            }
            case TupleTarget t -> {
                List<Object> items = Py.iterate(value);
                if (items.size() != t.items().size()) {
                    throw Py.error("cannot unpack " + items.size() + " values into " + t.items().size() + " names");
                }
                for (int i = 0; i < items.size(); i++) assign(t.items().get(i), items.get(i), scope);
            }
        }
    }

    // ---- macros ----

    private Object callMacro(MacroFn m, List<Object> args, Map<String, Object> kwargs) {
        if (++callDepth > limits.maxDepth()) {
            callDepth--;
            throw Py.limit("macro calls nested deeper than " + limits.maxDepth() + " (in '" + m.name() + "')");
        }
        try {
            tick();
            Scope s = new Scope(m.closure());
            Map<String, Object> kw = new LinkedHashMap<>(kwargs);
            Object caller = kw.remove("caller");
            int n = m.params().size();
            for (int i = 0; i < n; i++) {
                String p = m.params().get(i);
                Object v;
                if (i < args.size()) {
                    if (kw.containsKey(p)) throw Py.error("macro '" + m.name() + "' got multiple values for argument '" + p + "'");
                    v = args.get(i);
                } else if (kw.containsKey(p)) {
                    v = kw.remove(p);
                } else if (m.defaults().get(i) != null) {
                    v = eval(m.defaults().get(i), s);
                } else {
                    v = new Undefined("parameter '" + p + "' was not provided");
                }
                s.vars.put(p, v);
            }
            s.vars.put("varargs", new Tuple(args.subList(Math.min(n, args.size()), args.size())));
            s.vars.put("kwargs", Py.dict(new LinkedHashMap<>(kw)));
            if (caller != null) s.vars.put("caller", caller);
            return capture(m.body(), s);
        } finally {
            callDepth--;
        }
    }

    Object invoke(Object callee, List<Object> args, Map<String, Object> kwargs, String what) {
        if (callee instanceof PyCallable c) {
            tick();
            return c.call(this, args, kwargs);
        }
        if (callee instanceof Undefined u) throw Py.error(u.message());
        throw Py.error("'" + Py.typeName(callee) + "' object is not callable (" + what + ")");
    }

    // ---- expressions ----

    Object eval(Expr e, Scope scope) {
        return switch (e) {
            case Literal l -> l.value();
            case Name n -> scope.lookup(n.name());
            case ListExpr l -> {
                chargeCollection(l.items().size());
                List<Object> items = new ArrayList<>(l.items().size());
                for (Expr x : l.items()) items.add(eval(x, scope));
                yield Py.list(items);
            }
            case TupleExpr t -> {
                List<Object> items = new ArrayList<>(t.items().size());
                for (Expr x : t.items()) items.add(eval(x, scope));
                yield new Tuple(items);
            }
            case DictExpr d -> {
                chargeCollection(d.keys().size());
                Map<Object, Object> m = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Object k = eval(d.keys().get(i), scope);
                    if (k instanceof List || k instanceof Map || k instanceof Undefined) {
                        throw Py.error("unhashable type: '" + Py.typeName(k) + "'");
                    }
                    m.put(k, eval(d.values().get(i), scope));
                }
                yield Py.dict(m);
            }
            case Unary u -> {
                Object v = eval(u.operand(), scope);
                yield switch (u.op()) {
                    case "not" -> !Py.truthy(v);
                    case "-" -> Ops.negate(v);
                    default -> Ops.positive(v);
                };
            }
            case Binary b -> switch (b.op()) {
                case "and" -> {
                    Object l = eval(b.left(), scope);
                    yield Py.truthy(l) ? eval(b.right(), scope) : l;
                }
                case "or" -> {
                    Object l = eval(b.left(), scope);
                    yield Py.truthy(l) ? l : eval(b.right(), scope);
                }
                default -> Ops.binary(this, b.op(), eval(b.left(), scope), eval(b.right(), scope));
            };
            case Concat c -> {
                List<String> parts = new ArrayList<>(c.parts().size());
                long size = 0;
                for (Expr x : c.parts()) {
                    String s = str(eval(x, scope));
                    size += s.length();
                    parts.add(s);
                }
                charge(size);
                yield String.join("", parts);
            }
            case Compare c -> {
                Object left = eval(c.first(), scope);
                for (int i = 0; i < c.ops().size(); i++) {
                    Object right = eval(c.rest().get(i), scope);
                    if (!Ops.compare(c.ops().get(i), left, right)) yield false;
                    left = right;
                }
                yield true;
            }
            case Conditional c -> {
                if (Py.truthy(eval(c.test(), scope))) yield eval(c.then(), scope);
                yield c.otherwise() == null ? Undefined.ANON : eval(c.otherwise(), scope);
            }
            case GetAttr g -> Attributes.getattr(eval(g.object(), scope), g.name());
            case GetItem g -> Attributes.getitem(eval(g.object(), scope), eval(g.key(), scope));
            case Slice s -> Ops.slice(this, eval(s.object(), scope), s.start() == null ? null : eval(s.start(), scope),
                    s.stop() == null ? null : eval(s.stop(), scope), s.step() == null ? null : eval(s.step(), scope));
            case Call c -> {
                Object callee = eval(c.callee(), scope);
                List<Object> args = new ArrayList<>(c.args().size());
                for (Expr a : c.args()) args.add(eval(a, scope));
                Map<String, Object> kw = new LinkedHashMap<>();
                for (int i = 0; i < c.kwNames().size(); i++) kw.put(c.kwNames().get(i), eval(c.kwValues().get(i), scope));
                yield invoke(callee, args, kw, describe(c.callee()));
            }
            case Filter f -> applyFilter(f.filter(), eval(f.input(), scope), scope);
            case Test t -> {
                Object v = eval(t.input(), scope);
                List<Object> args = new ArrayList<>(t.args().size());
                for (Expr a : t.args()) args.add(eval(a, scope));
                boolean r = Tests.test(this, t.name(), v, args);
                yield t.negated() != r;
            }
        };
    }

    private static String describe(Expr callee) {
        return switch (callee) {
            case Name n -> "'" + n.name() + "'";
            case GetAttr g -> "'." + g.name() + "'";
            default -> "expression";
        };
    }

    private Object applyFilter(FilterCall fc, Object input, Scope scope) {
        List<Object> args = new ArrayList<>(fc.args().size());
        for (Expr a : fc.args()) args.add(eval(a, scope));
        Map<String, Object> kw = new LinkedHashMap<>();
        for (int i = 0; i < fc.kwNames().size(); i++) kw.put(fc.kwNames().get(i), eval(fc.kwValues().get(i), scope));
        try {
            return Filters.apply(this, fc.name(), input, args, kw);
        } catch (ChatTemplateException e) {
            throw e.line() == 0 ? new ChatTemplateException(e.kind(), fc.line(), e.getMessage()) : e;
        }
    }
}
