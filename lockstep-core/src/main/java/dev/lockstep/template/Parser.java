package dev.lockstep.template;

import dev.lockstep.template.Lexer.Tok;
import dev.lockstep.template.Lexer.Type;
import dev.lockstep.template.Node.Expr;
import dev.lockstep.template.Node.FilterCall;
import dev.lockstep.template.Node.Stmt;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Builds the syntax tree, with Jinja2's grammar and operator precedence (loosest first):
 * {@code x if c else y}, {@code or}, {@code and}, {@code not}, comparisons and {@code in},
 * {@code + -}, {@code ~}, {@code * / // %}, {@code **}, unary {@code - +}, then postfix
 * ({@code .attr}, {@code [key]}, calls) with filters ({@code |f}) and tests ({@code is t}) binding
 * tighter than every binary operator.
 *
 * <p>As in Jinja2 3.x, an unknown filter or test is an error when the template is compiled, unless it
 * sits inside a conditional (an {@code if} block or a conditional expression), where it is an error
 * only if it runs. Tags that would read other templates ({@code include}, {@code import},
 * {@code from}, {@code extends}, {@code block}) are refused: a chat template renders itself only.
 */
final class Parser {
    private static final Set<String> FORBIDDEN_TAGS = Set.of("include", "import", "from", "extends", "block");
    private static final Set<String> COMPARE = Set.of("==", "!=", "<", ">", "<=", ">=");

    private final List<Tok> toks;
    private int i;

    private Parser(List<Tok> toks) {
        this.toks = toks;
    }

    static List<Stmt> parse(String source) {
        Parser p = new Parser(Lexer.tokenize(source));
        List<Stmt> body = p.statements(Set.of());
        if (p.peek().type() != Type.EOF) throw p.error("unexpected '" + p.peek().text() + "'");
        for (Stmt st : body) checkNames(st, false);
        return body;
    }

    // ------------------------------------------------------------------ tokens

    private Tok peek() {
        return toks.get(i);
    }

    private Tok peek(int ahead) {
        return toks.get(Math.min(i + ahead, toks.size() - 1));
    }

    private Tok next() {
        return toks.get(i++);
    }

    private TemplateException error(String message) {
        return new TemplateException(peek().line(), message);
    }

    private Tok expectOp(String op) {
        if (!peek().isOp(op)) throw error("expected '" + op + "', found '" + describe(peek()) + "'");
        return next();
    }

    private String expectName() {
        if (peek().type() != Type.NAME) throw error("expected a name, found '" + describe(peek()) + "'");
        return next().text();
    }

    private void expectBlockEnd() {
        if (peek().type() != Type.BLOCK_END) throw error("expected the end of the tag ('%}'), found '" + describe(peek()) + "'");
        next();
    }

    private static String describe(Tok t) {
        return t.type() == Type.EOF ? "the end of the template" : t.text();
    }

    // ------------------------------------------------------------------ statements

    /** Statements until a block tag whose name is in {@code ends} (left unconsumed: its BLOCK_BEGIN is next) or EOF. */
    private List<Stmt> statements(Set<String> ends) {
        List<Stmt> out = new ArrayList<>();
        while (true) {
            Tok t = peek();
            switch (t.type()) {
                case EOF -> {
                    if (!ends.isEmpty()) throw error("the template ends inside a block (expected " + String.join(" or ", ends) + ")");
                    return out;
                }
                case TEXT -> out.add(new Node.Text(next().line(), (String) t.value()));
                case VAR_BEGIN -> {
                    next();
                    Expr e = expression();
                    if (peek().type() != Type.VAR_END) throw error("expected '}}', found '" + describe(peek()) + "'");
                    next();
                    out.add(new Node.Output(t.line(), e));
                }
                case BLOCK_BEGIN -> {
                    Tok name = peek(1);
                    if (name.type() == Type.NAME && ends.contains(name.text())) return out;
                    next();
                    out.add(block());
                }
                default -> throw error("unexpected '" + t.text() + "'");
            }
        }
    }

    private Stmt block() {
        Tok t = peek();
        if (t.type() != Type.NAME) throw error("expected a tag name after '{%'");
        String name = next().text();
        int line = t.line();
        if (FORBIDDEN_TAGS.contains(name))
            throw new TemplateException(line, "the tag '" + name + "' is not allowed: a chat template renders itself, it reads no other template");
        return switch (name) {
            case "if" -> ifBlock(line);
            case "for" -> forBlock(line);
            case "set" -> setBlock(line);
            case "macro" -> macroBlock(line);
            case "call" -> callBlock(line);
            case "filter" -> filterBlock(line);
            case "break" -> {
                expectBlockEnd();
                yield new Node.Break(line);
            }
            case "continue" -> {
                expectBlockEnd();
                yield new Node.Continue(line);
            }
            case "generation" -> {
                expectBlockEnd();
                List<Stmt> body = statements(Set.of("endgeneration"));
                endTag("endgeneration");
                yield new Node.Generation(line, body);
            }
            default -> throw new TemplateException(line, "unknown tag '" + name + "'");
        };
    }

    /** Consumes {@code {% name %}}. */
    private void endTag(String name) {
        next(); // BLOCK_BEGIN
        if (!peek().isName(name)) throw error("expected '" + name + "'");
        next();
        expectBlockEnd();
    }

    private Stmt ifBlock(int line) {
        List<Expr> conds = new ArrayList<>();
        List<List<Stmt>> branches = new ArrayList<>();
        List<Stmt> otherwise = List.of();
        {
            conds.add(expression());
            expectBlockEnd();
            while (true) {
                List<Stmt> body = statements(Set.of("elif", "else", "endif"));
                next(); // BLOCK_BEGIN
                String tag = next().text();
                if (tag.equals("elif")) {
                    branches.add(body);
                    conds.add(expression());
                    expectBlockEnd();
                } else if (tag.equals("else")) {
                    branches.add(body);
                    expectBlockEnd();
                    otherwise = statements(Set.of("endif"));
                    endTag("endif");
                    break;
                } else {
                    branches.add(body);
                    expectBlockEnd();
                    break;
                }
            }
        }
        return new Node.If(line, conds, branches, otherwise);
    }

    private Stmt forBlock(int line) {
        List<String> targets = new ArrayList<>();
        boolean paren = peek().isOp("(");
        if (paren) next();
        targets.add(expectName());
        while (peek().isOp(",")) {
            next();
            if (peek().type() == Type.NAME && !peek().isName("in")) targets.add(next().text());
        }
        if (paren) expectOp(")");
        if (!peek().isName("in")) throw error("expected 'in' in a for loop");
        next();
        Expr iterable = orExpr(); // no conditional expression: "if" here filters the loop
        if (peek().isOp(",")) iterable = tupleRest(iterable);
        Expr filter = null;
        boolean recursive = false;
        if (peek().isName("if")) {
            next();
            filter = orExpr();
        }
        if (peek().isName("recursive")) {
            next();
            recursive = true;
        }
        expectBlockEnd();
        List<Stmt> body = statements(Set.of("else", "endfor"));
        List<Stmt> otherwise = List.of();
        next();
        String tag = next().text();
        expectBlockEnd();
        if (tag.equals("else")) {
            otherwise = statements(Set.of("endfor"));
            endTag("endfor");
        }
        return new Node.For(line, targets, iterable, filter, recursive, body, otherwise);
    }

    private Stmt setBlock(int line) {
        List<String> targets = new ArrayList<>();
        String first = expectName();
        String namespace = null;
        if (peek().isOp(".")) { // {% set ns.attr = ... %}
            next();
            namespace = first;
            first = expectName();
        }
        targets.add(first);
        while (peek().isOp(",")) {
            next();
            targets.add(expectName());
        }
        if (peek().isOp("=")) {
            next();
            Expr value = expression();
            if (peek().isOp(",")) value = tupleRest(value);
            expectBlockEnd();
            return new Node.Set(line, targets, namespace, value);
        }
        if (targets.size() != 1) throw error("a block set assigns one name");
        List<FilterCall> filters = new ArrayList<>();
        while (peek().isOp("|")) {
            next();
            filters.add(filterCall());
        }
        expectBlockEnd();
        List<Stmt> body = statements(Set.of("endset"));
        endTag("endset");
        return new Node.SetBlock(line, first, namespace, body, filters);
    }

    private Stmt macroBlock(int line) {
        String name = expectName();
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        expectOp("(");
        while (!peek().isOp(")")) {
            params.add(expectName());
            if (peek().isOp("=")) {
                next();
                defaults.add(expression());
            } else {
                if (!defaults.isEmpty()) throw error("a parameter without a default follows one with a default");
            }
            if (!peek().isOp(",")) break;
            next();
        }
        expectOp(")");
        expectBlockEnd();
        List<Stmt> body = statements(Set.of("endmacro"));
        endTag("endmacro");
        return new Node.Macro(line, name, params, defaults, body);
    }

    private Stmt callBlock(int line) {
        List<String> params = new ArrayList<>();
        if (peek().isOp("(")) {
            next();
            while (!peek().isOp(")")) {
                params.add(expectName());
                if (!peek().isOp(",")) break;
                next();
            }
            expectOp(")");
        }
        Expr call = expression();
        if (!(call instanceof Node.Call)) throw error("a call block needs a macro call");
        expectBlockEnd();
        List<Stmt> body = statements(Set.of("endcall"));
        endTag("endcall");
        return new Node.CallBlock(line, params, call, body);
    }

    private Stmt filterBlock(int line) {
        List<FilterCall> filters = new ArrayList<>();
        filters.add(filterCall());
        while (peek().isOp("|")) {
            next();
            filters.add(filterCall());
        }
        expectBlockEnd();
        List<Stmt> body = statements(Set.of("endfilter"));
        endTag("endfilter");
        return new Node.FilterBlock(line, filters, body);
    }

    // ------------------------------------------------------------------ unknown filters and tests

    /**
     * Jinja2's compile-time check: a filter or test no one defines is an error, unless it is in a
     * "soft" frame, an if statement (its tests and bodies) or a conditional expression, where it fails
     * only if it runs. Inner frames (a for loop's body and filter, a macro, a set or filter block)
     * start hard again, as Jinja2's {@code Frame.inner} does.
     */
    private static void checkNames(Node n, boolean soft) {
        switch (n) {
            case Node.Text t -> { }
            case Node.Output o -> checkNames(o.expr(), soft);
            case Node.If f -> {
                f.conditions().forEach(c -> checkNames(c, true));
                f.branches().forEach(b -> b.forEach(st -> checkNames(st, true)));
                f.otherwise().forEach(st -> checkNames(st, true));
            }
            case Node.For f -> {
                checkNames(f.iterable(), soft);
                if (f.filter() != null) checkNames(f.filter(), false);
                f.body().forEach(st -> checkNames(st, false));
                f.otherwise().forEach(st -> checkNames(st, false));
            }
            case Node.Set st -> checkNames(st.value(), soft);
            case Node.SetBlock sb -> {
                sb.body().forEach(st -> checkNames(st, false));
                sb.filters().forEach(fc -> checkFilter(fc, false));
            }
            case Node.Macro m -> {
                m.defaults().forEach(d -> checkNames(d, soft));
                m.body().forEach(st -> checkNames(st, false));
            }
            case Node.CallBlock cb -> {
                checkNames(cb.call(), soft);
                cb.body().forEach(st -> checkNames(st, false));
            }
            case Node.FilterBlock fb -> {
                fb.filters().forEach(fc -> checkFilter(fc, false));
                fb.body().forEach(st -> checkNames(st, false));
            }
            case Node.Generation g -> g.body().forEach(st -> checkNames(st, soft));
            case Node.Break b -> { }
            case Node.Continue c -> { }
            case Node.Const c -> { }
            case Node.Name nm -> { }
            case Node.ListLit l -> l.items().forEach(x -> checkNames(x, soft));
            case Node.TupleLit tl -> tl.items().forEach(x -> checkNames(x, soft));
            case Node.DictLit d -> {
                d.keys().forEach(x -> checkNames(x, soft));
                d.values().forEach(x -> checkNames(x, soft));
            }
            case Node.Attr a -> checkNames(a.obj(), soft);
            case Node.Item it -> {
                checkNames(it.obj(), soft);
                checkNames(it.key(), soft);
            }
            case Node.Slice sl -> {
                checkNames(sl.obj(), soft);
                for (Expr x : new Expr[]{sl.start(), sl.stop(), sl.step()}) if (x != null) checkNames(x, soft);
            }
            case Node.Call c -> {
                checkNames(c.fn(), soft);
                c.args().forEach(x -> checkNames(x, soft));
                c.kwValues().forEach(x -> checkNames(x, soft));
                if (c.varargs() != null) checkNames(c.varargs(), soft);
                if (c.kwargs() != null) checkNames(c.kwargs(), soft);
            }
            case Node.Filter f -> {
                checkNames(f.value(), soft);
                checkFilter(f.call(), soft);
            }
            case Node.Test t -> {
                checkNames(t.value(), soft);
                t.args().forEach(x -> checkNames(x, soft));
                if (!soft && !Builtins.hasTest(t.name())) throw new TemplateException(t.line(), "no test named '" + t.name() + "'");
            }
            case Node.Binary b -> {
                checkNames(b.left(), soft);
                checkNames(b.right(), soft);
            }
            case Node.Unary u -> checkNames(u.operand(), soft);
            case Node.Cond c -> {
                checkNames(c.condition(), true);
                checkNames(c.then(), true);
                if (c.otherwise() != null) checkNames(c.otherwise(), true);
            }
        }
    }

    private static void checkFilter(FilterCall fc, boolean soft) {
        fc.args().forEach(x -> checkNames(x, soft));
        fc.kwValues().forEach(x -> checkNames(x, soft));
        if (!soft && !Builtins.hasFilter(fc.name())) throw new TemplateException(fc.line(), "no filter named '" + fc.name() + "'");
    }

    // ------------------------------------------------------------------ expressions

    Expr expression() {
        int line = peek().line();
        Expr e = orExpr();
        if (peek().isName("if")) {
            next();
            Expr cond = orExpr();
            Expr otherwise = null;
            if (peek().isName("else")) {
                next();
                otherwise = expression();
            }
            return new Node.Cond(line, cond, e, otherwise);
        }
        return e;
    }

    /** {@code a, b, c} after its first item (an unparenthesized tuple in set and for). */
    private Expr tupleRest(Expr first) {
        List<Expr> items = new ArrayList<>(List.of(first));
        while (peek().isOp(",")) {
            next();
            if (peek().type() == Type.BLOCK_END) break;
            items.add(expression());
        }
        return new Node.TupleLit(first.line(), items);
    }

    private Expr orExpr() {
        Expr e = andExpr();
        while (peek().isName("or")) {
            int line = next().line();
            e = new Node.Binary(line, "or", e, andExpr());
        }
        return e;
    }

    private Expr andExpr() {
        Expr e = notExpr();
        while (peek().isName("and")) {
            int line = next().line();
            e = new Node.Binary(line, "and", e, notExpr());
        }
        return e;
    }

    private Expr notExpr() {
        if (peek().isName("not")) {
            int line = next().line();
            return new Node.Unary(line, "not", notExpr());
        }
        return compare();
    }

    private Expr compare() {
        Expr e = math1();
        while (true) {
            Tok t = peek();
            if (t.type() == Type.OP && COMPARE.contains(t.text())) {
                next();
                e = new Node.Binary(t.line(), t.text(), e, math1());
            } else if (t.isName("in")) {
                next();
                e = new Node.Binary(t.line(), "in", e, math1());
            } else if (t.isName("not") && peek(1).isName("in")) {
                next();
                next();
                e = new Node.Binary(t.line(), "not in", e, math1());
            } else {
                return e;
            }
        }
    }

    private Expr math1() {
        Expr e = concat();
        while (peek().isOp("+") || peek().isOp("-")) {
            Tok t = next();
            e = new Node.Binary(t.line(), t.text(), e, concat());
        }
        return e;
    }

    private Expr concat() {
        Expr e = math2();
        while (peek().isOp("~")) {
            Tok t = next();
            e = new Node.Binary(t.line(), "~", e, math2());
        }
        return e;
    }

    private Expr math2() {
        Expr e = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            Tok t = next();
            e = new Node.Binary(t.line(), t.text(), e, pow());
        }
        return e;
    }

    private Expr pow() {
        Expr e = unary(true);
        while (peek().isOp("**")) {
            Tok t = next();
            e = new Node.Binary(t.line(), "**", e, unary(true));
        }
        return e;
    }

    private Expr unary(boolean withFilters) {
        Tok t = peek();
        Expr e;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            e = new Node.Unary(t.line(), t.text(), unary(false));
        } else {
            e = primary();
        }
        e = postfix(e);
        if (withFilters) e = filters(e);
        return e;
    }

    private Expr primary() {
        Tok t = next();
        int line = t.line();
        switch (t.type()) {
            case STRING -> {
                StringBuilder s = new StringBuilder((String) t.value());
                while (peek().type() == Type.STRING) s.append((String) next().value()); // adjacent literals concatenate
                return new Node.Const(line, s.toString());
            }
            case INT, FLOAT -> {
                return new Node.Const(line, t.value());
            }
            case NAME -> {
                return switch (t.text()) {
                    case "true", "True" -> new Node.Const(line, Boolean.TRUE);
                    case "false", "False" -> new Node.Const(line, Boolean.FALSE);
                    case "none", "None" -> new Node.Const(line, null);
                    default -> new Node.Name(line, t.text());
                };
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        if (peek().isOp(")")) {
                            next();
                            return new Node.TupleLit(line, List.of());
                        }
                        Expr e = expression();
                        if (peek().isOp(",")) {
                            List<Expr> items = new ArrayList<>(List.of(e));
                            while (peek().isOp(",")) {
                                next();
                                if (peek().isOp(")")) break;
                                items.add(expression());
                            }
                            expectOp(")");
                            return new Node.TupleLit(line, items);
                        }
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        List<Expr> items = new ArrayList<>();
                        while (!peek().isOp("]")) {
                            items.add(expression());
                            if (!peek().isOp(",")) break;
                            next();
                        }
                        expectOp("]");
                        return new Node.ListLit(line, items);
                    }
                    case "{" -> {
                        List<Expr> keys = new ArrayList<>(), values = new ArrayList<>();
                        while (!peek().isOp("}")) {
                            keys.add(expression());
                            expectOp(":");
                            values.add(expression());
                            if (!peek().isOp(",")) break;
                            next();
                        }
                        expectOp("}");
                        return new Node.DictLit(line, keys, values);
                    }
                    default -> { }
                }
            }
            default -> { }
        }
        i--;
        throw error("unexpected '" + describe(peek()) + "'");
    }

    private Expr postfix(Expr e) {
        while (true) {
            Tok t = peek();
            if (t.isOp(".")) {
                next();
                Tok n = next();
                if (n.type() == Type.NAME) e = new Node.Attr(t.line(), e, n.text());
                else if (n.type() == Type.INT) e = new Node.Item(t.line(), e, new Node.Const(t.line(), n.value()));
                else throw new TemplateException(n.line(), "expected a name after '.'");
            } else if (t.isOp("[")) {
                next();
                e = subscript(e, t.line());
            } else if (t.isOp("(")) {
                e = call(e);
            } else {
                return e;
            }
        }
    }

    private Expr subscript(Expr obj, int line) {
        Expr start = null, stop = null, step = null;
        boolean slice = false;
        if (!peek().isOp(":")) start = expression();
        if (peek().isOp(":")) {
            slice = true;
            next();
            if (!peek().isOp("]") && !peek().isOp(":")) stop = expression();
            if (peek().isOp(":")) {
                next();
                if (!peek().isOp("]")) step = expression();
            }
        } else if (peek().isOp(",")) { // x[a, b]: a tuple key
            start = tupleRest(start);
        }
        expectOp("]");
        return slice ? new Node.Slice(line, obj, start, stop, step) : new Node.Item(line, obj, start);
    }

    private Expr call(Expr fn) {
        int line = expectOp("(").line();
        List<Expr> args = new ArrayList<>(), kwValues = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        Expr varargs = null, kwargs = null;
        while (!peek().isOp(")")) {
            if (peek().isOp("*")) {
                next();
                varargs = expression();
            } else if (peek().isOp("**")) {
                next();
                kwargs = expression();
            } else if (peek().type() == Type.NAME && peek(1).isOp("=")) {
                kwNames.add(next().text());
                next();
                kwValues.add(expression());
            } else {
                if (!kwNames.isEmpty()) throw error("a positional argument follows a keyword argument");
                args.add(expression());
            }
            if (!peek().isOp(",")) break;
            next();
        }
        expectOp(")");
        return new Node.Call(line, fn, args, kwNames, kwValues, varargs, kwargs);
    }

    /** Filters ({@code |name(args)}) and tests ({@code is [not] name args}) after a postfix expression. */
    private Expr filters(Expr e) {
        while (true) {
            Tok t = peek();
            if (t.isOp("|")) {
                next();
                e = new Node.Filter(t.line(), e, filterCall());
            } else if (t.isName("is")) {
                next();
                boolean negated = false;
                if (peek().isName("not")) {
                    next();
                    negated = true;
                }
                String name = expectName();
                while (peek().isOp(".")) { // dotted test names
                    next();
                    name = name + "." + expectName();
                }
                List<Expr> args = new ArrayList<>();
                if (peek().isOp("(")) {
                    Node.Call c = (Node.Call) call(new Node.Name(t.line(), name));
                    args.addAll(c.args());
                } else if (startsTestArgument(peek())) {
                    args.add(postfix(primary()));
                }
                e = new Node.Test(t.line(), e, name, args, negated);
            } else if (t.isOp("(")) {
                e = call(e);
            } else {
                return e;
            }
        }
    }

    /** Whether a test is followed by a bare argument ({@code x is divisibleby 3}, {@code x is sameas none}). */
    private static boolean startsTestArgument(Tok t) {
        return switch (t.type()) {
            case STRING, INT, FLOAT -> true;
            case NAME -> !Set.of("else", "or", "and", "if", "is", "in", "not", "recursive").contains(t.text());
            case OP -> t.text().equals("[") || t.text().equals("{");
            default -> false;
        };
    }

    private FilterCall filterCall() {
        int line = peek().line();
        String name = expectName();
        while (peek().isOp(".")) {
            next();
            name = name + "." + expectName();
        }
        List<Expr> args = new ArrayList<>(), kwValues = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        if (peek().isOp("(")) {
            Node.Call c = (Node.Call) call(new Node.Name(line, name));
            args.addAll(c.args());
            kwNames.addAll(c.kwNames());
            kwValues.addAll(c.kwValues());
        }
        return new FilterCall(line, name, args, kwNames, kwValues);
    }
}
