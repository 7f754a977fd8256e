package dev.lockstep.server;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.FinishReason;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Prometheus metrics through Micrometer, labelled by model ({@code model="id"}) where they are a
 * model's. Gauges and token counters read each engine's own counters when scraped; latencies and
 * outcomes come from the engine's observer hooks (called on the engine thread; each is a cheap
 * counter or histogram update). A model's gauges go when it is unloaded; its counters and histograms
 * stay (Prometheus counters must not go backwards when the model loads again).
 */
final class ServerMetrics {
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter httpErrors;
    private final Map<String, List<Meter>> bound = new ConcurrentHashMap<>();

    ServerMetrics() {
        httpErrors = Counter.builder("lockstep.http.errors").description("HTTP responses with an error status")
                .register(registry);
    }

    /** The engine observer of one model: its latencies and outcomes under its label. */
    Engine.Observer observer(String model) {
        return new ModelObserver(model);
    }

    private final class ModelObserver implements Engine.Observer {
        private final Timer ttft, tpot;
        private final Map<FinishReason, Counter> finished = new EnumMap<>(FinishReason.class);
        private final Map<Engine.RejectedException.Kind, Counter> rejected = new EnumMap<>(Engine.RejectedException.Kind.class);

        ModelObserver(String model) {
            ttft = Timer.builder("lockstep.time.to.first.token").description("submission to first generated token").tag("model", model)
                    .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                    .maximumExpectedValue(Duration.ofMinutes(5)).register(registry);
            tpot = Timer.builder("lockstep.time.per.output.token").description("time between consecutive generated tokens").tag("model", model)
                    .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                    .maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
            for (FinishReason r : FinishReason.values())
                finished.put(r, Counter.builder("lockstep.requests.finished").tag("model", model)
                        .tag("reason", r.name().toLowerCase(java.util.Locale.ROOT))
                        .description("engine requests that ended, by finish reason").register(registry));
            for (Engine.RejectedException.Kind k : Engine.RejectedException.Kind.values())
                rejected.put(k, Counter.builder("lockstep.requests.rejected").tag("model", model)
                        .tag("kind", k.name().toLowerCase(java.util.Locale.ROOT))
                        .description("requests refused at submission, by reason").register(registry));
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

    /** Gauges and counters that read a model's engine stats when scraped. */
    void bind(Engine engine, String model) {
        List<Meter> m = new ArrayList<>();
        m.add(gauge("lockstep.queue.waiting", "requests waiting to be scheduled", engine, model, e -> e.stats().waiting()));
        m.add(gauge("lockstep.sequences.running", "sequences in the running batch", engine, model, e -> e.stats().running()));
        m.add(gauge("lockstep.kv.blocks.used", "KV cache blocks in use", engine, model, e -> e.stats().kvBlocksUsed()));
        m.add(gauge("lockstep.kv.blocks.free", "KV cache blocks free (including idle cached prefix blocks)", engine, model,
                e -> e.stats().kvBlocksFree()));
        m.add(gauge("lockstep.prefix.cache.hit.rate", "prompt tokens served from the prefix cache / prompt tokens looked up",
                engine, model, e -> e.stats().prefixHitRate()));
        m.add(counter("lockstep.prompt.tokens", "prompt tokens processed", engine, model, e -> e.stats().promptTokens()));
        m.add(counter("lockstep.generation.tokens", "tokens generated", engine, model, e -> e.stats().generatedTokens()));
        m.add(counter("lockstep.prefix.cache.hit.tokens", "prompt tokens whose KV came from the prefix cache", engine, model,
                e -> e.stats().prefixHitTokens()));
        m.add(counter("lockstep.spec.proposed.tokens", "tokens proposed by speculative decoding", engine, model, e -> e.stats().specProposed()));
        m.add(counter("lockstep.spec.accepted.tokens", "proposed tokens the model confirmed", engine, model, e -> e.stats().specAccepted()));
        m.add(counter("lockstep.spec.verification.steps", "speculative verification steps", engine, model, e -> e.stats().specSteps()));
        m.add(gauge("lockstep.spec.acceptance.rate", "accepted / proposed tokens since start", engine, model,
                e -> e.stats().specAcceptanceRate()));
        m.add(gauge("lockstep.spec.mean.accepted.length", "tokens emitted per verification step since start", engine, model,
                e -> e.stats().specMeanAcceptedLength()));
        m.add(counter("lockstep.preemptions", "sequences preempted for lack of KV blocks (recomputed later)", engine, model,
                e -> e.stats().preemptions()));
        bound.put(model, m);
    }

    /** Drops the gauges of an unloaded model (they would read a stopped engine). */
    void unbind(String model) {
        List<Meter> m = bound.remove(model);
        if (m != null) for (Meter meter : m) registry.remove(meter);
    }

    private Meter counter(String name, String help, Engine engine, String model, ToDoubleFunction<Engine> f) {
        return FunctionCounter.builder(name, engine, f).description(help).tag("model", model).register(registry);
    }

    private Meter gauge(String name, String help, Engine engine, String model, ToDoubleFunction<Engine> f) {
        return Gauge.builder(name, engine, f).description(help).tag("model", model).register(registry);
    }

    void httpError() {
        httpErrors.increment();
    }

    String scrape() {
        return registry.scrape();
    }
}
