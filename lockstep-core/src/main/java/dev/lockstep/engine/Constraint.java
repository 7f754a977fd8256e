package dev.lockstep.engine;

import dev.lockstep.sampling.ByteAutomaton;
import dev.lockstep.sampling.GrammarLimitException;

import java.util.concurrent.locks.LockSupport;

/**
 * A constrained sequence's grammar, as the engine thread sees it: the point where its output stands
 * (automaton state, whether the value is complete, the tokens allowed next), and the {@link GrammarWorker}
 * jobs computing what comes next. The engine samples a constrained sequence only at a known point;
 * until the job that finds it is done, the sequence waits (see {@code Engine}, "parked").
 */
final class Constraint {
    final ByteAutomaton automaton;
    /** Set when the request ends: its jobs stop at their next charge. */
    volatile boolean cancelled;

    // engine thread only
    /** Where the output stands, once known (null while {@link #pending} computes it). */
    GrammarWorker.Point current;
    /** The result {@link #current} came from: its proposal (the text the grammar forces, an n-gram guess cut to fit) feeds speculation. */
    GrammarWorker.Result latest;
    /** The job computing the next point. */
    GrammarWorker.Job pending;
    /** A draft model's proposal being checked: the points after each of its tokens. */
    GrammarWorker.Job path;

    Constraint(ByteAutomaton automaton) {
        this.automaton = automaton;
    }

    /**
     * The point where the output stands, waiting for the pending job until {@code deadline}
     * ({@link System#nanoTime()}); null if it is not known by then. A job that went past a bound throws
     * its {@link GrammarLimitException}; one that hit a bug, its exception.
     */
    GrammarWorker.Point await(long deadline) {
        if (current != null) return current;
        GrammarWorker.Job j = pending;
        while (!j.done()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return null;
            LockSupport.parkNanos(this, Math.min(left, 200_000)); // the worker unparks the engine thread when a job is done
        }
        pending = null;
        if (j.limit != null) throw j.limit;
        if (j.bug != null) throw j.bug;
        latest = j.result;
        current = j.result.at();
        return current;
    }

    /** Whether the pending job is done (so {@link #await} answers at once). */
    boolean known() {
        return current != null || pending.done();
    }

    /** The points after the tokens of a draft model's proposal, if their job is done by {@code deadline}; else null. */
    GrammarWorker.Point[] pathPoints(long deadline) {
        GrammarWorker.Job j = path;
        if (j == null) return null;
        while (!j.done()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return null;
            LockSupport.parkNanos(this, Math.min(left, 200_000));
        }
        path = null;
        if (j.limit != null || j.bug != null) return null; // speculation is optional: plain decoding finds the same tokens
        return j.result.after();
    }

    /** The output moved to {@code p} (a point a job already found, e.g. after an accepted proposal token). */
    void moveTo(GrammarWorker.Point p) {
        current = p;
        latest = null;
    }

    /** The output moved past the point's token to a point a new job computes. */
    void moveTo(GrammarWorker.Job next) {
        current = null;
        latest = null;
        pending = next;
    }
}
