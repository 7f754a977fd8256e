package dev.lockstep.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The caller's side of a submitted request: a stream of {@link GenerationEvent}s that always ends with
 * exactly one {@link GenerationEvent.Finished}, and {@link #cancel()}. The engine thread only enqueues
 * (never blocks on a slow consumer).
 */
public final class RequestHandle {
    private final long id;
    private final Engine engine;
    private final LinkedBlockingQueue<GenerationEvent> events = new LinkedBlockingQueue<>();
    private volatile boolean finished;

    RequestHandle(long id, Engine engine) {
        this.id = id;
        this.engine = engine;
    }

    public long id() {
        return id;
    }

    void emit(GenerationEvent e) {
        events.add(e);
    }

    /** Asks the engine to stop this request; its KV blocks are freed at the next step boundary. */
    public void cancel() {
        if (!finished) engine.cancel(this);
    }

    /** The next event, waiting as long as needed. */
    public GenerationEvent next() throws InterruptedException {
        GenerationEvent e = events.take();
        if (e instanceof GenerationEvent.Finished) finished = true;
        return e;
    }

    /** The next event, or null after {@code timeout}. */
    public GenerationEvent poll(long timeout, TimeUnit unit) throws InterruptedException {
        GenerationEvent e = events.poll(timeout, unit);
        if (e instanceof GenerationEvent.Finished) finished = true;
        return e;
    }

    public boolean isFinished() {
        return finished;
    }

    /** Consumes every event until the end, passing each to {@code each}; returns the collected result. */
    public GenerationResult await(Consumer<GenerationEvent> each) throws InterruptedException {
        List<Integer> tokens = new ArrayList<>();
        List<dev.lockstep.sampling.Logprobs.Entry> logprobs = new ArrayList<>();
        List<dev.lockstep.sampling.Logprobs.Entry> promptLogprobs = null;
        StringBuilder text = new StringBuilder();
        while (true) {
            GenerationEvent e = next();
            each.accept(e);
            switch (e) {
                case GenerationEvent.PromptLogprobs p -> promptLogprobs = p.entries();
                case GenerationEvent.Token t -> {
                    tokens.add(t.token());
                    if (t.logprob() != null) logprobs.add(t.logprob());
                    text.append(t.text());
                }
                case GenerationEvent.Finished f -> {
                    text.append(f.text());
                    return new GenerationResult(tokens.stream().mapToInt(Integer::intValue).toArray(), text.toString(),
                            logprobs, promptLogprobs, f);
                }
            }
        }
    }

    public GenerationResult await() throws InterruptedException {
        return await(e -> {});
    }
}
