package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.Py.Tuple;
import dev.blender.nativebridge.chat.Py.Undefined;
import java.util.ArrayList;
import java.util.List;

/** Python's operators: arithmetic, comparisons and slicing, with the sizes they build charged to the render. */
final class Ops {
    private Ops() {}

    private static ChatTemplateException unsupported(String op, Object a, Object b) {
        if (a instanceof Undefined u) return Py.error(u.message());
        if (b instanceof Undefined u) return Py.error(u.message());
        return Py.error("unsupported operand type(s) for " + op + ": '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
    }

    static Object negate(Object v) {
        if (v instanceof Double d) return -d;
        if (Py.isInt(v)) {
            long l = Py.toLong(v);
            if (l == Long.MIN_VALUE) throw Py.limit("integer too large");
            return -l;
        }
        if (v instanceof Undefined u) throw Py.error(u.message());
        throw Py.error("bad operand type for unary -: '" + Py.typeName(v) + "'");
    }

    static Object positive(Object v) {
        if (v instanceof Double) return v;
        if (Py.isInt(v)) return Py.toLong(v);
        if (v instanceof Undefined u) throw Py.error(u.message());
        throw Py.error("bad operand type for unary +: '" + Py.typeName(v) + "'");
    }

    static Object binary(Renderer r, String op, Object a, Object b) {
        boolean nums = Py.isNumber(a) && Py.isNumber(b);
        boolean ints = Py.isInt(a) && Py.isInt(b);
        try {
            switch (op) {
                case "+" -> {
                    if (ints) return Math.addExact(Py.toLong(a), Py.toLong(b));
                    if (nums) return Py.toDouble(a) + Py.toDouble(b);
                    if (a instanceof String x && b instanceof String y) {
                        r.charge((long) x.length() + y.length());
                        return x + y;
                    }
                    if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof Tuple) == (b instanceof Tuple)) {
                        r.chargeCollection((long) x.size() + y.size());
                        List<Object> out = new ArrayList<>(x);
                        out.addAll(y);
                        return a instanceof Tuple ? new Tuple(out) : Py.list(out);
                    }
                }
                case "-" -> {
                    if (ints) return Math.subtractExact(Py.toLong(a), Py.toLong(b));
                    if (nums) return Py.toDouble(a) - Py.toDouble(b);
                }
                case "*" -> {
                    if (ints) return Math.multiplyExact(Py.toLong(a), Py.toLong(b));
                    if (nums) return Py.toDouble(a) * Py.toDouble(b);
                    if (Py.isInt(b) && (a instanceof String || a instanceof List)) return repeat(r, a, Py.toLong(b));
                    if (Py.isInt(a) && (b instanceof String || b instanceof List)) return repeat(r, b, Py.toLong(a));
                }
                case "/" -> {
                    if (nums) {
                        double y = Py.toDouble(b);
                        if (y == 0) throw Py.error("division by zero");
                        return Py.toDouble(a) / y;
                    }
                }
                case "//" -> {
                    if (ints) {
                        long y = Py.toLong(b);
                        if (y == 0) throw Py.error("integer division or modulo by zero");
                        return Math.floorDiv(Py.toLong(a), y);
                    }
                    if (nums) {
                        double y = Py.toDouble(b);
                        if (y == 0) throw Py.error("float floor division by zero");
                        return Math.floor(Py.toDouble(a) / y);
                    }
                }
                case "%" -> {
                    if (ints) {
                        long y = Py.toLong(b);
                        if (y == 0) throw Py.error("integer division or modulo by zero");
                        return Math.floorMod(Py.toLong(a), y);
                    }
                    if (nums) {
                        double x = Py.toDouble(a), y = Py.toDouble(b);
                        if (y == 0) throw Py.error("float modulo");
                        double m = x % y;
                        return m != 0 && (m < 0) != (y < 0) ? m + y : m;
                    }
                    if (a instanceof String s) return Strings.percentFormat(r, s, b);
                }
                case "**" -> {
                    if (ints && Py.toLong(b) >= 0) return power(Py.toLong(a), Py.toLong(b));
                    if (nums) return Math.pow(Py.toDouble(a), Py.toDouble(b));
                }
                default -> throw new IllegalStateException(op);
            }
        } catch (ArithmeticException e) {
            throw Py.limit("integer result of '" + op + "' too large");
        }
        throw unsupported(op, a, b);
    }

    private static long power(long base, long exp) {
        long result = 1;
        for (long i = 0; i < exp; i++) {
            result = Math.multiplyExact(result, base);
            if (result == 0 || result == 1 && (base == 1 || base == 0)) return result;
            if (base == -1) return exp % 2 == 0 ? 1 : -1;
        }
        return result;
    }

    private static Object repeat(Renderer r, Object seq, long times) {
        if (times <= 0) return seq instanceof String ? "" : seq instanceof Tuple ? new Tuple(List.of()) : Py.list(new ArrayList<>());
        if (seq instanceof String s) {
            r.charge(saturatedProduct(s.length(), times));
            return s.repeat((int) times);
        }
        List<?> l = (List<?>) seq;
        long n = saturatedProduct(l.size(), times);
        r.chargeCollection(n);
        List<Object> out = new ArrayList<>((int) n);
        for (long i = 0; i < times; i++) out.addAll(l);
        return seq instanceof Tuple ? new Tuple(out) : Py.list(out);
    }

    private static long saturatedProduct(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    static boolean compare(String op, Object a, Object b) {
        return switch (op) {
            case "==" -> Py.eq(a, b);
            case "!=" -> !Py.eq(a, b);
            case "in" -> Py.contains(b, a);
            case "not in" -> !Py.contains(b, a);
            default -> {
                if (a instanceof Undefined u) throw Py.error(u.message());
                if (b instanceof Undefined u) throw Py.error(u.message());
                int c;
                try {
                    c = Py.compare(a, b);
                } catch (ChatTemplateException e) {
                    throw Py.error("'" + op + "' not supported between instances of '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
                }
                yield switch (op) {
                    case "<" -> c < 0;
                    case "<=" -> c <= 0;
                    case ">" -> c > 0;
                    default -> c >= 0;
                };
            }
        };
    }

    static Object slice(Renderer r, Object v, Object start, Object stop, Object step) {
        long st = step == null ? 1 : Py.toLong(step);
        if (st == 0) throw Py.error("slice step cannot be zero");
        int n;
        int[] cps = null;
        List<?> list = null;
        if (v instanceof String s) {
            cps = Py.codePoints(s);
            n = cps.length;
        } else if (v instanceof List<?> l) {
            list = l;
            n = l.size();
        } else if (v instanceof Undefined u) {
            throw Py.error(u.message());
        } else {
            throw Py.error("'" + Py.typeName(v) + "' object is not subscriptable");
        }
        long lo, hi;
        if (st > 0) {
            lo = start == null ? 0 : clamp(Py.toLong(start), n, 0, n);
            hi = stop == null ? n : clamp(Py.toLong(stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clamp(Py.toLong(start), n, -1, n - 1);
            hi = stop == null ? -1 : clamp(Py.toLong(stop), n, -1, n - 1);
        }
        List<Object> picked = new ArrayList<>();
        StringBuilder sb = cps != null ? new StringBuilder() : null;
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) {
            if (sb != null) sb.appendCodePoint(cps[(int) i]);
            else picked.add(list.get((int) i));
        }
        if (sb != null) return sb.toString();
        r.chargeCollection(picked.size());
        return v instanceof Tuple ? new Tuple(picked) : Py.list(picked);
    }

    private static long clamp(long i, int n, long min, long max) {
        if (i < 0) i += n;
        return Math.max(min, Math.min(max, i));
    }
}
