package dev.lockstep.template;

import java.util.List;

/**
 * The syntax tree of a template: statements (what a template does) and expressions (what it
 * computes). Every node carries the template line it came from, for error messages.
 */
sealed interface Node {
    int line();

    // ------------------------------------------------------------------ statements

    sealed interface Stmt extends Node {}

    /** Literal text, already trimmed as the whitespace rules say. */
    record Text(int line, String text) implements Stmt {}

    /** {@code {{ expr }}} */
    record Output(int line, Expr expr) implements Stmt {}

    /** {@code {% if %}} with its {@code elif} branches and {@code else}. */
    record If(int line, List<Expr> conditions, List<List<Stmt>> branches, List<Stmt> otherwise) implements Stmt {}

    /** {@code {% for targets in iterable [if filter] [recursive] %} body {% else %} otherwise {% endfor %}}. */
    record For(int line, List<String> targets, Expr iterable, Expr filter, boolean recursive, List<Stmt> body,
               List<Stmt> otherwise) implements Stmt {}

    /** {@code {% set targets = expr %}}, or {@code {% set ns.attr = expr %}} ({@code namespace} non-null). */
    record Set(int line, List<String> targets, String namespace, Expr value) implements Stmt {}

    /** {@code {% set name [| filters] %} body {% endset %}}: the rendered body, filtered. */
    record SetBlock(int line, String target, String namespace, List<Stmt> body, List<FilterCall> filters) implements Stmt {}

    /** {@code {% macro name(params) %} body {% endmacro %}}. */
    record Macro(int line, String name, List<String> params, List<Expr> defaults, List<Stmt> body) implements Stmt {}

    /** {@code {% call(args) macro(...) %} body {% endcall %}}: the body becomes the macro's {@code caller()}. */
    record CallBlock(int line, List<String> params, Expr call, List<Stmt> body) implements Stmt {}

    /** {@code {% filter name(args) | ... %} body {% endfilter %}}. */
    record FilterBlock(int line, List<FilterCall> filters, List<Stmt> body) implements Stmt {}

    /** {@code {% break %}} / {@code {% continue %}} (the loopcontrols extension transformers enables). */
    record Break(int line) implements Stmt {}

    record Continue(int line) implements Stmt {}

    /** transformers' {@code {% generation %}} (marks assistant text for training masks): renders its body. */
    record Generation(int line, List<Stmt> body) implements Stmt {}

    // ------------------------------------------------------------------ expressions

    sealed interface Expr extends Node {}

    /** A constant: string, integer (Long), float (Double), boolean, or None (null). */
    record Const(int line, Object value) implements Expr {}

    record Name(int line, String name) implements Expr {}

    record ListLit(int line, List<Expr> items) implements Expr {}

    record TupleLit(int line, List<Expr> items) implements Expr {}

    record DictLit(int line, List<Expr> keys, List<Expr> values) implements Expr {}

    /** {@code obj.name} */
    record Attr(int line, Expr obj, String name) implements Expr {}

    /** {@code obj[key]} */
    record Item(int line, Expr obj, Expr key) implements Expr {}

    /** {@code obj[start:stop:step]} (any part may be null). */
    record Slice(int line, Expr obj, Expr start, Expr stop, Expr step) implements Expr {}

    /** {@code fn(args, name=value, *varargs, **kwargs)} */
    record Call(int line, Expr fn, List<Expr> args, List<String> kwNames, List<Expr> kwValues, Expr varargs, Expr kwargs)
            implements Expr {}

    /** {@code value | name(args)}; {@code known} is false for a filter no one defines (an error only if it runs). */
    record Filter(int line, Expr value, FilterCall call) implements Expr {}

    record FilterCall(int line, String name, List<Expr> args, List<String> kwNames, List<Expr> kwValues) {}

    /** {@code value is [not] name(args)} */
    record Test(int line, Expr value, String name, List<Expr> args, boolean negated) implements Expr {}

    /** Binary operators: + - * / // % ** ~ and or == != < > <= >= in, not in. */
    record Binary(int line, String op, Expr left, Expr right) implements Expr {}

    /** Unary operators: not, -, +. */
    record Unary(int line, String op, Expr operand) implements Expr {}

    /** {@code a if cond else b} ({@code otherwise} null: undefined when the condition fails). */
    record Cond(int line, Expr condition, Expr then, Expr otherwise) implements Expr {}
}
