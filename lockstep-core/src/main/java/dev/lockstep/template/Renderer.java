package dev.lockstep.template;

import dev.lockstep.template.Node.Expr;
import dev.lockstep.template.Node.Stmt;
import dev.lockstep.template.TemplateException.PyError;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs a template's syntax tree over Python values ({@link Py}), with Jinja2's scoping: a for loop's
 * body has a scope of its own per iteration (a {@code set} inside does not survive it; that is what
 * {@code namespace()} is for), an if block has none, a macro sees the scope it was defined in plus its
 * arguments.
 *
 * <p>Every render is bounded ({@link Template.Limits}): work steps (every node evaluated, every loop
 * iteration, every item a filter touches), output and string length, list length, range size and
 * macro nesting. Past a bound it stops with {@link TemplateException.LimitExceeded}.
 */
final class Renderer {
    private final Template.Limits limits;
    private final Map<String, Object> globals;
    private long steps;
    private int depth;
    private int line;
    private StringBuilder out;

    Renderer(Template.Limits limits, Map<String, Object> globals) {
        this.limits = limits;
        this.globals = globals;
    }

    /** Names to values; a loop iteration, a macro call or the template itself. */
    static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }
    }

    private static final class BreakSignal extends RuntimeException {
        BreakSignal() {
            super(null, null, false, false);
        }
    }

    private static final class ContinueSignal extends RuntimeException {
        ContinueSignal() {
            super(null, null, false, false);
        }
    }

    private static final BreakSignal BREAK = new BreakSignal();
    private static final ContinueSignal CONTINUE = new ContinueSignal();

    String render(List<Stmt> body, Map<String, Object> vars) {
        Scope root = new Scope(null);
        vars.forEach((k, v) -> root.vars.put(k, Py.fromJava(v)));
        out = new StringBuilder();
        try {
            run(body, root);
        } catch (PyError e) {
            throw new TemplateException(line, e.getMessage());
        } catch (BreakSignal | ContinueSignal e) {
            throw new TemplateException(line, "'break' or 'continue' outside a loop");
        } catch (StackOverflowError e) {
            throw new TemplateException.LimitExceeded(line, "the template nests too deeply");
        }
        return out.toString();
    }

    // ------------------------------------------------------------------ limits

    void step() {
        if (++steps > limits.maxSteps())
            throw new TemplateException.LimitExceeded(line, "the template did more than " + limits.maxSteps() + " steps of work (the limit)");
    }

    /** Builds a string of {@code length} characters, if that is within the limit. */
    String string(long length, Supplier<String> build) {
        checkLength(length);
        return build.get();
    }

    void checkLength(long length) {
        if (length > limits.maxOutput())
            throw new TemplateException.LimitExceeded(line, "the template built a text of more than " + limits.maxOutput()
                    + " characters (the limit)");
    }

    /** A list of {@code n} items is about to be made. */
    void items(long n) {
        if (n > limits.maxItems())
            throw new TemplateException.LimitExceeded(line, "the template built a list of more than " + limits.maxItems() + " items (the limit)");
        steps += n / 64;
        step();
    }

    int maxRange() {
        return limits.maxRange();
    }

    private void write(String s) {
        if (s.isEmpty()) return;
        checkLength((long) out.length() + s.length());
        out.append(s);
    }

    // ------------------------------------------------------------------ statements

    private void run(List<Stmt> body, Scope scope) {
        for (Stmt st : body) exec(st, scope);
    }

    private void exec(Stmt st, Scope scope) {
        step();
        line = st.line();
        switch (st) {
            case Node.Text t -> write(t.text());
            case Node.Output o -> write(Py.str(eval(o.expr(), scope)));
            case Node.If f -> {
                for (int i = 0; i < f.conditions().size(); i++) {
                    if (Py.truthy(eval(f.conditions().get(i), scope))) {
                        run(f.branches().get(i), scope);
                        return;
                    }
                }
                run(f.otherwise(), scope);
            }
            case Node.For f -> forLoop(f, eval(f.iterable(), scope), scope, 0);
            case Node.Set s -> assign(s, eval(s.value(), scope), scope);
            case Node.SetBlock sb -> {
                Object v = capture(sb.body(), new Scope(scope));
                for (Node.FilterCall fc : sb.filters()) v = filter(fc, v, scope);
                if (sb.namespace() != null) setAttr(lookup(sb.namespace(), scope), sb.target(), v);
                else scope.vars.put(sb.target(), v);
            }
            case Node.Macro m -> scope.vars.put(m.name(), new MacroValue(m, scope, null));
            case Node.CallBlock cb -> {
                Node.Call call = (Node.Call) cb.call();
                MacroValue caller = new MacroValue(new Node.Macro(cb.line(), "caller", cb.params(), List.of(), cb.body()), scope, null);
                Object fn = eval(call.fn(), scope);
                if (!(fn instanceof MacroValue mv)) throw new PyError("a call block needs a macro");
                List<Object> args = new ArrayList<>();
                for (Expr a : call.args()) args.add(eval(a, scope));
                Map<String, Object> kw = new LinkedHashMap<>();
                for (int i = 0; i < call.kwNames().size(); i++) kw.put(call.kwNames().get(i), eval(call.kwValues().get(i), scope));
                write(Py.str(new MacroValue(mv.macro, mv.closure, caller).call(this, args, kw)));
            }
            case Node.FilterBlock fb -> {
                Object v = capture(fb.body(), scope);
                for (Node.FilterCall fc : fb.filters()) v = filter(fc, v, scope);
                write(Py.str(v));
            }
            case Node.Break b -> throw BREAK;
            case Node.Continue c -> throw CONTINUE;
            case Node.Generation g -> run(g.body(), scope);
        }
    }

    /** The text {@code body} renders (into a buffer of its own). */
    private String capture(List<Stmt> body, Scope scope) {
        StringBuilder saved = out;
        out = new StringBuilder();
        try {
            run(body, scope);
            return out.toString();
        } finally {
            out = saved;
        }
    }

    private void forLoop(Node.For f, Object iterable, Scope scope, int depth0) {
        List<Object> all = Py.iterate(iterable);
        List<Object> items = all;
        if (f.filter() != null) { // the filter runs first: loop.index and loop.length count what passes
            items = new ArrayList<>();
            for (Object x : all) {
                step();
                Scope s = new Scope(scope);
                bind(f.targets(), x, s);
                if (Py.truthy(eval(f.filter(), s))) items.add(x);
            }
        }
        if (items.isEmpty()) {
            run(f.otherwise(), scope);
            return;
        }
        Loop loop = f.recursive() ? new RecursiveLoop(items, depth0, f, scope) : new Loop(items, depth0);
        for (int i = 0; i < items.size(); i++) {
            step();
            loop.index0 = i;
            Scope iteration = new Scope(scope);
            bind(f.targets(), items.get(i), iteration);
            iteration.vars.put("loop", loop);
            try {
                run(f.body(), iteration);
            } catch (ContinueSignal c) {
                // next iteration
            } catch (BreakSignal b) {
                break;
            }
        }
    }

    /** {@code loop(children)} in a recursive for loop: the same body over other items, one level deeper. */
    private final class RecursiveLoop extends Loop implements Py.Callable {
        private final Node.For f;
        private final Scope scope;

        RecursiveLoop(List<Object> items, int depth0, Node.For f, Scope scope) {
            super(items, depth0);
            this.f = f;
            this.scope = scope;
        }

        @Override
        public Object call(Renderer r, List<Object> args, Map<String, Object> kwargs) {
            if (args.size() != 1) throw new PyError("loop() takes exactly one argument");
            enter();
            StringBuilder saved = out;
            out = new StringBuilder();
            try {
                forLoop(f, args.getFirst(), scope, depth0 + 1);
                return out.toString();
            } finally {
                out = saved;
                depth--;
            }
        }
    }

    private void bind(List<String> targets, Object value, Scope s) {
        if (targets.size() == 1) {
            s.vars.put(targets.getFirst(), value);
            return;
        }
        List<Object> parts = Py.iterate(value);
        if (parts.size() != targets.size())
            throw new PyError((parts.size() < targets.size() ? "not enough" : "too many") + " values to unpack (expected "
                    + targets.size() + ", got " + parts.size() + ")");
        for (int i = 0; i < targets.size(); i++) s.vars.put(targets.get(i), parts.get(i));
    }

    private void assign(Node.Set s, Object value, Scope scope) {
        if (s.namespace() != null) {
            setAttr(lookup(s.namespace(), scope), s.targets().getFirst(), value);
            return;
        }
        bind(s.targets(), value, scope);
    }

    private static void setAttr(Object target, String attr, Object value) {
        if (!(target instanceof Py.Namespace ns))
            throw new PyError("cannot assign attribute on non-namespace object");
        ns.attrs.put(attr, value);
    }

    // ------------------------------------------------------------------ expressions

    private Object lookup(String name, Scope scope) {
        for (Scope s = scope; s != null; s = s.parent) if (s.vars.containsKey(name)) return s.vars.get(name);
        if (globals.containsKey(name)) return globals.get(name);
        return new Py.Undefined("'" + name + "' is undefined");
    }

    Object eval(Expr e, Scope scope) {
        step();
        return switch (e) {
            case Node.Const c -> c.value();
            case Node.Name n -> lookup(n.name(), scope);
            case Node.ListLit l -> {
                List<Object> out = new ArrayList<>(l.items().size());
                for (Expr x : l.items()) out.add(eval(x, scope));
                yield out;
            }
            case Node.TupleLit t -> {
                List<Object> out = new ArrayList<>(t.items().size());
                for (Expr x : t.items()) out.add(eval(x, scope));
                yield new Py.Tuple(out);
            }
            case Node.DictLit d -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) out.put(eval(d.keys().get(i), scope), eval(d.values().get(i), scope));
                yield out;
            }
            case Node.Attr a -> Py.getattr(eval(a.obj(), scope), a.name());
            case Node.Item it -> Py.getitem(eval(it.obj(), scope), eval(it.key(), scope));
            case Node.Slice s -> Py.slice(eval(s.obj(), scope), opt(s.start(), scope), opt(s.stop(), scope), opt(s.step(), scope));
            case Node.Call c -> call(c, scope);
            case Node.Filter f -> filter(f.call(), eval(f.value(), scope), scope);
            case Node.Test t -> {
                Object v = eval(t.value(), scope);
                List<Object> args = new ArrayList<>();
                for (Expr a : t.args()) args.add(eval(a, scope));
                boolean r = Builtins.test(this, t.name(), v, args);
                yield t.negated() != r;
            }
            case Node.Unary u -> {
                Object v = eval(u.operand(), scope);
                yield switch (u.op()) {
                    case "not" -> !Py.truthy(v);
                    case "-" -> negate(v);
                    default -> {
                        if (!Py.isNumber(v)) throw new PyError("bad operand type for unary +: '" + Py.typeName(v) + "'");
                        yield v instanceof Boolean b ? (long) (b ? 1 : 0) : v;
                    }
                };
            }
            case Node.Binary b -> binary(b, scope);
            case Node.Cond c -> Py.truthy(eval(c.condition(), scope)) ? eval(c.then(), scope)
                    : c.otherwise() == null ? new Py.Undefined("the conditional expression's condition was false and it has no else")
                    : eval(c.otherwise(), scope);
        };
    }

    private Object opt(Expr e, Scope scope) {
        if (e == null) return null;
        Object v = eval(e, scope);
        if (v instanceof Py.Undefined u) throw u.fail();
        return v;
    }

    private static Object negate(Object v) {
        if (v instanceof Py.Undefined u) throw u.fail();
        if (v instanceof Double d) return -d;
        if (Py.isInt(v)) return -Py.asLong(v);
        throw new PyError("bad operand type for unary -: '" + Py.typeName(v) + "'");
    }

    private Object binary(Node.Binary b, Scope scope) {
        switch (b.op()) {
            case "and" -> {
                Object l = eval(b.left(), scope);
                return Py.truthy(l) ? eval(b.right(), scope) : l;
            }
            case "or" -> {
                Object l = eval(b.left(), scope);
                return Py.truthy(l) ? l : eval(b.right(), scope);
            }
            default -> { }
        }
        Object l = eval(b.left(), scope), r = eval(b.right(), scope);
        return switch (b.op()) {
            case "==" -> Py.eq(l, r);
            case "!=" -> !Py.eq(l, r);
            case "<" -> Py.compare(defined(l), defined(r), "<") < 0;
            case ">" -> Py.compare(defined(l), defined(r), ">") > 0;
            case "<=" -> Py.compare(defined(l), defined(r), "<=") <= 0;
            case ">=" -> Py.compare(defined(l), defined(r), ">=") >= 0;
            case "in" -> Py.contains(r, l);
            case "not in" -> !Py.contains(r, l);
            case "~" -> {
                String s = Py.str(l), t = Py.str(r);
                yield string((long) s.length() + t.length(), () -> s + t);
            }
            default -> Py.binary(b.op(), l, r, this);
        };
    }

    private static Object defined(Object v) {
        if (v instanceof Py.Undefined u) throw u.fail();
        return v;
    }

    private Object call(Node.Call c, Scope scope) {
        Object fn = eval(c.fn(), scope);
        List<Object> args = new ArrayList<>();
        for (Expr a : c.args()) args.add(eval(a, scope));
        if (c.varargs() != null) args.addAll(Py.iterate(eval(c.varargs(), scope)));
        Map<String, Object> kw = new LinkedHashMap<>();
        for (int i = 0; i < c.kwNames().size(); i++) kw.put(c.kwNames().get(i), eval(c.kwValues().get(i), scope));
        if (c.kwargs() != null) {
            Object m = eval(c.kwargs(), scope);
            if (!(m instanceof Map<?, ?> map)) throw new PyError("argument after ** must be a mapping, not " + Py.typeName(m));
            map.forEach((k, v) -> kw.put(Py.str(k), v));
        }
        if (fn instanceof Py.Undefined u) throw u.fail();
        if (!(fn instanceof Py.Callable callable)) throw new PyError("'" + Py.typeName(fn) + "' object is not callable");
        int at = line;
        Object result = callable.call(this, args, kw);
        line = at;
        return result;
    }

    private Object filter(Node.FilterCall fc, Object value, Scope scope) {
        List<Object> args = new ArrayList<>();
        for (Expr a : fc.args()) args.add(eval(a, scope));
        Map<String, Object> kw = new LinkedHashMap<>();
        for (int i = 0; i < fc.kwNames().size(); i++) kw.put(fc.kwNames().get(i), eval(fc.kwValues().get(i), scope));
        return Builtins.filter(this, fc.name(), value, args, kw);
    }

    // ------------------------------------------------------------------ macros

    void enter() {
        if (++depth > limits.maxDepth())
            throw new TemplateException.LimitExceeded(line, "macros call each other more than " + limits.maxDepth() + " levels deep (the limit)");
    }

    /** A macro: the scope it was defined in, and the body of a call block as its {@code caller}. */
    final class MacroValue implements Py.Callable {
        final Node.Macro macro;
        final Scope closure;
        final MacroValue caller;

        MacroValue(Node.Macro macro, Scope closure, MacroValue caller) {
            this.macro = macro;
            this.closure = closure;
            this.caller = caller;
        }

        @Override
        public Object call(Renderer r, List<Object> args, Map<String, Object> kwargs) {
            enter();
            StringBuilder saved = out;
            out = new StringBuilder();
            int savedLine = line;
            try {
                Scope s = new Scope(closure);
                List<String> params = macro.params();
                int firstDefault = params.size() - macro.defaults().size();
                Map<String, Object> kw = new LinkedHashMap<>(kwargs);
                for (int i = 0; i < params.size(); i++) {
                    String p = params.get(i);
                    if (i < args.size()) s.vars.put(p, args.get(i));
                    else if (kw.containsKey(p)) s.vars.put(p, kw.remove(p));
                    else if (i >= firstDefault) s.vars.put(p, eval(macro.defaults().get(i - firstDefault), s));
                    else s.vars.put(p, new Py.Undefined("the macro '" + macro.name() + "' was called without '" + p + "'"));
                }
                List<Object> extra = args.size() > params.size() ? new ArrayList<>(args.subList(params.size(), args.size())) : new ArrayList<>();
                s.vars.put("varargs", new Py.Tuple(extra));
                s.vars.put("kwargs", new LinkedHashMap<Object, Object>(kw));
                if (caller != null) s.vars.put("caller", caller);
                run(macro.body(), s);
                return out.toString();
            } catch (BreakSignal | ContinueSignal e) {
                throw new PyError("'break' or 'continue' outside a loop");
            } finally {
                out = saved;
                line = savedLine;
                depth--;
            }
        }
    }
}
