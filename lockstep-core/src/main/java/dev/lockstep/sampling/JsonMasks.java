package dev.lockstep.sampling;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which tokens may come next in JSON mode: for a {@link JsonGrammar} state, the set of tokens whose
 * bytes all continue a JSON object (a bit mask over the vocabulary). The tokens' bytes sit in a trie,
 * walked depth first with the grammar state, so a prefix shared by many tokens is stepped once and a
 * rejected byte prunes every token below it. Tokens without bytes (control tokens, end of text) are
 * never allowed: the reply ends when the object closes.
 *
 * <p>A mask is a pure function of the state, so masks are cached by state (inside a string every
 * step has the same state) and the cache may be shared by all requests of an engine: what one request
 * computed never changes what another gets. Not thread-safe: the engine thread owns it.
 */
public final class JsonMasks {
    private static final int CACHE = 256;

    private final int vocab;
    // the trie: node 0 is the root; children as first-child / next-sibling lists with their byte
    private int[] firstChild, nextSibling, tokenAt;
    private byte[] label;
    private int nodes;
    private final int[] tokenNext; // tokens ending at the same node, as a list through this array
    private final Map<Long, long[]> cache = new LinkedHashMap<>(CACHE, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, long[]> e) {
            return size() > CACHE;
        }
    };
    // depth-first walk: node and state per level
    private int[] stackNode = new int[64];
    private long[] stackState = new long[64];

    /** {@code pieces[id]}: the bytes token id adds to the output text (empty for control tokens). */
    public JsonMasks(byte[][] pieces) {
        vocab = pieces.length;
        int cap = 1024;
        firstChild = new int[cap];
        nextSibling = new int[cap];
        tokenAt = new int[cap];
        label = new byte[cap];
        tokenNext = new int[vocab];
        nodes = 1;
        firstChild[0] = nextSibling[0] = tokenAt[0] = -1;
        for (int id = 0; id < vocab; id++) {
            byte[] p = pieces[id];
            if (p.length == 0) continue;
            int n = 0;
            for (byte b : p) n = child(n, b);
            tokenNext[id] = tokenAt[n];
            tokenAt[n] = id;
        }
    }

    private int child(int parent, byte b) {
        for (int c = firstChild[parent]; c >= 0; c = nextSibling[c]) if (label[c] == b) return c;
        if (nodes == firstChild.length) {
            int cap = nodes * 2;
            firstChild = Arrays.copyOf(firstChild, cap);
            nextSibling = Arrays.copyOf(nextSibling, cap);
            tokenAt = Arrays.copyOf(tokenAt, cap);
            label = Arrays.copyOf(label, cap);
        }
        int c = nodes++;
        label[c] = b;
        firstChild[c] = -1;
        tokenAt[c] = -1;
        nextSibling[c] = firstChild[parent];
        firstChild[parent] = c;
        return c;
    }

    public int vocabSize() {
        return vocab;
    }

    /** The tokens allowed after {@code state}: bit {@code id} of word {@code id / 64}. Do not modify. */
    public long[] allowed(long state) {
        long[] m = cache.get(state);
        if (m == null) {
            m = compute(state);
            cache.put(state, m);
        }
        return m;
    }

    /** True if some token may follow {@code state}. */
    public static boolean any(long[] mask) {
        for (long w : mask) if (w != 0) return true;
        return false;
    }

    private long[] compute(long state) {
        long[] m = new long[(vocab + 63) / 64];
        if (state == JsonGrammar.REJECT) return m;
        int top = 0;
        stackNode[0] = 0;
        stackState[0] = state;
        while (top >= 0) {
            int node = stackNode[top];
            long s = stackState[top--];
            for (int c = firstChild[node]; c >= 0; c = nextSibling[c]) {
                long t = JsonGrammar.step(s, label[c] & 0xFF);
                if (t == JsonGrammar.REJECT) continue;
                for (int id = tokenAt[c]; id >= 0; id = tokenNext[id]) m[id >>> 6] |= 1L << id;
                if (firstChild[c] >= 0) {
                    if (++top == stackNode.length) {
                        stackNode = Arrays.copyOf(stackNode, top * 2);
                        stackState = Arrays.copyOf(stackState, top * 2);
                    }
                    stackNode[top] = c;
                    stackState[top] = t;
                }
            }
        }
        return m;
    }
}
