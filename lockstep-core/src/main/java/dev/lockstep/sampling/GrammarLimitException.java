package dev.lockstep.sampling;

import dev.lockstep.LockstepException;

/**
 * A grammar computation went past one of its bounds: too many parse paths open at once in a
 * {@link GrammarAutomaton} state, or more work than a {@link GrammarMeter} allows. The message names
 * the limit; callers add where (the schema, the output so far).
 */
public class GrammarLimitException extends LockstepException {
    public GrammarLimitException(String message) {
        super(message);
    }

    /** The computation used up its {@link GrammarMeter}'s units. */
    public static final class OverBudget extends GrammarLimitException {
        public OverBudget(String message) {
            super(message);
        }
    }

    /** The request the work was for was cancelled: the computation stopped (not an error of anyone's). */
    public static final class Cancelled extends GrammarLimitException {
        public Cancelled() {
            super("cancelled");
        }
    }
}
