package dev.lockstep.sampling;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A context-free grammar over bytes, in the spirit of llama.cpp's GBNF: rules with alternatives, each a
 * sequence of elements, an element either a set of bytes or a reference to a rule. Repetition is right
 * recursion ({@code r ::= x r | ε}); left recursion is cut at {@link GrammarAutomaton#MAX_DEPTH}
 * repetitions. Built with {@link Builder}; immutable after.
 */
public final class Grammar {
    /** rules[r][a]: alternative a of rule r; an element e >= 0 is rule e, e < 0 is the byte set -1 - e. */
    final int[][][] rules;
    /** Byte sets, four 64-bit words each (bit b: byte b is in the set). */
    final long[][] sets;
    final String[] names;
    final int root;

    private Grammar(int[][][] rules, long[][] sets, String[] names, int root) {
        this.rules = rules;
        this.sets = sets;
        this.names = names;
        this.root = root;
    }

    public int ruleCount() {
        return rules.length;
    }

    /** Whether the root derives some finite string (after {@link Builder#build}, every rule left does). */
    public boolean producesSomething() {
        return rules[root].length > 0;
    }

    /**
     * Which rules derive some finite string: a rule is productive once one of its alternatives has only
     * byte sets and productive rules. A worklist, linear in the grammar's size: each alternative counts
     * the rule references it still waits for, and a rule found productive lowers the counts of the
     * alternatives that refer to it (a fixpoint over all rules per pass took one pass per link of a
     * chain: seconds for an object of 10,000 properties).
     */
    private static boolean[] productive(int[][][] rules) {
        boolean[] productive = new boolean[rules.length];
        int alts = 0;
        for (int[][] r : rules) alts += r.length;
        int[] waiting = new int[alts], ruleOf = new int[alts];
        int[] refCount = new int[rules.length];
        int a = 0;
        for (int r = 0; r < rules.length; r++)
            for (int[] alt : rules[r]) {
                ruleOf[a] = r;
                for (int e : alt) if (e >= 0) {
                    waiting[a]++;
                    refCount[e]++;
                }
                a++;
            }
        int[][] users = new int[rules.length][]; // users[e]: the alternatives referring to rule e (once per reference)
        for (int r = 0; r < rules.length; r++) users[r] = new int[refCount[r]];
        int[] fill = new int[rules.length];
        a = 0;
        for (int[][] r : rules)
            for (int[] alt : r) {
                for (int e : alt) if (e >= 0) users[e][fill[e]++] = a;
                a++;
            }
        int[] work = new int[rules.length];
        int top = 0;
        for (int i = 0; i < alts; i++)
            if (waiting[i] == 0 && !productive[ruleOf[i]]) {
                productive[ruleOf[i]] = true;
                work[top++] = ruleOf[i];
            }
        while (top > 0) {
            int r = work[--top];
            for (int user : users[r])
                if (--waiting[user] == 0 && !productive[ruleOf[user]]) {
                    productive[ruleOf[user]] = true;
                    work[top++] = ruleOf[user];
                }
        }
        return productive;
    }

    private static boolean allProductive(int[] alt, boolean[] productive) {
        for (int e : alt) if (e >= 0 && !productive[e]) return false;
        return true;
    }

    static boolean contains(long[] set, int b) {
        return (set[b >>> 6] >>> b & 1) != 0;
    }

    /** Collects rules; elements are ints (a rule id, or what {@link #bytes} and friends return). */
    public static final class Builder {
        private final List<String> names = new ArrayList<>();
        private final List<List<int[]>> alts = new ArrayList<>();
        private final List<long[]> sets = new ArrayList<>();

        /** A new rule without alternatives yet (so rules can refer to each other before they are filled). */
        public int rule(String name) {
            names.add(name);
            alts.add(new ArrayList<>());
            return names.size() - 1;
        }

        private long elements;

        /** Adds an alternative to {@code rule}: elements, or int arrays of elements, in order; none is ε. */
        public Builder alt(int rule, Object... parts) {
            int[] alt = seq(parts);
            elements += alt.length + 1;
            alts.get(rule).add(alt);
            return this;
        }

        /** The size of the grammar so far: elements of every alternative, plus one per alternative. */
        public long size() {
            return elements;
        }

        /** The set of bytes {@code lo..hi}, as an element. */
        public int bytes(int lo, int hi) {
            long[] s = new long[4];
            for (int b = lo; b <= hi; b++) s[b >>> 6] |= 1L << b;
            return set(s);
        }

        /** The set of the given bytes (each 0-255), as an element. */
        public int anyOf(int... bs) {
            long[] s = new long[4];
            for (int b : bs) s[b >>> 6] |= 1L << b;
            return set(s);
        }

        /** A byte set (four words), as an element. */
        public int set(long[] words) {
            for (int i = 0; i < sets.size(); i++) if (Arrays.equals(sets.get(i), words)) return -1 - i;
            sets.add(words.clone());
            return -sets.size();
        }

        /** The UTF-8 bytes of {@code text}, one element each. */
        public int[] literal(String text) {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            int[] out = new int[b.length];
            for (int i = 0; i < b.length; i++) out[i] = bytes(b[i] & 0xFF, b[i] & 0xFF);
            return out;
        }

        static int[] seq(Object... parts) {
            int n = 0;
            for (Object p : parts) n += p instanceof int[] a ? a.length : 1;
            int[] out = new int[n];
            int i = 0;
            for (Object p : parts) {
                if (p instanceof int[] a) {
                    System.arraycopy(a, 0, out, i, a.length);
                    i += a.length;
                } else {
                    out[i++] = (Integer) p;
                }
            }
            return out;
        }

        public Grammar build(int root) {
            int[][][] r = new int[alts.size()][][];
            for (int i = 0; i < r.length; i++) {
                if (alts.get(i).isEmpty()) throw new IllegalStateException("rule " + names.get(i) + " has no alternative");
                r[i] = alts.get(i).toArray(new int[0][]);
            }
            // drop the alternatives that can never finish (a $ref cycle without bytes), so that every
            // state the automaton reaches can still be completed; a rule left without any derives nothing
            boolean[] productive = productive(r);
            for (int i = 0; i < r.length; i++) {
                List<int[]> keep = new ArrayList<>();
                for (int[] alt : r[i]) if (allProductive(alt, productive)) keep.add(alt);
                r[i] = keep.toArray(new int[0][]);
            }
            return new Grammar(r, sets.toArray(new long[0][]), names.toArray(new String[0]), root);
        }
    }
}
