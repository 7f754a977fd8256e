package dev.lockstep.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that run one {@link Task} at a time, created once (no thread creation
 * per call). The calling thread is worker 0. Workers spin briefly for the next task, then park, so
 * back-to-back kernels (hundreds per token) cost microseconds while an idle engine costs nothing.
 *
 * <p>Determinism: tasks split their <em>independent outputs</em> among workers; no worker ever combines
 * partial sums of another, so results never depend on the number of workers.
 */
public final class WorkerPool implements AutoCloseable {

    /** A parallel task: worker {@code w} of {@code n} does its share. */
    public interface Task {
        void run(int worker, int workers);
    }

    private static final long SPIN_NANOS = 200_000;

    private final int size;
    private final Thread[] threads;
    private volatile Task task;
    private volatile long epoch;
    private volatile boolean shutdown;
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile Thread caller;
    private volatile Throwable failure;

    public WorkerPool(int size) {
        if (size < 1) throw new IllegalArgumentException("threads must be >= 1, got " + size);
        this.size = size;
        this.threads = new Thread[size - 1];
        for (int i = 1; i < size; i++) {
            int id = i;
            Thread t = new Thread(() -> workerLoop(id), "lockstep-worker-" + i);
            t.setDaemon(true);
            threads[i - 1] = t;
            t.start();
        }
    }

    public int size() {
        return size;
    }

    /** Runs {@code t} on all workers and returns when every share is done. Not reentrant. */
    public void execute(Task t) {
        if (size == 1) {
            t.run(0, 1);
            return;
        }
        caller = Thread.currentThread();
        failure = null;
        task = t;
        remaining.set(size - 1);
        epoch = epoch + 1; // volatile write: publishes task and remaining to the workers
        for (Thread w : threads) LockSupport.unpark(w);
        try {
            t.run(0, size);
        } catch (Throwable e) {
            failure = e;
        }
        long start = System.nanoTime();
        while (remaining.get() != 0) {
            if (System.nanoTime() - start < SPIN_NANOS) Thread.onSpinWait();
            else LockSupport.parkNanos(this, 50_000);
        }
        task = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error er) throw er;
            throw new RuntimeException(f);
        }
    }

    private void workerLoop(int id) {
        long seen = 0;
        while (true) {
            long start = System.nanoTime();
            while (epoch == seen && !shutdown) {
                if (System.nanoTime() - start < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (shutdown) return;
            seen = epoch;
            try {
                task.run(id, size);
            } catch (Throwable e) {
                failure = e;
            }
            if (remaining.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    /** Splits {@code [0, n)} into {@code workers} contiguous ranges; returns the start of range {@code w}. */
    public static int rangeStart(int n, int w, int workers) {
        return (int) ((long) n * w / workers);
    }

    @Override
    public void close() {
        shutdown = true;
        for (Thread t : threads) LockSupport.unpark(t);
    }
}
