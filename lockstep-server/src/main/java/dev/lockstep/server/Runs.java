package dev.lockstep.server;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.RequestHandle;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The engine requests behind one HTTP request (one per choice: prompts x n), submitted all-or-nothing,
 * and a pump that hands their events to the response writer. If the writer fails (the client went
 * away) every request is cancelled at once, which frees its KV blocks at the engine's next step.
 */
final class Runs implements AutoCloseable {

    /** Receives events in order per choice; throws IOException when the client is gone. */
    interface Sink {
        void event(int choice, GenerationEvent e) throws IOException;

        /** Called when nothing happened for a while: a chance to notice a closed connection. */
        void idle() throws IOException;
    }

    private final List<RequestHandle> handles = new ArrayList<>();

    /**
     * Submits every request or none, as one group: the engine shares its steps fairly between such
     * groups and counts each once against its queue limit.
     */
    static Runs submit(Engine engine, List<GenerationRequest> requests) {
        Runs runs = new Runs();
        runs.handles.addAll(engine.submitAll(requests));
        return runs;
    }

    int size() {
        return handles.size();
    }

    /**
     * Delivers every event of every choice to {@code sink} until all have finished. Returns false if the
     * sink failed (requests cancelled).
     */
    boolean pump(Sink sink, long idleMillis) throws InterruptedException {
        int n = handles.size();
        boolean[] done = new boolean[n];
        int remaining = n;
        long lastActivity = System.nanoTime();
        try {
            while (remaining > 0) {
                boolean any = false;
                for (int i = 0; i < n; i++) {
                    if (done[i]) continue;
                    // one choice: block on it; several: look at each in turn without blocking long
                    long wait = n == 1 ? idleMillis : (any ? 0 : 2);
                    GenerationEvent e = handles.get(i).poll(wait, TimeUnit.MILLISECONDS);
                    while (e != null) {
                        any = true;
                        sink.event(i, e);
                        if (e instanceof GenerationEvent.Finished) {
                            done[i] = true;
                            remaining--;
                            break;
                        }
                        e = handles.get(i).poll(0, TimeUnit.MILLISECONDS);
                    }
                }
                long now = System.nanoTime();
                if (any) lastActivity = now;
                else if (now - lastActivity >= idleMillis * 1_000_000L) {
                    sink.idle();
                    lastActivity = now;
                }
            }
            return true;
        } catch (IOException clientGone) {
            close();
            return false;
        }
    }

    /** Cancels whatever has not finished (no-op for finished requests). */
    @Override
    public void close() {
        for (RequestHandle h : handles) h.cancel();
    }
}
