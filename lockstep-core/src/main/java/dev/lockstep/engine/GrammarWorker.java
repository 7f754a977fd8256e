package dev.lockstep.engine;

import dev.lockstep.sampling.ByteAutomaton;
import dev.lockstep.sampling.GrammarLimitException;
import dev.lockstep.sampling.GrammarMeter;
import dev.lockstep.sampling.TokenMasks;
import dev.lockstep.sampling.TokenTrie;
import dev.lockstep.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Constrained decoding's grammar work, on a thread of its own ({@code lockstep-grammar}): an
 * automaton's transitions over a sampled token's bytes, the mask of the tokens allowed next, the text
 * a grammar forces, proposals cut to what it allows. The engine thread runs no grammar code: when a
 * constrained sequence emits a token it submits a {@link Job}, and it reads the result when it next
 * samples that sequence, one forward pass later, so the work overlaps the pass. A mask is a pure
 * function of the automaton's state, so when a result arrives never changes which token is sampled.
 *
 * <p>Bounds: each job may do {@link #JOB_WORK} units of work ({@link GrammarMeter}; automata also cap
 * the parse paths of a state); past them the job fails with a {@link GrammarLimitException} and its
 * request ends saying so. A cancelled request's job stops at its next charge. Jobs run one at a time
 * in submission order, so automata and mask caches are touched by this thread only (after the
 * request's thread has compiled and probed its format and handed it over through the queue).
 */
final class GrammarWorker implements AutoCloseable {
    /** Work units of one job: roughly a second on this project's machines for the costliest grammars. */
    static final long JOB_WORK = 50_000_000;

    /** Tries by tokenizer: read-only, so the engines of one tokenizer build theirs once (weak: gone with the tokenizer). */
    private static final Map<Tokenizer, TokenTrie> TRIES = Collections.synchronizedMap(new WeakHashMap<>());

    /** The grammar where the output stands: its state, whether the value is complete, the tokens allowed next (null when done). */
    record Point(long state, boolean done, long[] mask) {}

    /**
     * What a job found: the point after the token it consumed, and a proposal from there (tokens the
     * grammar allows, for speculation; maybe empty) with the point after each of its tokens.
     */
    record Result(Point at, int[] proposal, Point[] after) {}

    /** One job; the engine thread polls {@link #done()} and then reads {@link #result} or {@link #error}. */
    static final class Job {
        final Constraint constraint;
        final long from;      // the state the job starts from (the automaton's start for the first job)
        final int token;      // the token whose bytes it consumes first; -1 for none
        final int[] guess;    // tokens to check as a proposal after that (maybe empty)
        final int maxProposal;
        final boolean extend; // lengthen a short or cut proposal with the text the grammar forces
        final boolean firstPointKnown;
        private volatile boolean done;
        Result result;        // written before done
        GrammarLimitException limit; // or this: the job went past a bound
        RuntimeException bug; // or this: a bug (logged by the engine)

        Job(Constraint c, long from, int token, int[] guess, int maxProposal, boolean extend, boolean firstPointKnown) {
            this.constraint = c;
            this.from = from;
            this.token = token;
            this.guess = guess;
            this.maxProposal = maxProposal;
            this.extend = extend;
            this.firstPointKnown = firstPointKnown;
        }

        boolean done() {
            return done;
        }
    }

    private final Tokenizer tokenizer;
    private final int vocab;
    private final Thread engineThread;
    private final Thread thread;
    private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    private final Map<ByteAutomaton, TokenMasks> masks = new WeakHashMap<>();
    private TokenTrie trie;
    private volatile boolean closed;

    GrammarWorker(Tokenizer tokenizer, int vocab, Thread engineThread) {
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.engineThread = engineThread;
        this.thread = new Thread(this::loop, "lockstep-grammar");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** The point at the start of the output, with a proposal of the text the grammar forces first (if asked). */
    Job start(Constraint c, int maxProposal) {
        return submit(new Job(c, c.automaton.start(), -1, new int[0], maxProposal, maxProposal > 0, false));
    }

    /**
     * The point after {@code token} from {@code from}; then {@code guess} (an n-gram proposal, maybe
     * empty) cut at its first token the grammar refuses and, if {@code extend}, lengthened with the text
     * the grammar forces, to at most {@code maxProposal} tokens.
     */
    Job advance(Constraint c, long from, int token, int[] guess, int maxProposal, boolean extend) {
        return submit(new Job(c, from, token, guess, maxProposal, extend, false));
    }

    /** The points after each token of {@code proposal} (a draft model's) from the known point {@code from}. */
    Job path(Constraint c, long from, int[] proposal) {
        return submit(new Job(c, from, -1, proposal, proposal.length, false, true));
    }

    private Job submit(Job j) {
        queue.add(j);
        return j;
    }

    private long[] endTokens;

    /** The end-of-generation tokens as a mask: where a grammar's output may end, they may come. */
    private long[] endTokens() {
        if (endTokens == null) {
            endTokens = new long[(vocab + 63) / 64];
            for (int id = 0; id < vocab && id < tokenizer.size(); id++)
                if (tokenizer.isEndOfGeneration(id)) endTokens[id >>> 6] |= 1L << id;
        }
        return endTokens;
    }

    /** The bytes of a token as the trie has them (the thread that asks must be this one, or after {@link #trie()} was built). */
    private TokenTrie trie() {
        if (trie == null) {
            TokenTrie shared = TRIES.get(tokenizer);
            if (shared == null || shared.vocabSize() != vocab) {
                byte[][] pieces = new byte[vocab][];
                for (int id = 0; id < vocab; id++) pieces[id] = id < tokenizer.size() ? tokenizer.piece(id, false) : new byte[0];
                shared = new TokenTrie(pieces);
                TRIES.put(tokenizer, shared);
            }
            trie = shared;
        }
        return trie;
    }

    private void loop() {
        while (!closed) {
            Job j;
            try {
                j = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (j.constraint.cancelled) {
                j.limit = new GrammarLimitException.Cancelled();
            } else {
                try {
                    j.result = run(j);
                } catch (GrammarLimitException e) {
                    j.limit = e;
                } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                    j.bug = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                }
            }
            j.done = true;
            LockSupport.unpark(engineThread);
        }
    }

    private Result run(Job j) {
        Constraint c = j.constraint;
        GrammarMeter meter = new GrammarMeter(JOB_WORK, () -> c.cancelled);
        ByteAutomaton a = c.automaton;
        TokenMasks m = masks.computeIfAbsent(a, k -> new TokenMasks(trie(), k, endTokens()));
        TokenTrie t = trie();
        long state = j.token < 0 ? j.from : a.run(j.from, t.bytes(j.token), meter);
        Point at = j.firstPointKnown ? null : point(a, m, state, meter);
        if (at != null && at.mask != null && !TokenMasks.any(at.mask))
            throw new GrammarLimitException("no token of this model's vocabulary continues the output");
        // the proposal: the guess while the grammar takes it, then (if asked) the text it forces
        int[] prop = new int[j.maxProposal];
        Point[] after = new Point[j.maxProposal];
        int n = 0;
        boolean done = at != null && at.done;
        while (!done && n < j.guess.length && n < j.maxProposal) {
            int tok = j.guess[n];
            byte[] piece = t.bytes(tok);
            long next = piece.length == 0 ? ByteAutomaton.REJECT : a.run(state, piece, meter);
            if (next == ByteAutomaton.REJECT) break;
            state = next;
            prop[n] = tok;
            after[n] = point(a, m, state, meter);
            done = after[n].done;
            n++;
        }
        if (j.extend && !done && (n < j.guess.length || j.guess.length == 0)) {
            byte[] forced = forcedBytes(a, state, meter);
            for (int pos = 0; n < j.maxProposal && pos < forced.length && !done; ) {
                int tok = t.longestToken(forced, pos);
                if (tok < 0) break;
                byte[] piece = t.bytes(tok);
                state = a.run(state, piece, meter);
                after[n] = point(a, m, state, meter);
                done = after[n].done;
                prop[n++] = tok;
                pos += piece.length;
            }
        }
        return new Result(at, Arrays.copyOf(prop, n), Arrays.copyOf(after, n));
    }

    private static Point point(ByteAutomaton a, TokenMasks m, long state, GrammarMeter meter) {
        boolean done = a.isDone(state);
        return new Point(state, done, done ? null : m.allowed(state, meter));
    }

    /** The bytes that must come next from {@code state}: while exactly one byte is allowed (at most 64). */
    private static byte[] forcedBytes(ByteAutomaton a, long state, GrammarMeter meter) {
        byte[] out = new byte[64];
        int n = 0;
        while (n < out.length && !a.isDone(state)) {
            int only = -1;
            for (int b = 0; b < 256; b++) {
                if (a.step(state, b, meter) == ByteAutomaton.REJECT) continue;
                if (only >= 0) return Arrays.copyOf(out, n);
                only = b;
            }
            if (only < 0) break;
            out[n++] = (byte) only;
            state = a.step(state, only, meter);
        }
        return Arrays.copyOf(out, n);
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
