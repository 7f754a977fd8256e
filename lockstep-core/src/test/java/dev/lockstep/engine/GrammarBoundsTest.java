package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.engine.EngineHarness.Req;
import dev.lockstep.sampling.ByteAutomaton;
import dev.lockstep.sampling.GrammarLimitException;
import dev.lockstep.sampling.GrammarMeter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine runs no grammar code: a constrained request whose grammar work is stuck never holds up
 * the others; a cancelled request's grammar work stops; a request whose grammar work goes past its
 * budget ends saying so. Test automata make this deterministic: one blocks its transitions on a latch,
 * one spins charging its meter until stopped, one charges more than any budget.
 */
@Timeout(120)
class GrammarBoundsTest {
    private static final String MODEL = "models/tiny-llama-f32";

    @Test
    void aStuckGrammarJobHoldsUpNoOtherRequest() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        Blocking stuck = new Blocking();
        Req plain = new Req(MODEL, new int[]{5, 17, 99, 140}, 24, 0.8f, 3);
        GenerationResult reference = EngineHarness.solo(plain);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            RequestHandle constrained = e.submit(new Req(MODEL, new int[]{5, 17, 23}, 8, 0f, 0).toRequest().withFormat(format(stuck)));
            assertTrue(stuck.entered.await(30, TimeUnit.SECONDS), "the grammar thread took the job");
            // while the grammar thread is stuck, other requests run to their end with their own bits
            for (int i = 0; i < 3; i++) assertNull(EngineHarness.difference(reference, e.generate(plain.toRequest())));
            assertEquals(1, e.stats().running(), "the constrained request waits, parked");
            stuck.release.countDown();
            GenerationResult r = constrained.await();
            assertEquals(FinishReason.LENGTH, r.reason());
            assertEquals(8, r.tokens().length);
        }
    }

    @Test
    void cancellingARequestStopsItsGrammarWork() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        Spinning spin = new Spinning();
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            RequestHandle h = e.submit(new Req(MODEL, new int[]{5, 17, 23}, 8, 0f, 0).toRequest().withFormat(format(spin)));
            assertTrue(spin.started.await(30, TimeUnit.SECONDS));
            h.cancel();
            assertEquals(FinishReason.CANCELLED, h.await().reason());
            assertTrue(spin.stopped.await(30, TimeUnit.SECONDS), "the spinning job stopped");
            assertInstanceOf(GrammarLimitException.Cancelled.class, spin.stoppedBy, "stopped by the cancellation, not its budget");
            // the grammar thread is free again: a JSON-mode request runs to its end
            GenerationResult json = e.generate(new Req(MODEL, new int[]{5, 17, 23}, 12, 0f, 0, true).toRequest());
            assertTrue(json.reason() == FinishReason.STOP || json.reason() == FinishReason.LENGTH, json.reason().toString());
        }
    }

    @Test
    void grammarWorkPastItsBudgetEndsTheRequestSayingSo() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        Req plain = new Req(MODEL, new int[]{5, 17, 99, 140}, 12, 0.8f, 3);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            GenerationResult r = e.generate(new Req(MODEL, new int[]{5, 17, 23}, 8, 0f, 0).toRequest().withFormat(format(new Expensive())));
            assertEquals(FinishReason.REFUSED, r.reason());
            assertTrue(r.finish().message().contains("grammar steps"), r.finish().message());
            assertNull(EngineHarness.difference(EngineHarness.solo(plain), e.generate(plain.toRequest())));
        }
    }

    private static ResponseFormat format(ByteAutomaton a) {
        return new ResponseFormat("test grammar", a);
    }

    /** Any bytes, never done; every new transition waits for {@link #release}. */
    private static final class Blocking implements ByteAutomaton {
        final CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);

        @Override public long start() { return 0; }
        @Override public boolean isDone(long state) { return false; }

        @Override
        public long step(long state, int b) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 0;
        }
    }

    /** A transition that charges its meter one unit at a time until the meter stops it. */
    private static final class Spinning implements ByteAutomaton {
        final CountDownLatch started = new CountDownLatch(1), stopped = new CountDownLatch(1);
        volatile GrammarLimitException stoppedBy;

        @Override public long start() { return 0; }
        @Override public boolean isDone(long state) { return false; }
        @Override public long step(long state, int b) { return 0; }

        @Override
        public long step(long state, int b, GrammarMeter meter) {
            started.countDown();
            try {
                for (long i = 0; ; i++) {
                    meter.charge(1);
                    if ((i & 4095) == 0) Thread.sleep(1); // slow enough that only a cancellation stops it within the test
                }
            } catch (GrammarLimitException e) {
                stoppedBy = e;
                stopped.countDown();
                throw e;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Every transition charges a million units: a mask over any real vocabulary is past the budget. */
    private static final class Expensive implements ByteAutomaton {
        @Override public long start() { return 0; }
        @Override public boolean isDone(long state) { return false; }
        @Override public long step(long state, int b) { return 0; }

        @Override
        public long step(long state, int b, GrammarMeter meter) {
            meter.charge(1_000_000);
            return 0;
        }
    }
}
