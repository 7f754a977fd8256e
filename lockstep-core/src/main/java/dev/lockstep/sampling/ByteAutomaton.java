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

    /** The state after all of {@code bytes}. */
    default long run(long state, byte[] bytes) {
        for (int i = 0; i < bytes.length && state != REJECT; i++) state = step(state, bytes[i] & 0xFF);
        return state;
    }
}
