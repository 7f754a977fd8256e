package dev.lockstep.template;

import dev.lockstep.LockstepException;

/**
 * A template that cannot be compiled or rendered: a syntax error, an error Jinja2 would raise at run
 * time (an undefined attribute, a type error, {@code raise_exception}), or a limit of the sandbox.
 * {@link #line()} is the template line (0 when unknown).
 */
public class TemplateException extends LockstepException {
    private final int line;
    private final String detail;

    public TemplateException(int line, String detail) {
        super(line > 0 ? "line " + line + ": " + detail : detail);
        this.line = line;
        this.detail = detail;
    }

    public int line() {
        return line;
    }

    /** The message without the line. */
    public String detail() {
        return detail;
    }

    /** An error the template asked for ({@code raise_exception}): its message is the template's own. */
    public static final class Raised extends TemplateException {
        public Raised(int line, String message) {
            super(line, message);
        }
    }

    /** A bound of the sandbox (output size, work, recursion, range) was reached. */
    public static final class LimitExceeded extends TemplateException {
        public LimitExceeded(int line, String message) {
            super(line, message);
        }
    }

    /** Python's errors inside an expression; the renderer adds the line. */
    static final class PyError extends RuntimeException {
        PyError(String message) {
            super(message, null, false, false);
        }
    }
}
