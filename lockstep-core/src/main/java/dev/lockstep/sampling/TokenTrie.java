package dev.lockstep.sampling;

import java.util.Arrays;

/**
 * The vocabulary's tokens by their bytes, as a trie, for constrained decoding: {@link #allowed} walks
 * it depth first with a {@link ByteAutomaton}'s state, so a prefix shared by many tokens is stepped
 * once and a rejected byte prunes every token below it. Tokens without bytes (control tokens, end of
 * text) are never allowed: a constrained reply ends when its automaton is done. Built once per
 * vocabulary; read-only after, so engines on the same tokenizer share it.
 */
public final class TokenTrie {
    private final int vocab;
    private final byte[][] pieces; // kept: the engine reads a sampled token's bytes here instead of decoding it again
    // the trie: node 0 is the root; children as first-child / next-sibling lists with their byte
    private int[] firstChild, nextSibling, tokenAt;
    private byte[] label;
    private int nodes;
    private final int[] tokenNext; // tokens ending at the same node, as a list through this array

    /** {@code pieces[id]}: the bytes token id adds to the output text (empty for control tokens). */
    public TokenTrie(byte[][] pieces) {
        vocab = pieces.length;
        this.pieces = pieces;
        tokenNext = new int[vocab];
        // insert the tokens in the unsigned order of their bytes: a token shares its path with the one
        // before it up to their common prefix, and a new node is always its parent's last child, so no
        // sibling list is searched
        int[] order = sortedByBytes(pieces);
        int count = order.length;
        int cap = 1024;
        firstChild = new int[cap];
        nextSibling = new int[cap];
        tokenAt = new int[cap];
        label = new byte[cap];
        int[] lastChild = new int[cap];
        nodes = 1;
        firstChild[0] = nextSibling[0] = tokenAt[0] = lastChild[0] = -1;
        int[] path = new int[16]; // path[k]: the node of the previous token's first k bytes (path[0]: the root)
        byte[] prev = new byte[0];
        for (int i = 0; i < count; i++) {
            int id = order[i];
            byte[] p = pieces[id];
            int mismatch = Arrays.mismatch(prev, p);
            int common = mismatch < 0 ? p.length : mismatch; // sorted: prev is never longer than a shared prefix
            if (path.length <= p.length) path = Arrays.copyOf(path, 2 * p.length + 1);
            for (int k = common; k < p.length; k++) {
                int parent = path[k];
                if (nodes == firstChild.length) {
                    int grown = nodes * 2;
                    firstChild = Arrays.copyOf(firstChild, grown);
                    nextSibling = Arrays.copyOf(nextSibling, grown);
                    tokenAt = Arrays.copyOf(tokenAt, grown);
                    label = Arrays.copyOf(label, grown);
                    lastChild = Arrays.copyOf(lastChild, grown);
                }
                int c = nodes++;
                label[c] = p[k];
                firstChild[c] = lastChild[c] = tokenAt[c] = nextSibling[c] = -1;
                if (lastChild[parent] < 0) firstChild[parent] = c;
                else nextSibling[lastChild[parent]] = c;
                lastChild[parent] = c;
                path[k + 1] = c;
            }
            int end = path[p.length];
            tokenNext[id] = tokenAt[end];
            tokenAt[end] = id;
            prev = p;
        }
    }

    /**
     * The ids of the tokens with bytes, in the unsigned order of their bytes: a primitive sort on the
     * first five bytes (with the id in the low bits), then each run with equal first bytes sorted
     * exactly (a comparator sort of all 128K ids took 0.3-0.4 s, this one under 0.05 s).
     */
    static int[] sortedByBytes(byte[][] pieces) {
        if (pieces.length > 1 << 24) throw new IllegalArgumentException("vocabulary of " + pieces.length + " tokens");
        long[] keys = new long[pieces.length];
        int n = 0;
        for (int id = 0; id < pieces.length; id++) {
            byte[] p = pieces[id];
            if (p.length == 0) continue;
            long k = 0;
            for (int j = 0; j < 5; j++) k = k << 8 | (j < p.length ? p[j] & 0xFF : 0);
            keys[n++] = (k << 24 | id) ^ Long.MIN_VALUE; // the flip makes the signed order the unsigned one
        }
        Arrays.sort(keys, 0, n);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = (int) (keys[i] & 0xFFFFFF);
        for (int i = 0; i < n; ) {
            int j = i + 1;
            while (j < n && keys[j] >>> 24 == keys[i] >>> 24) j++;
            if (j - i > 1) { // same first five bytes (or a shorter piece padded with zeros): exact order
                Integer[] run = new Integer[j - i];
                for (int k = i; k < j; k++) run[k - i] = ids[k];
                Arrays.sort(run, (a, b) -> Arrays.compareUnsigned(pieces[a], pieces[b]));
                for (int k = i; k < j; k++) ids[k] = run[k - i];
            }
            i = j;
        }
        return ids;
    }

    /** The token with the longest bytes that {@code text[from..)} starts with (the lowest id of equals), or -1. */
    public int longestToken(byte[] text, int from) {
        int node = 0, best = -1;
        for (int i = from; i < text.length; i++) {
            int c = firstChild[node];
            while (c >= 0 && label[c] != text[i]) c = nextSibling[c];
            if (c < 0) break;
            node = c;
            for (int id = tokenAt[c], lowest = -1; id >= 0; id = tokenNext[id]) {
                if (lowest < 0 || id < lowest) lowest = id;
                best = lowest;
            }
        }
        return best;
    }

    /** The bytes token {@code id} adds to the output text (the trie's own; do not modify). */
    public byte[] bytes(int id) {
        return pieces[id];
    }

    public int vocabSize() {
        return vocab;
    }

    /** The tokens all of whose bytes {@code a} accepts from {@code state}: bit {@code id} of word {@code id / 64}. */
    public long[] allowed(ByteAutomaton a, long state) {
        return allowed(a, state, GrammarMeter.UNLIMITED);
    }

    /** As {@link #allowed(ByteAutomaton, long)}, charging {@code meter} for every trie node and transition. */
    public long[] allowed(ByteAutomaton a, long state, GrammarMeter meter) {
        long[] m = new long[(vocab + 63) / 64];
        if (state == ByteAutomaton.REJECT) return m;
        int[] stackNode = new int[64]; // the walk's own (the trie is read-only, so engines may share it)
        long[] stackState = new long[64];
        int top = 0;
        stackNode[0] = 0;
        stackState[0] = state;
        while (top >= 0) {
            int node = stackNode[top];
            long s = stackState[top--];
            for (int c = firstChild[node]; c >= 0; c = nextSibling[c]) {
                long t = a.step(s, label[c] & 0xFF, meter);
                if (t == ByteAutomaton.REJECT) continue;
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
