package dev.lockstep.sampling;

import java.util.function.BooleanSupplier;

/**
 * The work one grammar computation may do. Automaton transitions charge the parse paths they advance
 * and expand, a mask computation the trie nodes it visits; past the limit, or once the request that
 * asked for the work is cancelled, the computation stops with a {@link GrammarLimitException} (an
 * aborted computation leaves no half-built state behind: automata intern a state and masks cache an
 * entry only when it is complete). Not thread-safe: one computation, one thread.
 */
public final class GrammarMeter {
    /** For callers whose work is bounded otherwise (tests, fixed small grammars). */
    public static final GrammarMeter UNLIMITED = new GrammarMeter(Long.MAX_VALUE, () -> false);

    private final long limit;
    private final BooleanSupplier cancelled;
    private long used;

    /** At most {@code limit} units; {@code cancelled} is asked now and then whether to stop early. */
    public GrammarMeter(long limit, BooleanSupplier cancelled) {
        this.limit = limit;
        this.cancelled = cancelled;
    }

    public static GrammarMeter of(long limit) {
        return new GrammarMeter(limit, () -> false);
    }

    public void charge(long units) {
        long before = used;
        used += units;
        if (used > limit) throw new GrammarLimitException.OverBudget("computing the allowed tokens took more than " + limit
                + " grammar steps (the limit of one computation)");
        if ((before ^ used) >>> 12 != 0 && cancelled.getAsBoolean()) throw new GrammarLimitException.Cancelled();
    }

    public long used() {
        return used;
    }
}
