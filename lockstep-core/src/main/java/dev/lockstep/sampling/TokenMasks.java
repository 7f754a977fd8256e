package dev.lockstep.sampling;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tokens an automaton allows next, per state, cached. A mask is a pure function of the state, so
 * it may be cached and shared by every request with the same automaton: what one request computed
 * never changes what another gets. Not thread-safe: one thread (the engine's grammar thread) owns it.
 */
public final class TokenMasks {
    private static final int CACHE = 256;

    private final TokenTrie trie;
    private final ByteAutomaton automaton;
    private final Map<Long, long[]> cache = new LinkedHashMap<>(CACHE, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, long[]> e) {
            return size() > CACHE;
        }
    };

    private final long[] endTokens;

    public TokenMasks(TokenTrie trie, ByteAutomaton automaton) {
        this(trie, automaton, null);
    }

    /**
     * {@code endTokens}: the end-of-generation tokens (a mask), allowed in every state where the
     * output may end but could also go on ({@link ByteAutomaton#canEnd}); null: never.
     */
    public TokenMasks(TokenTrie trie, ByteAutomaton automaton, long[] endTokens) {
        this.trie = trie;
        this.automaton = automaton;
        this.endTokens = endTokens;
    }

    public ByteAutomaton automaton() {
        return automaton;
    }

    public TokenTrie trie() {
        return trie;
    }

    /** The tokens allowed after {@code state}: bit {@code id} of word {@code id / 64}. Do not modify. */
    public long[] allowed(long state) {
        return allowed(state, GrammarMeter.UNLIMITED);
    }

    /** As {@link #allowed(long)}, charging {@code meter} (a computation it stops caches nothing). */
    public long[] allowed(long state, GrammarMeter meter) {
        long[] m = cache.get(state);
        if (m == null) {
            m = trie.allowed(automaton, state, meter);
            if (endTokens != null && automaton.canEnd(state) && !automaton.isDone(state)) {
                m = m.clone();
                for (int i = 0; i < m.length && i < endTokens.length; i++) m[i] |= endTokens[i];
            }
            cache.put(state, m);
        }
        return m;
    }

    /** True if some token is in {@code mask}. */
    public static boolean any(long[] mask) {
        for (long w : mask) if (w != 0) return true;
        return false;
    }
}
