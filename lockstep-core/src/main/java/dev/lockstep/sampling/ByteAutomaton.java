package dev.lockstep.sampling;

/**
 * A recognizer of a language of byte strings, one byte at a time, its state a {@code long} (so the
 * trie walk of {@link TokenTrie} and the mask cache of {@link TokenMasks} allocate nothing per byte).
 * Constrained decoding asks it which tokens may come next.
 */
public interface ByteAutomaton {
    /** The state no continuation can save. */
    long REJECT = -1L;

    /** Nothing read yet. */
    long start();

    /** The state after one more byte {@code b} (0-255), or {@link #REJECT}. */
    long step(long state, int b);

    /** A whole word of the language has been read, and nothing may follow it. */
    boolean isDone(long state);

    /**
     * A whole word of the language has been read, though more may follow (a GBNF {@code [a-z]+} after
     * "abc"): the output may end here, with an end-of-generation token. JSON values end only when done.
     */
    default boolean canEnd(long state) {
        return isDone(state);
    }

    /**
     * {@link #step(long, int)}, charging {@code meter} for the work: automata whose transitions can be
     * expensive ({@link GrammarAutomaton}) charge what they do; others one unit.
     */
    default long step(long state, int b, GrammarMeter meter) {
        meter.charge(1);
        return step(state, b);
    }

    /** The state after all of {@code bytes}. */
    default long run(long state, byte[] bytes) {
        return run(state, bytes, GrammarMeter.UNLIMITED);
    }

    /** The state after all of {@code bytes}, charging {@code meter}. */
    default long run(long state, byte[] bytes, GrammarMeter meter) {
        for (int i = 0; i < bytes.length && state != REJECT; i++) state = step(state, bytes[i] & 0xFF, meter);
        return state;
    }
}
