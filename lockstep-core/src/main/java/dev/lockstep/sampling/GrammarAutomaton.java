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
 * else does: what a state allows is a pure function of its stacks, so masks are too. Not thread-safe:
 * one thread at a time uses it (the request's HTTP thread while it {@linkplain #probe probes}, then the
 * engine's grammar thread). Every transition is bounded: at most {@link #MAX_PATHS} parse paths, and
 * the work a {@link GrammarMeter} allows.
 */
public final class GrammarAutomaton implements ByteAutomaton {
    /** Stacks deeper than this are dropped (nesting deeper than any reply should need). */
    public static final int MAX_DEPTH = 512;
    /**
     * Parse paths (stacks) one state may hold. A schema whose alternatives overlap keeps them all open
     * while the output fits several (8 overlapping objects nested 6 deep: 8^6 paths); past this bound a
     * transition stops with a {@link GrammarLimitException} instead of growing without end.
     */
    public static final int MAX_PATHS = 4096;

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
        for (int a = 0; a < g.rules[g.root].length; a++) expand(g.root, a, 0, null, s, seen, GrammarMeter.UNLIMITED);
        if (s.isEmpty()) throw new IllegalArgumentException("the grammar accepts nothing: rule " + g.names[g.root] + " never reaches a byte");
        start = intern(s);
    }

    @Override
    public long start() {
        return start;
    }

    @Override
    public long step(long state, int b) {
        return step(state, b, GrammarMeter.UNLIMITED);
    }

    /** A known transition costs one unit; a new one the stacks it advances and every frame it expands. */
    @Override
    public long step(long state, int b, GrammarMeter meter) {
        meter.charge(1);
        if (state == REJECT) return REJECT;
        long key = state << 8 | b;
        Long known = transitions.get(key);
        if (known != null) return known;
        Set<Stack> next = new HashSet<>();
        Stack[] from = states.get((int) state);
        meter.charge(from.length);
        for (Stack s : from) {
            if (s == ACCEPT) continue;
            int e = g.rules[s.rule][s.alt][s.pos];
            if (Grammar.contains(g.sets[-1 - e], b)) expand(s.rule, s.alt, s.pos + 1, s.next, next, new HashSet<>(), meter);
        }
        long t = next.isEmpty() ? REJECT : intern(next);
        transitions.put(key, t);
        return t;
    }

    @Override
    public boolean canEnd(long state) {
        if (state == REJECT) return false;
        for (Stack s : states.get((int) state)) if (s == ACCEPT) return true;
        return false;
    }

    @Override
    public boolean isDone(long state) {
        if (state == REJECT) return false;
        Stack[] ss = states.get((int) state);
        return ss.length == 1 && ss[0] == ACCEPT;
    }

    /**
     * Explores the automaton from its start, breadth first over every byte, through at most
     * {@code maxStates} states, so that a grammar whose parse paths blow up within its first bytes is
     * refused before any request runs on it. Throws {@link GrammarLimitException} naming the limit and
     * the output at which it was reached (the first such output met).
     */
    public void probe(int maxStates, GrammarMeter meter) {
        Map<Long, byte[]> reached = new HashMap<>(); // state -> the shortest output found that leads to it
        ArrayDeque<Long> frontier = new ArrayDeque<>();
        reached.put(start, new byte[0]);
        frontier.add(start);
        while (!frontier.isEmpty() && reached.size() < maxStates) {
            long s = frontier.poll();
            byte[] path = reached.get(s);
            long[] next = nextBytes(s);
            for (int b = 0; b < 256 && reached.size() < maxStates; b++) {
                if (!Grammar.contains(next, b)) continue; // no parse path takes it: a step would only find that out
                long t;
                try {
                    t = step(s, b, meter);
                } catch (GrammarLimitException.Cancelled | GrammarLimitException.OverBudget e) {
                    throw e;
                } catch (GrammarLimitException e) {
                    byte[] out = java.util.Arrays.copyOf(path, path.length + 1);
                    out[path.length] = (byte) b;
                    throw new GrammarLimitException(e.getMessage() + " after the output "
                            + quote(new String(out, java.nio.charset.StandardCharsets.UTF_8)));
                }
                if (t == REJECT || reached.containsKey(t)) continue;
                byte[] out = java.util.Arrays.copyOf(path, path.length + 1);
                out[path.length] = (byte) b;
                reached.put(t, out);
                frontier.add(t);
            }
        }
    }

    /** The bytes some parse path of {@code state} can take next (the union of their byte sets). */
    private long[] nextBytes(long state) {
        long[] u = new long[4];
        for (Stack st : states.get((int) state)) {
            if (st == ACCEPT) continue;
            long[] set = g.sets[-1 - g.rules[st.rule][st.alt][st.pos]];
            for (int w = 0; w < 4; w++) u[w] |= set[w];
        }
        return u;
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("`");
        for (char c : s.toCharArray()) {
            if (c == '\n') b.append("\\n");
            else if (c < 0x20 || c == 0xFFFD) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        return b.append('`').toString();
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
    private void expand(int rule, int alt, int pos, Stack rest, Set<Stack> out, Set<Stack> seen, GrammarMeter meter) {
        ArrayDeque<Stack> work = new ArrayDeque<>();
        work.push(new Stack(rule, alt, pos, rest));
        while (!work.isEmpty()) {
            Stack here = work.pop();
            meter.charge(1);
            if (out.size() > MAX_PATHS)
                throw new GrammarLimitException("more than " + MAX_PATHS + " parse paths are open at once (the limit)");
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
