package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.kernels.Activations;
import dev.lockstep.cache.KvCache;
import dev.lockstep.engine.EngineHarness.Req;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The promise, as properties: whatever the workload (prompt lengths and shared prefixes, arrival
 * order, token budget per step and hence chunking, concurrent sequences, threads, prefix cache on or
 * off and warm or cold, KV memory tight enough to force preemption), every request's generated tokens
 * and logprob bits equal those of the same request run alone.
 */
class BatchInvarianceProperties {
    static final String[] MODELS = {"models/tiny-llama-f32", "models/tiny-qwen2-q8_0", "models/tiny-qwen3-q4_0",
            "aidreams/aidreams260K-f16"};
    static final int[] BATCH_TOKENS = {1, 2, 3, 5, 8, 16, 37, 64, 512};

    @Property(tries = 30, seed = "20261122")
    void everyRequestGetsTheBitsOfItsSoloRun(@ForAll @IntRange(max = 3) int model, @ForAll @LongRange long seed,
                                              @ForAll @IntRange(min = 1, max = 10) int requests,
                                              @ForAll @IntRange(max = 8) int batchTokens,
                                              @ForAll @IntRange(min = 1, max = 8) int maxSeqs,
                                              @ForAll @IntRange(min = 1, max = 2) int threads,
                                              @ForAll boolean prefixCache, @ForAll boolean warm, @ForAll boolean tightMemory,
                                              @ForAll @IntRange(max = 3) int stagger) throws Exception {
        TestModels.Loaded m = TestModels.get(MODELS[model]);
        Random rnd = new Random(seed);
        List<Req> reqs = EngineHarness.randomRequests(MODELS[model], m.model().vocabSize(), requests, rnd);
        int longest = reqs.stream().mapToInt(r -> r.prompt().length + r.maxTokens()).max().orElse(1);
        EngineConfig cfg = EngineConfig.defaults().withThreads(threads).withMaxBatchTokens(BATCH_TOKENS[batchTokens])
                .withMaxSeqs(maxSeqs).withPrefixCaching(prefixCache).withBlockSize(rnd.nextBoolean() ? 16 : 4);
        long perBlock = KvCache.bytesPerBlock(m.model().kvLayers(), m.model().kvDim(), cfg.blockSize());
        // tight: room for the longest request plus one block, so that concurrency forces preemption
        long blocks = tightMemory ? (longest + cfg.blockSize() - 1) / cfg.blockSize() + 1 : 4096;
        cfg = cfg.withKvCacheBytes(blocks * perBlock);
        try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
            if (warm) run(e, reqs, rnd, stagger);
            List<GenerationResult> got = run(e, reqs, rnd, stagger);
            for (int i = 0; i < reqs.size(); i++) {
                String diff = EngineHarness.difference(EngineHarness.solo(reqs.get(i)), got.get(i));
                assertNull(diff, "request " + i + " (" + reqs.get(i) + ") with " + cfg + ": " + diff);
            }
            assertEquals(0, e.stats().kvBlocksUsed(), "every KV block is released");
        }
    }

    static final String[] INT8_MODELS = {"models/tiny-qwen2-q4_0", "models/tiny-qwen3-q4_0", "models/tiny-llama-q4_0"}; // the fixtures with INT8 kernels (Q8_0 keeps f32)

    /**
     * The same promise with INT8 activations: chunking, batching, threads and the prefix cache still
     * change no bit of a request's tokens and logprobs (against its solo run in the same mode), and
     * the mode is really on: the solo results differ from the f32 mode's in some logprob.
     */
    @Property(tries = 10, seed = "20261201")
    void int8ActivationsKeepEveryRequestsSoloBits(@ForAll @IntRange(max = 2) int model, @ForAll @LongRange long seed,
                                                 @ForAll @IntRange(min = 1, max = 8) int requests,
                                                 @ForAll @IntRange(max = 8) int batchTokens,
                                                 @ForAll @IntRange(min = 1, max = 8) int maxSeqs,
                                                 @ForAll @IntRange(min = 1, max = 2) int threads,
                                                 @ForAll boolean prefixCache) throws Exception {
        TestModels.Loaded m = TestModels.get(INT8_MODELS[model]);
        Random rnd = new Random(seed);
        List<Req> reqs = EngineHarness.randomRequests(INT8_MODELS[model], m.model().vocabSize(), requests, rnd);
        EngineConfig cfg = EngineConfig.defaults().withThreads(threads).withMaxBatchTokens(BATCH_TOKENS[batchTokens])
                .withMaxSeqs(maxSeqs).withPrefixCaching(prefixCache).withKvCacheBytes(0).withActivations(Activations.INT8);
        try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
            if (prefixCache) run(e, reqs, rnd, 0); // warm the cache
            List<GenerationResult> got = run(e, reqs, rnd, 1);
            boolean differsFromF32 = false;
            for (int i = 0; i < reqs.size(); i++) {
                GenerationResult solo = EngineHarness.solo(reqs.get(i), Activations.INT8);
                String diff = EngineHarness.difference(solo, got.get(i));
                assertNull(diff, "request " + i + " (" + reqs.get(i) + ") with " + cfg + ": " + diff);
                differsFromF32 |= EngineHarness.difference(EngineHarness.solo(reqs.get(i)), solo) != null;
            }
            assertTrue(differsFromF32, "INT8 activations gave the f32 mode's bits: the mode is not on");
            assertEquals(0, e.stats().kvBlocksUsed(), "every KV block is released");
        }
    }

    /** Submits the requests in a shuffled order, in {@code stagger + 1} waves; returns results in request order. */
    static List<GenerationResult> run(Engine e, List<Req> reqs, Random rnd, int stagger) throws InterruptedException {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < reqs.size(); i++) order.add(i);
        Collections.shuffle(order, rnd);
        RequestHandle[] handles = new RequestHandle[reqs.size()];
        int waves = stagger + 1;
        for (int w = 0; w < waves; w++) {
            for (int k = w; k < order.size(); k += waves) handles[order.get(k)] = e.submit(reqs.get(order.get(k)).toRequest());
            if (w + 1 < waves) Thread.sleep(rnd.nextInt(3));
        }
        List<GenerationResult> out = new ArrayList<>();
        for (RequestHandle h : handles) out.add(h.await());
        return out;
    }

    /** The "needle": one fixed request at a random slot among 8-32 random others. */
    @Property(tries = 8, seed = "7")
    void aNeedleInABatchGetsItsSoloBits(@ForAll @LongRange long seed, @ForAll @IntRange(min = 8, max = 32) int others,
                                         @ForAll @IntRange(min = 1, max = 2) int threads) throws Exception {
        String model = "models/tiny-llama-q8_0";
        TestModels.Loaded m = TestModels.get(model);
        Random rnd = new Random(seed);
        int[] needlePrompt = m.tokenizer().encode("The quick brown fox jumps over the lazy dog", true, false);
        Req needle = new Req(model, needlePrompt, 24, 0.8f, 1234);
        List<Req> reqs = EngineHarness.randomRequests(model, m.model().vocabSize(), others, rnd);
        int slot = rnd.nextInt(others + 1);
        reqs.add(slot, needle);
        EngineConfig cfg = EngineConfig.defaults().withThreads(threads).withMaxSeqs(32).withMaxBatchTokens(64);
        try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
            List<GenerationResult> got = run(e, reqs, rnd, 0);
            assertNull(EngineHarness.difference(EngineHarness.solo(needle), got.get(slot)), "needle at slot " + slot);
        }
    }

    static void awaitQuiet(Engine e) throws InterruptedException {
        for (int i = 0; i < 200 && e.stats().running() + e.stats().waiting() > 0; i++) TimeUnit.MILLISECONDS.sleep(5);
    }
}
