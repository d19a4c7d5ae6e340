package dev.blender.nativebridge.chat;

import java.util.List;

/** The parsed template: statements and expressions as immutable records, each knowing its source line. */
sealed interface Node {

    int line();

    // ---- statements ----

    sealed interface Stmt extends Node {}

    record Text(String text, int line) implements Stmt {}

    record Output(Expr expr, int line) implements Stmt {}

    record If(List<Expr> conditions, List<List<Stmt>> bodies, List<Stmt> otherwise, int line) implements Stmt {}

    record For(Target target, Expr iterable, Expr filter, boolean recursive, List<Stmt> body, List<Stmt> otherwise, int line)
            implements Stmt {}

    record Set(Target target, Expr value, int line) implements Stmt {}

    record SetBlock(Target target, List<FilterCall> filters, List<Stmt> body, int line) implements Stmt {}

    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body, int line) implements Stmt {}

    record CallBlock(Call call, List<String> params, List<Expr> defaults, List<Stmt> body, int line) implements Stmt {}

    record FilterBlock(List<FilterCall> filters, List<Stmt> body, int line) implements Stmt {}

    record Break(int line) implements Stmt {}

    record Continue(int line) implements Stmt {}

    /** An assignment target: a name, {@code ns.attr}, or names to unpack into. */
    sealed interface Target {}

    record NameTarget(String name) implements Target {}

    record AttrTarget(String object, String attr) implements Target {}

    record TupleTarget(List<Target> items) implements Target {}

    // ---- expressions ----

    sealed interface Expr extends Node {}

    record Literal(Object value, int line) implements Expr {}

    record Name(String name, int line) implements Expr {}

    record ListExpr(List<Expr> items, int line) implements Expr {}

    record TupleExpr(List<Expr> items, int line) implements Expr {}

    record DictExpr(List<Expr> keys, List<Expr> values, int line) implements Expr {}

    record Unary(String op, Expr operand, int line) implements Expr {}

    record Binary(String op, Expr left, Expr right, int line) implements Expr {}

    record Concat(List<Expr> parts, int line) implements Expr {}

    record Compare(Expr first, List<String> ops, List<Expr> rest, int line) implements Expr {}

    record Conditional(Expr test, Expr then, Expr otherwise, int line) implements Expr {}

    record GetAttr(Expr object, String name, int line) implements Expr {}

    record GetItem(Expr object, Expr key, int line) implements Expr {}

    record Slice(Expr object, Expr start, Expr stop, Expr step, int line) implements Expr {}

    record Call(Expr callee, List<Expr> args, List<String> kwNames, List<Expr> kwValues, int line) implements Expr {}

    record FilterCall(String name, List<Expr> args, List<String> kwNames, List<Expr> kwValues, int line) {}

    record Filter(Expr input, FilterCall filter, int line) implements Expr {}

    record Test(Expr input, String name, List<Expr> args, boolean negated, int line) implements Expr {}
}
