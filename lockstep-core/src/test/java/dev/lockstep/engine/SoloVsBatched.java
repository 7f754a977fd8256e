package dev.lockstep.engine;

import dev.lockstep.model.Model;
import dev.lockstep.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertNull;

/** Whole-model invariance checks for models without a tokenizer: every request batched equals its solo run. */
public final class SoloVsBatched {
    private SoloVsBatched() {}

    /**
     * {@code count} requests over token ids [0, tokens): prompts of 1..maxPrompt ids, minNew + [0, spanNew)
     * new tokens, greedy and seeded sampling at {@code temperature} alternating, EOS ignored, 2 top logprobs.
     */
    public static List<GenerationRequest> mixedRequests(Random rnd, int count, int tokens, int maxPrompt, int minNew, int spanNew,
                                                        float temperature) {
        List<GenerationRequest> reqs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] p = new int[1 + rnd.nextInt(maxPrompt)];
            for (int j = 0; j < p.length; j++) p[j] = rnd.nextInt(tokens);
            SamplingParams sp = i % 2 == 0 ? SamplingParams.GREEDY
                    : new SamplingParams(temperature, 0, 1f, 0f, 1f, 64, 0f, 0f, i);
            reqs.add(new GenerationRequest(p, sp, minNew + rnd.nextInt(spanNew), List.of(), true, 2, false, 0));
        }
        return reqs;
    }

    /**
     * Runs each request alone (1 thread, 1 sequence), then all of them together under each of
     * {@code batched}: tokens, finish reason and every logprob's bits must be equal.
     */
    public static void assertBatchedEqualsSolo(Model m, List<GenerationRequest> reqs, EngineConfig... batched) throws InterruptedException {
        List<GenerationResult> solo = new ArrayList<>();
        try (Engine e = new Engine(m, null, EngineConfig.defaults().withThreads(1).withMaxSeqs(1))) {
            for (GenerationRequest r : reqs) solo.add(e.generate(r));
        }
        for (EngineConfig cfg : batched) {
            try (Engine e = new Engine(m, null, cfg)) {
                List<RequestHandle> hs = new ArrayList<>();
                for (GenerationRequest r : reqs) hs.add(e.submit(r));
                for (int i = 0; i < reqs.size(); i++)
                    assertNull(EngineHarness.difference(solo.get(i), hs.get(i).await()), "request " + i + " with " + cfg);
            }
        }
    }
}
