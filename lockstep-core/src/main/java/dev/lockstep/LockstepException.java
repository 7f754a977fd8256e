package dev.lockstep;

/**
 * An error a user can act on: bad input file, impossible request, missing resource. Its message is
 * complete on its own (it names the file, offset, field or limit) and is printed without a stack trace.
 * Bugs are ordinary runtime exceptions; this class is for the user's mistakes and the world's.
 */
public class LockstepException extends RuntimeException {
    public LockstepException(String message) {
        super(message);
    }

    public LockstepException(String message, Throwable cause) {
        super(message, cause);
    }
}
