package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import dev.blender.nativebridge.chat.Py.PyCallable;
import dev.blender.nativebridge.chat.Py.Undefined;
import java.util.List;
import java.util.Map;

/** jinja2's tests, the right-hand side of {@code x is name}. */
final class Tests {
    private Tests() {}

    private static Object only(String test, List<Object> args) {
        if (args.size() != 1) throw Py.error("test '" + test + "' takes one argument (" + args.size() + " given)");
        return args.get(0);
    }

    static boolean test(Renderer r, String name, Object v, List<Object> args) {
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "string" -> v instanceof String;
            case "number" -> Py.isNumber(v);
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "mapping" -> v instanceof Map;
            case "iterable" -> v instanceof String || v instanceof List || v instanceof Map || v instanceof Undefined;
            case "sequence" -> v instanceof String || v instanceof List || v instanceof Map;
            case "callable" -> v instanceof PyCallable;
            case "odd", "even" -> {
                if (!Py.isInt(v)) throw Py.error("test '" + name + "' needs an integer, got " + Py.typeName(v));
                yield (Py.toLong(v) % 2 != 0) == name.equals("odd");
            }
            case "divisibleby" -> {
                long d = Py.toLong(only(name, args));
                if (d == 0) throw Py.error("integer division or modulo by zero");
                yield Py.toLong(v) % d == 0;
            }
            case "equalto", "eq", "==" -> Py.eq(v, only(name, args));
            case "ne", "!=" -> !Py.eq(v, only(name, args));
            case "lt", "<" -> Ops.compare("<", v, only(name, args));
            case "le", "<=" -> Ops.compare("<=", v, only(name, args));
            case "gt", ">", "greaterthan" -> Ops.compare(">", v, only(name, args));
            case "ge", ">=" -> Ops.compare(">=", v, only(name, args));
            case "lessthan" -> Ops.compare("<", v, only(name, args));
            case "in" -> Py.contains(only(name, args), v);
            case "sameas" -> Py.same(v, only(name, args));
            case "lower" -> r.str(v).equals(r.str(v).toLowerCase(java.util.Locale.ROOT));
            case "upper" -> r.str(v).equals(r.str(v).toUpperCase(java.util.Locale.ROOT));
            case "escaped" -> false;
            default -> throw new ChatTemplateException(Kind.UNSUPPORTED, 0, "no test named '" + name + "'");
        };
    }
}
