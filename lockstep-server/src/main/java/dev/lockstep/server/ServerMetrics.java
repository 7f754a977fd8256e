package dev.lockstep.server;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.FinishReason;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Prometheus metrics through Micrometer. Gauges and token counters read the engine's own counters
 * when scraped; latencies and outcomes come from the engine's observer hooks (called on the engine
 * thread; each is a cheap counter or histogram update).
 */
final class ServerMetrics implements Engine.Observer {
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer ttft, tpot;
    private final Map<FinishReason, Counter> finished = new EnumMap<>(FinishReason.class);
    private final Map<Engine.RejectedException.Kind, Counter> rejected = new EnumMap<>(Engine.RejectedException.Kind.class);
    private final Counter httpErrors;

    ServerMetrics() {
        ttft = Timer.builder("lockstep.time.to.first.token").description("submission to first generated token")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(5)).register(registry);
        tpot = Timer.builder("lockstep.time.per.output.token").description("time between consecutive generated tokens")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
        for (FinishReason r : FinishReason.values())
            finished.put(r, Counter.builder("lockstep.requests.finished").tag("reason", r.name().toLowerCase(java.util.Locale.ROOT))
                    .description("engine requests that ended, by finish reason").register(registry));
        for (Engine.RejectedException.Kind k : Engine.RejectedException.Kind.values())
            rejected.put(k, Counter.builder("lockstep.requests.rejected").tag("kind", k.name().toLowerCase(java.util.Locale.ROOT))
                    .description("requests refused at submission, by reason").register(registry));
        httpErrors = Counter.builder("lockstep.http.errors").description("HTTP responses with an error status")
                .register(registry);
    }

    /** Gauges and counters that read the engine's stats when scraped. */
    void bind(Engine engine) {
        gauge("lockstep.queue.waiting", "requests waiting to be scheduled", engine, e -> e.stats().waiting());
        gauge("lockstep.sequences.running", "sequences in the running batch", engine, e -> e.stats().running());
        gauge("lockstep.kv.blocks.used", "KV cache blocks in use", engine, e -> e.stats().kvBlocksUsed());
        gauge("lockstep.kv.blocks.free", "KV cache blocks free (including idle cached prefix blocks)", engine,
                e -> e.stats().kvBlocksFree());
        gauge("lockstep.prefix.cache.hit.rate", "prompt tokens served from the prefix cache / prompt tokens looked up",
                engine, e -> e.stats().prefixHitRate());
        counter("lockstep.prompt.tokens", "prompt tokens processed", engine, e -> e.stats().promptTokens());
        counter("lockstep.generation.tokens", "tokens generated", engine, e -> e.stats().generatedTokens());
        counter("lockstep.prefix.cache.hit.tokens", "prompt tokens whose KV came from the prefix cache", engine, e -> e.stats().prefixHitTokens());
        counter("lockstep.spec.proposed.tokens", "tokens proposed by speculative decoding", engine, e -> e.stats().specProposed());
        counter("lockstep.spec.accepted.tokens", "proposed tokens the model confirmed", engine, e -> e.stats().specAccepted());
        counter("lockstep.spec.verification.steps", "speculative verification steps", engine, e -> e.stats().specSteps());
        gauge("lockstep.spec.acceptance.rate", "accepted / proposed tokens since start", engine,
                e -> e.stats().specAcceptanceRate());
        gauge("lockstep.spec.mean.accepted.length", "tokens emitted per verification step since start", engine,
                e -> e.stats().specMeanAcceptedLength());
        counter("lockstep.preemptions", "sequences preempted for lack of KV blocks (recomputed later)", engine, e -> e.stats().preemptions());
    }

    private void counter(String name, String help, Engine engine, ToDoubleFunction<Engine> f) {
        FunctionCounter.builder(name, engine, f).description(help).register(registry);
    }

    private void gauge(String name, String help, Engine engine, ToDoubleFunction<Engine> f) {
        Gauge.builder(name, engine, f).description(help).register(registry);
    }

    void httpError() {
        httpErrors.increment();
    }

    String scrape() {
        return registry.scrape();
    }

    @Override
    public void onFirstToken(long ttftNanos) {
        ttft.record(ttftNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void onToken(long interTokenNanos) {
        tpot.record(interTokenNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void onFinished(FinishReason reason, int promptTokens, int completionTokens) {
        finished.get(reason).increment();
    }

    @Override
    public void onRejected(Engine.RejectedException.Kind kind) {
        rejected.get(kind).increment();
    }
}
