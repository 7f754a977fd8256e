package dev.lockstep.template;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Jinja2 template, compiled once and rendered many times, with the semantics of Jinja2 3.1 as
 * Hugging Face transformers configures it for chat templates ({@code ImmutableSandboxedEnvironment},
 * {@code trim_blocks}, {@code lstrip_blocks}, the loopcontrols extension, its {@code tojson} and
 * {@code {% generation %}}).
 *
 * <p>Why not Jinjava: configured as closely to transformers as it allows, it rendered 79 of the 220
 * fixture conversations of 44 published chat templates as transformers does, failed on many others
 * (macros, {@code is mapping}, Python string methods), evaluated template syntax arriving inside message
 * text, and exposed every public Java method of the values to the template.
 *
 * <p>A sandbox: the template sees plain values only (strings, numbers, lists, dicts; message contents
 * and tool definitions are data, never template source), calls only the functions listed in
 * {@link Builtins} and those the caller adds, reads no file or other template, may not change its
 * data (as Jinja2's immutable sandbox), and every render is bounded by {@link Limits}.
 */
public final class Template {

    /**
     * What one render may do.
     *
     * @param maxOutput characters of output, and of any one string built along the way
     * @param maxSteps  units of work (nodes evaluated, loop iterations, items a filter visits)
     * @param maxDepth  macros calling macros
     * @param maxRange  items of one {@code range()} (Jinja2's sandbox allows 100,000)
     * @param maxItems  items of any one list built
     */
    public record Limits(long maxOutput, long maxSteps, int maxDepth, int maxRange, long maxItems) {
        /** 4M characters, 10M steps (well under a second), 64 macro levels, Jinja2's range limit, 1M items. */
        public static final Limits DEFAULT = new Limits(4L << 20, 10_000_000, 64, 100_000, 1_000_000);
    }

    /** A function a template may call, given by the caller (e.g. raise_exception); arguments are template values. */
    public interface Function {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    private final List<Node.Stmt> body;
    private final Map<String, Object> globals = new LinkedHashMap<>(Builtins.globals());

    private Template(List<Node.Stmt> body) {
        this.body = body;
    }

    /** Compiles {@code source}; a syntax error (or a filter no one defines, outside conditionals) is a {@link TemplateException}. */
    public static Template compile(String source) {
        return new Template(Parser.parse(source));
    }

    /** Adds a global function (call before rendering; not thread-safe with renders). */
    public Template withFunction(String name, Function f) {
        globals.put(name, (Py.Callable) (r, args, kwargs) -> f.call(args, kwargs));
        return this;
    }

    /**
     * Renders with {@code variables} (plain Java values: String, Number, Boolean, null, List, Map;
     * anything else is refused) within {@code limits}. Thread-safe: each render has its own state.
     */
    public String render(Map<String, Object> variables, Limits limits) {
        return new Renderer(limits, globals).render(body, variables);
    }

    public String render(Map<String, Object> variables) {
        return render(variables, Limits.DEFAULT);
    }
}
