package dev.lockstep.engine;

import dev.lockstep.TestModels;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.lockstep.engine.EngineHarness.Req;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Mamba through the engine: continuous batching, chunked prefill (down to one token per step) and
 * token-by-token decoding give every request the bits of its solo run; state slots are reused and
 * released on every path, including cancellation; speculation requests fall back to plain decoding.
 */
class RecurrentEngineTest {
    static final String MODEL = "models/tiny-mamba-f32";

    @Test
    void batchingAndChunkingGiveTheSoloBits() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        Random rnd = new Random(8);
        List<Req> reqs = EngineHarness.randomRequests(MODEL, m.model().vocabSize(), 16, rnd);
        for (int maxBatch : new int[]{1, 7, 64}) {
            EngineConfig cfg = EngineConfig.defaults().withThreads(2).withMaxSeqs(5).withMaxBatchTokens(maxBatch);
            try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
                List<RequestHandle> hs = new ArrayList<>();
                for (Req r : reqs) hs.add(e.submit(r.toRequest().withSpec(SpecConfig.Mode.NGRAM)));
                for (int i = 0; i < reqs.size(); i++) {
                    String diff = EngineHarness.difference(EngineHarness.solo(reqs.get(i)), hs.get(i).await());
                    assertNull(diff, reqs.get(i) + " with max-batch-tokens " + maxBatch + ": " + diff);
                }
                assertEquals(0, e.stats().kvBlocksUsed());
                assertEquals(0, e.stats().specProposed(), "no speculation on a recurrent model");
            }
        }
    }

    @Test
    void cancellationReleasesTheStateSlot() throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        EngineConfig cfg = EngineConfig.defaults().withThreads(1).withMaxSeqs(1);
        try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
            RequestHandle h = e.submit(GenerationRequest.greedy(new int[]{1, 5, 9}, 2000).withIgnoreEos(true));
            h.next();
            h.cancel();
            assertEquals(FinishReason.CANCELLED, h.await().reason());
            // the single slot is free again: the next request runs, and from a fresh state
            Req r = new Req(MODEL, new int[]{1, 5, 9}, 12, 0f, 0);
            assertNull(EngineHarness.difference(EngineHarness.solo(r), e.generate(r.toRequest())));
        }
    }
}
