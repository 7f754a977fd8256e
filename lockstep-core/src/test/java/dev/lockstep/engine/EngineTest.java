package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.engine.EngineHarness.Req;
import dev.lockstep.kernels.MatMul;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.sampling.SamplingParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineTest {

    /**
     * On-policy exactness: the logprobs of generated tokens equal, bit for bit, the logprobs the same
     * tokens get when the whole sequence is scored in one prefill pass (KL = 0 between sampler and scorer).
     */
    @ParameterizedTest
    @ValueSource(strings = {"models/tiny-llama-f32", "models/tiny-qwen2-q4_0", "models/tiny-qwen3-q8_0", "aidreams/aidreams260K-q8_0"})
    void decodeLogprobsEqualScoredLogprobs(String model) throws InterruptedException {
        TestModels.Loaded m = TestModels.get(model);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            assertNull(decodeVersusScore(e, m.tokenizer().encode("Once upon a time", true, false)));
        }
    }

    /** Null if equal, else the difference. */
    static String decodeVersusScore(Engine e, int[] prompt) throws InterruptedException {
        SamplingParams p = new SamplingParams(1.0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 99);
        GenerationResult gen = e.generate(new GenerationRequest(prompt, p, 24, List.of(), true, 3, false, 0));
        int[] all = Arrays.copyOf(prompt, prompt.length + gen.tokens().length);
        System.arraycopy(gen.tokens(), 0, all, prompt.length, gen.tokens().length);
        GenerationResult scored = e.generate(new GenerationRequest(all, SamplingParams.GREEDY, 1, List.of(), true, 3, true, 0));
        List<Logprobs.Entry> promptEntries = scored.promptLogprobs();
        assertEquals(all.length - 1, promptEntries.size());
        List<Logprobs.Entry> tail = promptEntries.subList(prompt.length - 1, promptEntries.size());
        return EngineHarness.logprobDifference(gen.logprobs(), tail);
    }

    @Test
    void prefixCacheHitsGiveTheBitsOfAFreshComputation() throws InterruptedException {
        String model = "models/tiny-qwen2-f32";
        TestModels.Loaded m = TestModels.get(model);
        Random rnd = new Random(5);
        int[] shared = new int[50];
        for (int i = 0; i < shared.length; i++) shared[i] = 3 + rnd.nextInt(500);
        int[] a = Arrays.copyOf(shared, 58), b = Arrays.copyOf(shared, 61);
        for (int i = 50; i < 58; i++) a[i] = 7;
        for (int i = 50; i < 61; i++) b[i] = 9;
        Req ra = new Req(model, a, 10, 0f, 0), rb = new Req(model, b, 10, 0.9f, 3);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            assertNull(EngineHarness.difference(EngineHarness.solo(ra), e.generate(ra.toRequest())));
            long hitsBefore = e.stats().prefixHitTokens();
            GenerationResult rbResult = e.generate(rb.toRequest());
            assertEquals(48, e.stats().prefixHitTokens() - hitsBefore, "three full blocks of the shared prefix come from the cache");
            assertEquals(48, rbResult.finish().cachedPromptTokens());
            assertNull(EngineHarness.difference(EngineHarness.solo(rb), rbResult));
            assertTrue(e.stats().prefixHitRate() > 0);
            // the same prompt again: everything but the last block comes from the cache
            GenerationResult again = e.generate(rb.toRequest());
            assertNull(EngineHarness.difference(rbResult, again));
            assertEquals(0, e.stats().kvBlocksUsed());
        }
    }

    @Test
    void cancellationFreesBlocksAtOnce() throws Exception {
        TestModels.Loaded m = TestModels.get("models/tiny-llama-f32");
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1))) {
            List<RequestHandle> hs = new ArrayList<>();
            for (int i = 0; i < 6; i++)
                hs.add(e.submit(GenerationRequest.greedy(new int[]{1, 5 + i, 6, 7}, 1500).withIgnoreEos(true)));
            GenerationEvent first = hs.get(0).next();
            assertTrue(first instanceof GenerationEvent.Token);
            for (RequestHandle h : hs) h.cancel();
            for (RequestHandle h : hs) {
                GenerationResult r = h.await();
                assertEquals(FinishReason.CANCELLED, r.reason());
                assertTrue(r.tokens().length < 1500);
            }
            assertEquals(0, e.stats().kvBlocksUsed(), "cancelled requests leave no blocks behind");
            assertEquals(0, e.stats().running() + e.stats().waiting());
        }
    }

    @Test
    void requestsThatCanNeverRunAreRejectedUpFront() {
        TestModels.Loaded m = TestModels.get("aidreams/aidreams260K-f32"); // context 128
        long perBlock = dev.lockstep.cache.KvCache.bytesPerBlock(m.model().kvLayers(), m.model().kvDim(), 16);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withKvCacheBytes(4 * perBlock).withMaxWaiting(2))) {
            var tooLong = assertThrows(Engine.RejectedException.class, () -> e.submit(GenerationRequest.greedy(new int[128], 1)));
            assertEquals(Engine.RejectedException.Kind.TOO_LONG, tooLong.kind());
            // the cache holds 64 tokens: that is the context this engine serves, and it says why
            assertTrue(tooLong.getMessage().contains("128 tokens but this engine's context length (the model's 128, capped by its KV "
                    + "cache: raise --kv-cache-memory) is 64"), tooLong.getMessage());
            assertEquals(64, e.contextLength());
            var tooMany = assertThrows(Engine.RejectedException.class, () -> e.submit(GenerationRequest.greedy(new int[]{1, 2}, 127)));
            assertEquals("max_tokens", tooMany.param());
            var noMemory = assertThrows(Engine.RejectedException.class, () -> e.submit(GenerationRequest.greedy(new int[]{1, 2}, 100)));
            assertTrue(noMemory.getMessage().contains("capped by its KV cache"), noMemory.getMessage());
            var badToken = assertThrows(Engine.RejectedException.class, () -> e.submit(GenerationRequest.greedy(new int[]{1, 512}, 4)));
            assertEquals("prompt", badToken.param());
            assertThrows(Engine.RejectedException.class, () -> e.submit(GenerationRequest.greedy(new int[0], 4)));
        }
    }

    @Test
    void aFullQueueRejectsAndNothingAcceptedIsLost() throws InterruptedException {
        TestModels.Loaded m = TestModels.get("models/tiny-llama-f32");
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withMaxWaiting(3).withMaxSeqs(1))) {
            List<RequestHandle> accepted = new ArrayList<>();
            int rejected = 0;
            for (int i = 0; i < 20; i++) {
                try {
                    accepted.add(e.submit(GenerationRequest.greedy(new int[]{1, 2, 3 + i}, 30).withIgnoreEos(true)));
                } catch (Engine.RejectedException ex) {
                    assertEquals(Engine.RejectedException.Kind.QUEUE_FULL, ex.kind());
                    rejected++;
                }
            }
            assertTrue(rejected > 0, "some requests rejected");
            for (RequestHandle h : accepted) assertEquals(FinishReason.LENGTH, h.await().reason());
            assertEquals(rejected, e.stats().rejectedRequests());
        }
    }

    @Test
    void shutdownEndsEveryRequestWithAResultOrAnError() throws InterruptedException {
        TestModels.Loaded m = TestModels.get("models/tiny-llama-f32");
        Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withMaxSeqs(2));
        List<RequestHandle> hs = new ArrayList<>();
        for (int i = 0; i < 5; i++) hs.add(e.submit(GenerationRequest.greedy(new int[]{1, 4 + i}, 2000).withIgnoreEos(true)));
        e.shutdown(java.time.Duration.ofMillis(50));
        for (RequestHandle h : hs) {
            GenerationResult r = h.await();
            assertNotNull(r.finish());
            assertEquals(FinishReason.ABORTED, r.reason(), "the engine stopped: no fault of the request");
            assertTrue(r.finish().message().contains("shut down"), r.finish().message());
        }
        var ex = assertThrows(Engine.RejectedException.class, () -> e.submit(GenerationRequest.greedy(new int[]{1}, 1)));
        assertEquals(Engine.RejectedException.Kind.SHUTTING_DOWN, ex.kind());
    }

    @Test
    void stopStringsEndTheTextAndAreNotShown() throws InterruptedException {
        TestModels.Loaded m = TestModels.get("aidreams/aidreams260K-f32");
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults())) {
            int[] p = m.tokenizer().encode("Once upon a time", true, false);
            GenerationResult full = e.generate(GenerationRequest.greedy(p, 32).withIgnoreEos(true));
            assertTrue(full.text().contains("petals"), full.text());
            GenerationResult stopped = e.generate(GenerationRequest.greedy(p, 32).withIgnoreEos(true).withStop(List.of("petals")));
            assertEquals(FinishReason.STOP, stopped.reason());
            assertEquals(full.text().substring(0, full.text().indexOf("petals")), stopped.text());
        }
    }

    /**
     * Negative control: with a kernel that breaks one rule (split-K when a step has at most two tokens),
     * the invariance checks above must fail; otherwise they could not detect anything.
     */
    @Test
    void negativeControlSplitKBreaksTheInvarianceChecks() throws InterruptedException {
        TestModels.Loaded m = TestModels.get("models/tiny-llama-f32");
        MatMul.setSplitKNegativeControl(true);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            String diff = decodeVersusScore(e, m.tokenizer().encode("Once upon a time", true, false));
            assertNotNull(diff, "decode (1-token steps, split-K) must differ from scoring (one prefill pass)");
            // and a batch of concurrent decodes (no split) differs from the same request decoded alone (split)
            Req r = new Req("models/tiny-llama-f32", new int[]{1, 50, 60, 70}, 12, 0f, 0);
            GenerationResult alone = e.generate(r.toRequest());
            List<RequestHandle> hs = new ArrayList<>();
            for (int i = 0; i < 4; i++) hs.add(e.submit(new Req(r.model(), new int[]{1, 80 + i, 90}, 12, 0f, 0).toRequest()));
            RequestHandle target = e.submit(r.toRequest());
            GenerationResult batched = target.await();
            for (RequestHandle h : hs) h.await();
            assertNotNull(EngineHarness.difference(alone, batched), "batched run differs from solo under split-K");
        } finally {
            MatMul.setSplitKNegativeControl(false);
        }
    }
}
