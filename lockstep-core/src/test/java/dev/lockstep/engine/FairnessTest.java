package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.engine.EngineHarness.Req;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Steps are shared between requests, not handed out first come first served between sequences: a
 * small request that arrives while big ones fill every running slot is served within a few engine
 * steps (counted on the engine thread, so the bound is exact, not a timing), and the big ones still
 * get the bits they get alone. A request above the engine's cost cap is refused; the queue limit
 * counts requests, not their sequences.
 */
class FairnessTest {
    private static final String MODEL = "models/tiny-llama-f32";

    @Test
    void aSmallRequestIsServedWithinAFewStepsWhileBigOnesFillEverySlot() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        Random rnd = new Random(3);
        List<List<Req>> big = new ArrayList<>();
        for (int g = 0; g < 2; g++) { // two requests of 16 choices: 32 sequences, every running slot
            int[] prompt = new int[200];
            for (int i = 0; i < prompt.length; i++) prompt[i] = 3 + rnd.nextInt(400);
            List<Req> choices = new ArrayList<>();
            for (int c = 0; c < 16; c++) choices.add(new Req(MODEL, prompt, 60, 0.9f, 100 * g + c));
            big.add(choices);
        }
        int probeTokens = 8;
        Req probe = new Req(MODEL, new int[]{5, 17, 99, 140}, probeTokens, 0f, 0);
        AtomicLong probeDoneAt = new AtomicLong(-1);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2).withMaxSeqs(32))) {
            e.setObserver(new Engine.Observer() {
                @Override
                public void onFinished(FinishReason reason, int promptTokens, int completionTokens) {
                    if (promptTokens == probe.prompt().length) probeDoneAt.set(e.stats().steps()); // on the engine thread
                }
            });
            List<List<RequestHandle>> bigHandles = new ArrayList<>();
            for (List<Req> g : big) bigHandles.add(e.submitAll(g.stream().map(Req::toRequest).toList()));
            while (e.stats().running() < 32) Thread.onSpinWait(); // the big requests hold every slot
            long submittedAt = e.stats().steps();
            GenerationResult p = e.generate(probe.toRequest());
            assertEquals(probeTokens, p.tokens().length);
            long steps = probeDoneAt.get() - submittedAt;
            // one step in progress at submission, one to admit and prefill (a slot given back), then a token per step
            assertTrue(steps <= probeTokens + 2, "the probe took " + steps + " steps for " + probeTokens + " tokens");
            assertNull(EngineHarness.difference(EngineHarness.solo(probe), p));
            for (int g = 0; g < big.size(); g++)
                for (int c = 0; c < 16; c++)
                    assertNull(EngineHarness.difference(EngineHarness.solo(big.get(g).get(c)), bigHandles.get(g).get(c).await()),
                            "request " + g + " choice " + c + ": giving slots back never changes bits");
            assertEquals(0, e.stats().kvBlocksUsed());
        }
    }

    @Test
    void aRequestAboveTheCostCapIsRefusedByName() {
        TestModels.Loaded m = TestModels.get(MODEL);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1).withMaxRequestTokens(1000))) {
            List<GenerationRequest> sixteen = new ArrayList<>();
            for (int i = 0; i < 16; i++) sixteen.add(new Req(MODEL, new int[]{5, 17, 99}, 100, 0.9f, i).toRequest());
            Engine.RejectedException r = assertThrows(Engine.RejectedException.class, () -> e.submitAll(sixteen));
            assertEquals("n", r.param());
            assertTrue(r.getMessage().contains("16 sequences holding up to 1648 tokens") && r.getMessage().contains("--max-request-tokens"),
                    r.getMessage());
            assertEquals(0, e.stats().waiting(), "all or nothing");
            e.submitAll(sixteen.subList(0, 9)); // 9 x 103 = 927 tokens: within the cap
        }
    }

    @Test
    void theQueueLimitCountsRequestsNotTheirSequences() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1).withMaxSeqs(1).withMaxWaiting(2))) {
            List<RequestHandle> all = new ArrayList<>();
            List<GenerationRequest> many = new ArrayList<>();
            for (int i = 0; i < 16; i++) many.add(new Req(MODEL, new int[]{5, 17, 99}, 40, 0.9f, i).toRequest());
            all.addAll(e.submitAll(many)); // 16 sequences, one request
            all.addAll(e.submitAll(many.subList(0, 4)));
            Engine.RejectedException full = assertThrows(Engine.RejectedException.class, () -> e.submit(many.getFirst()));
            assertEquals(Engine.RejectedException.Kind.QUEUE_FULL, full.kind());
            for (RequestHandle h : all) assertEquals(FinishReason.LENGTH, h.await().reason());
            e.generate(many.getFirst()); // the queue is free again
        }
    }
}
