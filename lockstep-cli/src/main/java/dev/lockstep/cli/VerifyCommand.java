package dev.lockstep.cli;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.engine.RequestHandle;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.sampling.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code lockstep verify}: the Thinking Machines experiment ("Defeating Nondeterminism in LLM
 * Inference", 2025) on this engine. The same prompt is sent N times at temperature 0 — and N times more
 * with a fixed seed at temperature 0.8 — while random other requests run concurrently, so that every
 * copy lands in a different batch, chunking and cache state. Counts the distinct completions (token ids
 * and logprob bits). Expected: one.
 */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Send one prompt many times under concurrent random load; count distinct completions (expected: 1).")
final class VerifyCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "the probe prompt (default: ${DEFAULT-VALUE})")
    String prompt = "Tell me about Richard Feynman.";

    @Option(names = "--runs", paramLabel = "N", description = "copies of the probe per setting (default: ${DEFAULT-VALUE})")
    int runs = 1000;

    @Option(names = "--concurrency", paramLabel = "N", description = "requests in flight (default: ${DEFAULT-VALUE})")
    int concurrency = 16;

    @Option(names = "--max-tokens", paramLabel = "N", description = "tokens per probe (default: ${DEFAULT-VALUE})")
    int maxTokens = 100;

    @Option(names = "--seed", paramLabel = "N", description = "seed of the sampled probe and of the random load (default: ${DEFAULT-VALUE})")
    long seed = 1234;

    @Mixin EngineOptions engineOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel lm = LoadedModel.open(modelOptions.resolve(), true);
             Engine engine = new Engine(lm.model(), lm.tokenizer(),
                     engineOptions.toConfig(modelOptions.threads).withMaxSeqs(Math.max(concurrency, engineOptions.maxSeqs))
                             .withMaxWaiting(Math.max(1024, 4 * concurrency)))) {
            int[] probe = lm.tokenizer().encode(prompt, true, false);
            int n = Math.min(maxTokens, lm.model().contextLength() - probe.length);
            out.printf("verify: %s, probe of %d tokens, %d runs x 3 settings, %d in flight, %d tokens each%n",
                    modelOptions.resolve().getFileName(), probe.length, runs, concurrency, n);
            out.flush();
            boolean ok = true;
            long t0 = System.nanoTime();
            AtomicLong tokens = new AtomicLong();
            SamplingParams sampled = new SamplingParams(0.8f, 0, 1f, 0f, 1f, 64, 0f, 0f, seed);
            for (GenerationRequest probeReq : List.of(
                    new GenerationRequest(probe, SamplingParams.GREEDY, n, List.of(), true, 1, false, 0),
                    new GenerationRequest(probe, sampled, n, List.of(), true, 1, false, 0),
                    new GenerationRequest(probe, sampled, n, List.of(), true, 1, false, 0).withFormat(ResponseFormat.JSON_OBJECT))) {
                List<GenerationResult> results = runWithLoad(engine, probeReq, lm.model().vocabSize(), tokens);
                ok &= report(out, probeReq, results);
            }
            double s = (System.nanoTime() - t0) / 1e9;
            var st = engine.stats();
            out.printf("throughput: %d requests, %d generated tokens in %.1f s = %.1f tok/s; prefix-cache hit rate %.1f%%, "
                            + "%d preemptions, KV blocks in use at the end: %d%n",
                    st.finishedRequests(), tokens.get(), s, tokens.get() / s, 100 * st.prefixHitRate(), st.preemptions(),
                    st.kvBlocksUsed());
            return ok ? 0 : 1;
        }
    }

    /** Runs {@code runs} copies of the probe interleaved with as many random requests; returns the probes' results. */
    private List<GenerationResult> runWithLoad(Engine engine, GenerationRequest probe, int vocab, AtomicLong tokens)
            throws InterruptedException {
        Random rnd = new Random(seed);
        Semaphore inFlight = new Semaphore(concurrency);
        List<GenerationResult> results = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> waiters = new ArrayList<>();
        for (int i = 0; i < 2 * runs; i++) {
            boolean isProbe = i % 2 == 0;
            GenerationRequest req = isProbe ? probe : noise(rnd, vocab);
            inFlight.acquire();
            RequestHandle h = engine.submit(req);
            waiters.add(Thread.ofVirtual().start(() -> {
                try {
                    GenerationResult r = h.await();
                    tokens.addAndGet(r.tokens().length);
                    if (isProbe) results.add(r);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    inFlight.release();
                }
            }));
        }
        for (Thread t : waiters) t.join();
        return results;
    }

    private GenerationRequest noise(Random rnd, int vocab) {
        int len = 1 + rnd.nextInt(Math.max(1, maxTokens));
        int[] p = new int[len];
        for (int j = 0; j < len; j++) p[j] = rnd.nextInt(vocab);
        SamplingParams sp = rnd.nextBoolean() ? SamplingParams.GREEDY
                : new SamplingParams(0.9f, 40, 0.95f, 0f, 1f, 64, 0f, 0f, rnd.nextLong());
        GenerationRequest r = new GenerationRequest(p, sp, 1 + rnd.nextInt(Math.max(1, maxTokens)), List.of(), true, -1, false, 0);
        return rnd.nextInt(4) == 0 ? r.withFormat(ResponseFormat.JSON_OBJECT) : r; // some of the load is constrained
    }

    private boolean report(PrintWriter out, GenerationRequest probe, List<GenerationResult> results) {
        SamplingParams p = probe.sampling();
        Map<String, Integer> unique = new LinkedHashMap<>();
        List<GenerationResult> firstOf = new ArrayList<>();
        for (GenerationResult r : results) {
            String key = key(r);
            if (!unique.containsKey(key)) firstOf.add(r);
            unique.merge(key, 1, Integer::sum);
        }
        String divergence = "none";
        if (firstOf.size() > 1) {
            GenerationResult a = firstOf.get(0), b = firstOf.get(1);
            int i = 0;
            while (i < Math.min(a.tokens().length, b.tokens().length) && a.tokens()[i] == b.tokens()[i]
                    && Float.floatToIntBits(a.logprobs().get(i).logprob()) == Float.floatToIntBits(b.logprobs().get(i).logprob())) i++;
            divergence = "token " + i;
        }
        String setting = probe.format().constrained() ? "JSON mode (temperature 0.8, seed " + p.seed() + ")"
                : p.greedy() ? "greedy (temperature 0)" : "sampled (temperature 0.8, seed " + p.seed() + ")";
        out.printf("%-38s %d runs: %d unique completion%s (token ids and logprob bits); first divergence: %s%n", setting,
                results.size(), unique.size(), unique.size() == 1 ? "" : "s", divergence);
        out.flush();
        return unique.size() == 1;
    }

    private static String key(GenerationResult r) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < r.tokens().length; i++) {
            Logprobs.Entry e = r.logprobs().get(i);
            b.append(r.tokens()[i]).append(':').append(Integer.toHexString(Float.floatToIntBits(e.logprob()))).append(' ');
        }
        return b.toString();
    }
}
