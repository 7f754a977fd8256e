package dev.lockstep.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/** The machine measurements' shared shape: {@code threads} platform threads run a task; the best pass counts. */
final class BestOfPasses {
    private BestOfPasses() {}

    /** The highest {@code units} per second over {@code passes} passes of {@code task(threadIndex)} on every thread. */
    static double rate(int threads, int passes, double units, IntConsumer task) throws InterruptedException {
        double best = 0;
        for (int p = 0; p < passes; p++) {
            List<Thread> ts = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                int id = t;
                ts.add(Thread.ofPlatform().start(() -> task.accept(id)));
            }
            for (Thread t : ts) t.join();
            best = Math.max(best, units / ((System.nanoTime() - t0) / 1e9));
        }
        return best;
    }
}
