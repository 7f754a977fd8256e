package dev.lockstep.server;

import org.eclipse.jetty.io.Connection;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Closes connections that do not deliver a whole request header in time: within {@code first} of
 * opening, and within {@code next} of their previous response (a kept-alive connection may rest that
 * long between requests). A slowloris client (a header byte every few seconds) never trips Jetty's
 * idle timeout, which only counts silence; this counts the total. Bodies are bounded by Jetty's
 * minimum request data rate instead (see {@link OpenAiServer}).
 */
final class HeaderDeadline implements Connection.Listener, AutoCloseable {
    private final long firstNanos, nextNanos;
    /** Connections waiting for a request header, and when their deadline passes. */
    private final Map<Connection, Long> waiting = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "lockstep-header-deadline");
        t.setDaemon(true);
        return t;
    });

    HeaderDeadline(long firstMillis, long nextMillis) {
        this.firstNanos = TimeUnit.MILLISECONDS.toNanos(firstMillis);
        this.nextNanos = TimeUnit.MILLISECONDS.toNanos(nextMillis);
        long period = Math.max(50, Math.min(1000, firstMillis / 4));
        sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    @Override
    public void onOpened(Connection c) {
        waiting.put(c, System.nanoTime() + firstNanos);
    }

    @Override
    public void onClosed(Connection c) {
        waiting.remove(c);
    }

    /** A request's header arrived whole: no deadline while it is served. */
    void requestStarted(Connection c) {
        if (c != null) waiting.remove(c);
    }

    /** Its response is done: the next request on this (kept-alive) connection has a deadline again. */
    void requestEnded(Connection c) {
        if (c != null && c.getEndPoint().isOpen()) waiting.put(c, System.nanoTime() + nextNanos);
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Map.Entry<Connection, Long> e : waiting.entrySet()) {
            if (now - e.getValue() > 0) {
                waiting.remove(e.getKey());
                e.getKey().getEndPoint().close(); // no response: a client this slow is not reading one
            }
        }
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }
}
