package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import dev.blender.nativebridge.chat.Lexer.Token;
import dev.blender.nativebridge.chat.Lexer.Type;
import dev.blender.nativebridge.chat.Node.*;
import java.util.ArrayList;
import java.util.List;

/**
 * A recursive-descent parser with Jinja's grammar and operator precedence. Nesting is counted so that
 * deeply nested source ends in a {@link ChatTemplateException} rather than a StackOverflowError.
 */
final class Parser {

    private static final java.util.Set<String> UNSUPPORTED_TAGS =
            java.util.Set.of("include", "import", "from", "extends", "block", "with", "do", "autoescape", "trans");

    private final List<Token> tokens;
    private final int maxNesting;
    private int pos;
    private int depth;
    private int loops; // enclosing for loops in the current macro, for break/continue

    private Parser(List<Token> tokens, int maxNesting) {
        this.tokens = tokens;
        this.maxNesting = maxNesting;
    }

    static List<Stmt> parse(String source, int maxNesting) {
        Parser p = new Parser(Lexer.tokenize(source), maxNesting);
        List<Stmt> body = new ArrayList<>();
        String end = p.body(body, java.util.Set.of());
        if (end != null) throw p.error(p.peek(), "unexpected '" + end + "'");
        return List.copyOf(body);
    }

    // ---- statements ----

    private Token peek() {
        return tokens.get(pos);
    }

    private Token next() {
        Token t = tokens.get(pos);
        if (t.type() != Type.EOF) pos++;
        return t;
    }

    private ChatTemplateException error(Token at, String message) {
        return new ChatTemplateException(Kind.SYNTAX, at.line(), message);
    }

    private void enter(Token at) {
        if (++depth > maxNesting) {
            throw new ChatTemplateException(Kind.LIMIT, at.line(), "nesting deeper than " + maxNesting + " levels");
        }
    }

    /**
     * Parses statements into {@code out} until a block tag named in {@code ends} (returned, the stream left just
     * after its name) or the end of the source (null). Any other end tag is returned too, for the caller to reject.
     */
    private String body(List<Stmt> out, java.util.Set<String> ends) {
        while (true) {
            Token t = next();
            switch (t.type()) {
                case EOF -> {
                    return null;
                }
                case TEXT -> out.add(new Text(t.text(), t.line()));
                case VAR_BEGIN -> {
                    Expr e = tuple(true);
                    expect(Type.VAR_END, "'}}'");
                    out.add(new Output(e, t.line()));
                }
                case BLOCK_BEGIN -> {
                    Token name = peek();
                    if (name.type() != Type.NAME) throw error(name, "expected a tag name after '{%'");
                    if (ends.contains(name.text()) || name.text().startsWith("end") || name.text().equals("else")
                            || name.text().equals("elif")) {
                        next();
                        return name.text();
                    }
                    enter(name);
                    out.add(statement());
                    depth--;
                }
                default -> throw error(t, "unexpected '" + t.text() + "'");
            }
        }
    }

    private void blockEnd() {
        expect(Type.BLOCK_END, "'%}'");
    }

    private Token expect(Type type, String what) {
        Token t = next();
        if (t.type() != type) throw error(t, "expected " + what + ", found " + describe(t));
        return t;
    }

    private void expectOp(String op) {
        Token t = next();
        if (!t.isOp(op)) throw error(t, "expected '" + op + "', found " + describe(t));
    }

    private static String describe(Token t) {
        return switch (t.type()) {
            case EOF -> "end of template";
            case BLOCK_END, VAR_END, BLOCK_BEGIN, VAR_BEGIN, OP, NAME -> "'" + t.text() + "'";
            default -> t.type().name().toLowerCase() + " " + t.text();
        };
    }

    private String name() {
        return expect(Type.NAME, "a name").text();
    }

    /** Parses the body of a block and checks it ends with one of {@code ends}. */
    private String block(List<Stmt> out, String tag, Token start, String... ends) {
        String end = body(out, java.util.Set.of(ends));
        if (end == null) throw error(start, "unclosed '{% " + tag + " %}'");
        if (!java.util.Set.of(ends).contains(end)) throw error(tokens.get(pos - 1), "unexpected '" + end + "' in '{% " + tag + " %}'");
        return end;
    }

    private Stmt statement() {
        Token t = next();
        switch (t.text()) {
            case "if" -> {
                List<Expr> conds = new ArrayList<>();
                List<List<Stmt>> bodies = new ArrayList<>();
                List<Stmt> otherwise = List.of();
                conds.add(expression(true));
                blockEnd();
                while (true) {
                    List<Stmt> b = new ArrayList<>();
                    String end = block(b, "if", t, "elif", "else", "endif");
                    bodies.add(List.copyOf(b));
                    if (end.equals("elif")) {
                        conds.add(expression(true));
                        blockEnd();
                    } else if (end.equals("else")) {
                        blockEnd();
                        List<Stmt> e = new ArrayList<>();
                        block(e, "if", t, "endif");
                        blockEnd();
                        otherwise = List.copyOf(e);
                        break;
                    } else {
                        blockEnd();
                        break;
                    }
                }
                return new If(List.copyOf(conds), List.copyOf(bodies), otherwise, t.line());
            }
            case "for" -> {
                Target target = target(false);
                if (!next().isName("in")) throw error(tokens.get(pos - 1), "expected 'in' in '{% for %}'");
                Expr iterable = tuple(false);
                Expr filter = null;
                if (peek().isName("if")) {
                    next();
                    filter = expression(true);
                }
                boolean recursive = false;
                if (peek().isName("recursive")) {
                    next();
                    recursive = true;
                }
                blockEnd();
                List<Stmt> b = new ArrayList<>();
                List<Stmt> e = new ArrayList<>();
                loops++;
                String end = block(b, "for", t, "else", "endfor");
                loops--;
                if (end.equals("else")) {
                    blockEnd();
                    block(e, "for", t, "endfor");
                }
                blockEnd();
                return new For(target, iterable, filter, recursive, List.copyOf(b), List.copyOf(e), t.line());
            }
            case "set" -> {
                Target target = target(true);
                if (peek().isOp("=")) {
                    next();
                    Expr value = tuple(true);
                    blockEnd();
                    return new Set(target, value, t.line());
                }
                List<FilterCall> filters = new ArrayList<>();
                while (peek().isOp("|")) {
                    next();
                    filters.add(filterCall());
                }
                blockEnd();
                List<Stmt> b = new ArrayList<>();
                block(b, "set", t, "endset");
                blockEnd();
                return new SetBlock(target, List.copyOf(filters), List.copyOf(b), t.line());
            }
            case "macro" -> {
                String name = name();
                List<String> params = new ArrayList<>();
                List<Expr> defaults = new ArrayList<>();
                signature(params, defaults);
                blockEnd();
                List<Stmt> b = new ArrayList<>();
                int outerLoops = loops;
                loops = 0;
                block(b, "macro", t, "endmacro");
                loops = outerLoops;
                if (peek().type() == Type.NAME) next(); // {% endmacro name %}
                blockEnd();
                return new Macro(name, List.copyOf(params), java.util.Collections.unmodifiableList(defaults), List.copyOf(b), t.line());
            }
            case "call" -> {
                List<String> params = new ArrayList<>();
                List<Expr> defaults = new ArrayList<>();
                if (peek().isOp("(")) signature(params, defaults);
                Expr call = expression(true);
                if (!(call instanceof Call c)) throw error(t, "'{% call %}' needs a macro call");
                blockEnd();
                List<Stmt> b = new ArrayList<>();
                block(b, "call", t, "endcall");
                blockEnd();
                return new CallBlock(c, List.copyOf(params), java.util.Collections.unmodifiableList(defaults), List.copyOf(b), t.line());
            }
            case "filter" -> {
                List<FilterCall> filters = new ArrayList<>();
                filters.add(filterCall());
                while (peek().isOp("|")) {
                    next();
                    filters.add(filterCall());
                }
                blockEnd();
                List<Stmt> b = new ArrayList<>();
                block(b, "filter", t, "endfilter");
                blockEnd();
                return new FilterBlock(List.copyOf(filters), List.copyOf(b), t.line());
            }
            case "generation" -> {
                // transformers' extension marks the assistant's tokens; rendering it is rendering its body
                blockEnd();
                List<Stmt> b = new ArrayList<>();
                block(b, "generation", t, "endgeneration");
                blockEnd();
                return new FilterBlock(List.of(), List.copyOf(b), t.line());
            }
            case "break", "continue" -> {
                if (loops == 0) throw error(t, "'" + t.text() + "' outside a for loop");
                blockEnd();
                return t.text().equals("break") ? new Break(t.line()) : new Continue(t.line());
            }
            default -> {
                if (UNSUPPORTED_TAGS.contains(t.text())) {
                    throw new ChatTemplateException(Kind.UNSUPPORTED, t.line(), "tag '" + t.text() + "' is not supported");
                }
                throw error(t, "unknown tag '" + t.text() + "'");
            }
        }
    }

    private void signature(List<String> params, List<Expr> defaults) {
        expectOp("(");
        while (!peek().isOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            if (peek().isOp(")")) break;
            Token n = expect(Type.NAME, "a parameter name");
            params.add(n.text());
            if (peek().isOp("=")) {
                next();
                defaults.add(expression(true));
            } else {
                if (!defaults.isEmpty() && defaults.get(defaults.size() - 1) != null) {
                    throw error(n, "parameter '" + n.text() + "' without a default follows one with a default");
                }
                defaults.add(null);
            }
        }
        next();
    }

    private Target target(boolean allowAttr) {
        List<Target> items = new ArrayList<>();
        boolean tuple = false;
        boolean paren = peek().isOp("(");
        if (paren) next();
        while (true) {
            Token n = expect(Type.NAME, "a variable name");
            if (allowAttr && peek().isOp(".")) {
                next();
                items.add(new AttrTarget(n.text(), name()));
            } else {
                items.add(new NameTarget(n.text()));
            }
            if (!peek().isOp(",")) break;
            next();
            tuple = true;
            if (peek().type() != Type.NAME) break;
        }
        if (paren) expectOp(")");
        return tuple || items.size() > 1 ? new TupleTarget(List.copyOf(items)) : items.get(0);
    }

    private FilterCall filterCall() {
        Token n = expect(Type.NAME, "a filter name");
        String name = n.text();
        while (peek().isOp(".")) {
            next();
            name += "." + name();
        }
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        if (peek().isOp("(")) arguments(args, kwNames, kwValues);
        return new FilterCall(name, List.copyOf(args), List.copyOf(kwNames), List.copyOf(kwValues), n.line());
    }

    private void arguments(List<Expr> args, List<String> kwNames, List<Expr> kwValues) {
        Token open = next(); // (
        while (!peek().isOp(")")) {
            if (!args.isEmpty() || !kwNames.isEmpty()) expectOp(",");
            if (peek().isOp(")")) break;
            if (peek().isOp("*") || peek().isOp("**")) {
                throw new ChatTemplateException(Kind.UNSUPPORTED, peek().line(), "'*' and '**' arguments are not supported");
            }
            if (peek().type() == Type.NAME && tokens.get(pos + 1).isOp("=")) {
                kwNames.add(next().text());
                next();
                kwValues.add(expression(true));
            } else {
                if (!kwNames.isEmpty()) throw error(peek(), "positional argument after a keyword argument");
                args.add(expression(true));
            }
            if (peek().type() == Type.EOF) throw error(open, "unclosed '('");
        }
        next();
    }

    // ---- expressions, lowest precedence first ----

    /** An expression, or a tuple without parentheses ({@code a, b}). */
    private Expr tuple(boolean withConditional) {
        Token start = peek();
        Expr first = withConditional ? expression(true) : or();
        if (!peek().isOp(",")) return first;
        List<Expr> items = new ArrayList<>();
        items.add(first);
        while (peek().isOp(",")) {
            next();
            if (!startsExpression(peek())) break;
            items.add(withConditional ? expression(true) : or());
        }
        return new TupleExpr(List.copyOf(items), start.line());
    }

    private static boolean startsExpression(Token t) {
        return switch (t.type()) {
            case NAME, STRING, INT, FLOAT -> true;
            case OP -> t.text().equals("(") || t.text().equals("[") || t.text().equals("{") || t.text().equals("-")
                    || t.text().equals("+");
            default -> false;
        };
    }

    private Expr expression(boolean withConditional) {
        Token start = peek();
        enter(start);
        try {
            Expr e = or();
            while (withConditional && peek().isName("if")) {
                next();
                Expr test = or();
                Expr otherwise = null;
                if (peek().isName("else")) {
                    next();
                    otherwise = expression(true);
                }
                e = new Conditional(test, e, otherwise, start.line());
            }
            return e;
        } finally {
            depth--;
        }
    }

    private Expr or() {
        int mark = depth;
        Expr left = and();
        while (peek().isName("or")) {
            Token t = next();
            enter(t); // each link nests the tree, which the renderer walks recursively
            left = new Binary("or", left, and(), t.line());
        }
        depth = mark;
        return left;
    }

    private Expr and() {
        int mark = depth;
        Expr left = not();
        while (peek().isName("and")) {
            Token t = next();
            enter(t);
            left = new Binary("and", left, not(), t.line());
        }
        depth = mark;
        return left;
    }

    private Expr not() {
        if (peek().isName("not")) {
            Token t = next();
            enter(t);
            try {
                return new Unary("not", not(), t.line());
            } finally {
                depth--;
            }
        }
        return compare();
    }

    private Expr compare() {
        Token start = peek();
        Expr first = math1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = peek();
            if (t.type() == Type.OP && java.util.Set.of("==", "!=", "<", "<=", ">", ">=").contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && tokens.get(pos + 1).isName("in")) {
                next();
                next();
                ops.add("not in");
            } else {
                break;
            }
            rest.add(math1());
        }
        return ops.isEmpty() ? first : new Compare(first, List.copyOf(ops), List.copyOf(rest), start.line());
    }

    private Expr math1() {
        int mark = depth;
        Expr left = concat();
        while (peek().isOp("+") || peek().isOp("-")) {
            Token t = next();
            enter(t);
            left = new Binary(t.text(), left, concat(), t.line());
        }
        depth = mark;
        return left;
    }

    private Expr concat() {
        Token start = peek();
        Expr first = math2();
        if (!peek().isOp("~")) return first;
        List<Expr> parts = new ArrayList<>();
        parts.add(first);
        while (peek().isOp("~")) {
            next();
            parts.add(math2());
        }
        return new Concat(List.copyOf(parts), start.line());
    }

    private Expr math2() {
        int mark = depth;
        Expr left = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            Token t = next();
            enter(t);
            left = new Binary(t.text(), left, pow(), t.line());
        }
        depth = mark;
        return left;
    }

    private Expr pow() {
        int mark = depth;
        Expr left = unary(true);
        while (peek().isOp("**")) {
            Token t = next();
            enter(t);
            left = new Binary("**", left, unary(true), t.line());
        }
        depth = mark;
        return left;
    }

    private Expr unary(boolean withFilter) {
        Token t = peek();
        Expr node;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            enter(t);
            try {
                node = new Unary(t.text(), unary(false), t.line());
            } finally {
                depth--;
            }
        } else {
            node = postfix(primary());
        }
        return withFilter ? filters(node) : node;
    }

    private Expr primary() {
        Token t = next();
        switch (t.type()) {
            case NAME -> {
                return switch (t.text()) {
                    case "true", "True" -> new Literal(Boolean.TRUE, t.line());
                    case "false", "False" -> new Literal(Boolean.FALSE, t.line());
                    case "none", "None" -> new Literal(null, t.line());
                    default -> new Name(t.text(), t.line());
                };
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder((String) t.value());
                while (peek().type() == Type.STRING) sb.append((String) next().value());
                return new Literal(sb.toString(), t.line());
            }
            case INT, FLOAT -> {
                return new Literal(t.value(), t.line());
            }
            case OP -> {
                enter(t);
                try {
                    switch (t.text()) {
                        case "(" -> {
                            if (peek().isOp(")")) {
                                next();
                                return new TupleExpr(List.of(), t.line());
                            }
                            Expr e = expression(true);
                            if (peek().isOp(",")) {
                                List<Expr> items = new ArrayList<>();
                                items.add(e);
                                while (peek().isOp(",")) {
                                    next();
                                    if (peek().isOp(")")) break;
                                    items.add(expression(true));
                                }
                                e = new TupleExpr(List.copyOf(items), t.line());
                            }
                            expectOp(")");
                            return e;
                        }
                        case "[" -> {
                            List<Expr> items = new ArrayList<>();
                            while (!peek().isOp("]")) {
                                if (!items.isEmpty()) expectOp(",");
                                if (peek().isOp("]")) break;
                                items.add(expression(true));
                            }
                            next();
                            return new ListExpr(List.copyOf(items), t.line());
                        }
                        case "{" -> {
                            List<Expr> keys = new ArrayList<>();
                            List<Expr> values = new ArrayList<>();
                            while (!peek().isOp("}")) {
                                if (!keys.isEmpty()) expectOp(",");
                                if (peek().isOp("}")) break;
                                keys.add(expression(true));
                                expectOp(":");
                                values.add(expression(true));
                            }
                            next();
                            return new DictExpr(List.copyOf(keys), List.copyOf(values), t.line());
                        }
                        default -> throw error(t, "unexpected '" + t.text() + "'");
                    }
                } finally {
                    depth--;
                }
            }
            default -> throw error(t, "unexpected " + describe(t));
        }
    }

    private Expr postfix(Expr node) {
        int mark = depth;
        try {
            return postfixChain(node);
        } finally {
            depth = mark;
        }
    }

    private Expr postfixChain(Expr node) {
        while (true) {
            Token t = peek();
            if (t.isOp(".") || t.isOp("[") || t.isOp("(")) enter(t);
            if (t.isOp(".")) {
                next();
                Token n = next();
                if (n.type() == Type.NAME) {
                    node = new GetAttr(node, n.text(), n.line());
                } else if (n.type() == Type.INT) {
                    node = new GetItem(node, new Literal(n.value(), n.line()), n.line());
                } else {
                    throw error(n, "expected an attribute name after '.', found " + describe(n));
                }
            } else if (t.isOp("[")) {
                next();
                node = subscript(node, t);
            } else if (t.isOp("(")) {
                node = call(node);
            } else {
                return node;
            }
        }
    }

    private Expr subscript(Expr node, Token open) {
        enter(open);
        try {
            Expr[] parts = new Expr[3];
            int part = 0;
            boolean slice = false;
            while (!peek().isOp("]")) {
                if (peek().isOp(":")) {
                    next();
                    slice = true;
                    if (++part > 2) throw error(open, "too many ':' in a slice");
                    continue;
                }
                if (parts[part] != null) throw error(peek(), "expected ']' or ':' in a subscript, found " + describe(peek()));
                parts[part] = slice ? expression(true) : tuple(true);
            }
            next();
            if (!slice) {
                if (parts[0] == null) throw error(open, "empty subscript '[]'");
                return new GetItem(node, parts[0], open.line());
            }
            return new Slice(node, parts[0], parts[1], parts[2], open.line());
        } finally {
            depth--;
        }
    }

    private Call call(Expr callee) {
        Token open = peek();
        enter(open);
        try {
            List<Expr> args = new ArrayList<>();
            List<String> kwNames = new ArrayList<>();
            List<Expr> kwValues = new ArrayList<>();
            arguments(args, kwNames, kwValues);
            return new Call(callee, List.copyOf(args), List.copyOf(kwNames), List.copyOf(kwValues), open.line());
        } finally {
            depth--;
        }
    }

    private Expr filters(Expr node) {
        int mark = depth;
        try {
            return filterChain(node);
        } finally {
            depth = mark;
        }
    }

    private Expr filterChain(Expr node) {
        while (true) {
            Token t = peek();
            if (t.isOp("|") || t.isName("is") || t.isOp("(")) enter(t);
            if (t.isOp("|")) {
                next();
                node = new Filter(node, filterCall(), t.line());
            } else if (t.isName("is")) {
                next();
                node = test(node, t);
            } else if (t.isOp("(")) {
                node = call(node);
            } else {
                return node;
            }
        }
    }

    private Expr test(Expr node, Token is) {
        boolean negated = false;
        if (peek().isName("not")) {
            next();
            negated = true;
        }
        Token n = next();
        String name = switch (n.type()) {
            case NAME -> n.text();
            default -> throw error(n, "expected a test name after 'is', found " + describe(n));
        };
        if (name.equals("true") || name.equals("false") || name.equals("none")) name = name.toLowerCase();
        while (peek().isOp(".")) {
            next();
            name += "." + name();
        }
        List<Expr> args = new ArrayList<>();
        Token t = peek();
        if (t.isOp("(")) {
            Call c = call(new Literal(null, t.line()));
            if (!c.kwNames().isEmpty()) {
                throw new ChatTemplateException(Kind.UNSUPPORTED, t.line(), "keyword arguments to test '" + name + "'");
            }
            args.addAll(c.args());
        } else if ((t.type() == Type.NAME || t.type() == Type.STRING || t.type() == Type.INT || t.type() == Type.FLOAT
                        || t.isOp("[") || t.isOp("{"))
                && !t.isName("else") && !t.isName("or") && !t.isName("and") && !t.isName("is") && !t.isName("if")
                && !t.isName("in") && !t.isName("not")) {
            args.add(postfix(primary()));
        }
        return new Test(node, name, List.copyOf(args), negated, is.line());
    }
}
