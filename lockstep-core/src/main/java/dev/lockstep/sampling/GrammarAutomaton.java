package dev.lockstep.sampling;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link Grammar} as a {@link ByteAutomaton}: a pushdown recognizer in the style of llama.cpp's
 * grammar engine. Its state is a set of stacks; each stack's top frame points at the byte set the next
 * byte must be in, the frames below it at where to continue when the rule above ends. A byte advances
 * every stack whose set holds it and drops the others; a rule reached is expanded at once into its
 * alternatives, so every top frame always points at a byte set (or the stack is empty: the whole
 * input was the root rule).
 *
 * <p>States are interned: the {@code long} is an index into a table of states, and each (state, byte)
 * transition is computed once. A state's index depends on the order states were met, but nothing
 * else does: what a state allows is a pure function of its stacks, so masks are too. Not thread-safe
 * (the engine thread owns it).
 */
public final class GrammarAutomaton implements ByteAutomaton {
    /** Stacks deeper than this are dropped (nesting deeper than any reply should need). */
    public static final int MAX_DEPTH = 512;

    private final Grammar g;
    private final List<Stack[]> states = new ArrayList<>();
    private final Map<Set<Stack>, Integer> ids = new HashMap<>();
    private final Map<Long, Long> transitions = new HashMap<>();
    private final long start;

    /** A frame stack, shared between states (immutable); {@link #ACCEPT} is the empty one. */
    private static final class Stack {
        final int rule, alt, pos; // the top frame
        final Stack next;
        final int depth, hash;

        Stack(int rule, int alt, int pos, Stack next) {
            this.rule = rule;
            this.alt = alt;
            this.pos = pos;
            this.next = next;
            this.depth = next == null ? 1 : next.depth + 1;
            this.hash = ((rule * 31 + alt) * 31 + pos) * 31 + (next == null ? 0 : next.hash);
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) return true;
            if (!(o instanceof Stack s) || s.hash != hash || s.depth != depth) return false;
            Stack a = this, b = s;
            while (a != null && a != b) {
                if (a.rule != b.rule || a.alt != b.alt || a.pos != b.pos) return false;
                a = a.next;
                b = b.next;
            }
            return true;
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** The empty stack: the root rule has been read completely. */
    private static final Stack ACCEPT = new Stack(-1, -1, -1, null);

    /** Throws {@link IllegalArgumentException} for a grammar that accepts nothing (every path loops or dies). */
    public GrammarAutomaton(Grammar g) {
        this.g = g;
        Set<Stack> s = new HashSet<>();
        Set<Stack> seen = new HashSet<>();
        for (int a = 0; a < g.rules[g.root].length; a++) expand(g.root, a, 0, null, s, seen);
        if (s.isEmpty()) throw new IllegalArgumentException("the grammar accepts nothing: rule " + g.names[g.root] + " never reaches a byte");
        start = intern(s);
    }

    @Override
    public long start() {
        return start;
    }

    @Override
    public long step(long state, int b) {
        if (state == REJECT) return REJECT;
        long key = state << 8 | b;
        Long known = transitions.get(key);
        if (known != null) return known;
        Set<Stack> next = new HashSet<>();
        for (Stack s : states.get((int) state)) {
            if (s == ACCEPT) continue;
            int e = g.rules[s.rule][s.alt][s.pos];
            if (Grammar.contains(g.sets[-1 - e], b)) expand(s.rule, s.alt, s.pos + 1, s.next, next, new HashSet<>());
        }
        long t = next.isEmpty() ? REJECT : intern(next);
        transitions.put(key, t);
        return t;
    }

    @Override
    public boolean isDone(long state) {
        if (state == REJECT) return false;
        Stack[] ss = states.get((int) state);
        return ss.length == 1 && ss[0] == ACCEPT;
    }

    /** Distinct states met so far (for tests and the curious). */
    public int stateCount() {
        return states.size();
    }

    private long intern(Set<Stack> s) {
        Integer id = ids.get(s);
        if (id == null) {
            id = states.size();
            states.add(s.toArray(new Stack[0]));
            ids.put(s, id);
        }
        return id;
    }

    /**
     * Adds to {@code out} every stack that frame (rule, alt, pos) over {@code rest} becomes once the
     * rules at its top are expanded, so that each top frame points at a byte set. {@code seen} holds the
     * frames this expansion has visited: a cycle of rules that reads no byte (A ::= B, B ::= A) ends
     * there, and left recursion ends at {@link #MAX_DEPTH}, as a bounded number of repetitions.
     *
     * <p>Iterative, with its own work stack: the recursive form overflowed the thread's stack on a
     * schema of 10,000 optional properties (each may be skipped, so one expansion walks through all).
     * The result is a set, so the order frames are visited in does not matter.
     */
    private void expand(int rule, int alt, int pos, Stack rest, Set<Stack> out, Set<Stack> seen) {
        ArrayDeque<Stack> work = new ArrayDeque<>();
        work.push(new Stack(rule, alt, pos, rest));
        while (!work.isEmpty()) {
            Stack here = work.pop();
            if (here.depth > MAX_DEPTH || !seen.add(here)) continue;
            int[] elems = g.rules[here.rule][here.alt];
            if (here.pos == elems.length) { // this alternative is done: continue with the frame below
                if (here.next == null) out.add(ACCEPT);
                else work.push(here.next);
                continue;
            }
            int e = elems[here.pos];
            if (e < 0) {
                out.add(here);
                continue;
            }
            // a rule: its alternatives, then where this one continues (nothing to come back to if e is last)
            Stack back = here.pos + 1 == elems.length ? here.next : new Stack(here.rule, here.alt, here.pos + 1, here.next);
            for (int a = g.rules[e].length - 1; a >= 0; a--) work.push(new Stack(e, a, 0, back));
        }
    }
}
