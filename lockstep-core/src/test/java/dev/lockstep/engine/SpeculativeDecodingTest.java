package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.lockstep.engine.EngineHarness.Req;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Speculative decoding changes nothing: with n-gram or draft-model proposals, under concurrent load
 * and tight batch budgets, every request gets exactly the tokens and logprob bits of plain decoding
 * run alone. The proposers must also really be exercised (proposals made and accepted), or the test
 * would prove nothing.
 */
class SpeculativeDecodingTest {
    static final String TARGET = "aidreams/aidreams260K-f32";
    static final String DRAFT = "aidreams/aidreams260K-q4_0";

    /** Mixed prompts: natural text, repetitive token patterns (prompt lookup's home ground), random ids. */
    static List<Req> requests(int n, long seed) {
        TestModels.Loaded m = TestModels.get(TARGET);
        Random rnd = new Random(seed);
        String[] texts = {"Once upon a time", "The little dog ran to the park. The little dog ran to the",
                "one two three four one two three four one two", "Sing a song of sixpence, a pocket full of rye"};
        List<Req> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] p;
            if (i % 3 == 2) {
                p = new int[8 + rnd.nextInt(20)];
                int period = 2 + rnd.nextInt(5);
                for (int j = 0; j < p.length; j++) p[j] = j < period ? 3 + rnd.nextInt(500) : p[j - period];
            } else {
                p = m.tokenizer().encode(texts[rnd.nextInt(texts.length)], true, false);
            }
            float t = i % 2 == 0 ? 0f : 0.9f;
            out.add(new Req(TARGET, p, 8 + rnd.nextInt(40), t, rnd.nextInt(1000)));
        }
        return out;
    }

    private static void checkAll(EngineConfig cfg, boolean withDraft, List<Req> reqs) throws Exception {
        TestModels.Loaded target = TestModels.get(TARGET);
        try (Engine e = new Engine(target.model(), target.tokenizer(), cfg, withDraft ? TestModels.get(DRAFT).model() : null)) {
            List<RequestHandle> hs = new ArrayList<>();
            for (Req r : reqs) hs.add(e.submit(r.toRequest()));
            for (int i = 0; i < reqs.size(); i++) {
                GenerationResult got = hs.get(i).await();
                String diff = EngineHarness.difference(EngineHarness.solo(reqs.get(i)), got);
                assertNull(diff, reqs.get(i) + " with " + cfg.spec().mode() + ": " + diff);
            }
            Engine.Stats s = e.stats();
            assertTrue(s.specProposed() > 0 && s.specAccepted() > 0,
                    "proposals were made and some accepted: " + s.specProposed() + " / " + s.specAccepted());
            assertEquals(0, s.kvBlocksUsed(), "every block released");
            System.out.printf("%s: %d verification steps, %d proposed, %d accepted (%.0f%%), %.2f tokens per step%n",
                    cfg.spec().mode(), s.specSteps(), s.specProposed(), s.specAccepted(), 100 * s.specAcceptanceRate(),
                    s.specMeanAcceptedLength());
        }
    }

    @Test
    void ngramProposalsGiveTheBitsOfPlainDecoding() throws Exception {
        EngineConfig cfg = EngineConfig.defaults().withThreads(2).withMaxSeqs(6).withMaxBatchTokens(24)
                .withSpec(SpecConfig.OFF.withMode(SpecConfig.Mode.NGRAM).withDraft(5, 1));
        checkAll(cfg, false, requests(24, 1));
    }

    @Test
    void draftModelProposalsGiveTheBitsOfPlainDecoding() throws Exception {
        EngineConfig cfg = EngineConfig.defaults().withThreads(2).withMaxSeqs(6).withMaxBatchTokens(32)
                .withSpec(SpecConfig.OFF.withMode(SpecConfig.Mode.DRAFT).withDraft(4, 1));
        checkAll(cfg, true, requests(18, 2));
    }

    @Test
    void tightBudgetsTrimProposalsWithoutChangingAnything() throws Exception {
        // 5 tokens per step and 3 logits rows: proposals are cut, prompts chunked, sequences compete
        EngineConfig cfg = EngineConfig.defaults().withThreads(1).withMaxSeqs(3).withMaxBatchTokens(5).withMaxLogitRows(3)
                .withSpec(SpecConfig.OFF.withMode(SpecConfig.Mode.DRAFT).withDraft(6, 1));
        checkAll(cfg, true, requests(9, 3));
    }

    @Test
    void penaltiesAndPerRequestOverride() throws Exception {
        TestModels.Loaded m = TestModels.get(TARGET);
        int[] prompt = m.tokenizer().encode("The little dog ran to the park. The little dog ran to the", true, false);
        SamplingParams p = new SamplingParams(0.7f, 0, 1f, 0f, 1.1f, 16, 0.3f, 0.2f, 42);
        GenerationRequest plain = new GenerationRequest(prompt, p, 40, List.of(), false, 3, false, 0);
        try (Engine off = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1));
             Engine ngram = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1))) {
            GenerationResult want = off.generate(plain);
            GenerationResult got = ngram.generate(plain.withSpec(SpecConfig.Mode.NGRAM));
            assertNull(EngineHarness.difference(want, got));
            assertTrue(got.finish().specSteps() > 0, "the request-level override turned speculation on");
            assertEquals(got.finish().specSteps(), ngram.stats().specSteps());
        }
    }

    @Test
    void draftWithoutADraftModelIsRejected() {
        TestModels.Loaded m = TestModels.get(TARGET);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1))) {
            Engine.RejectedException ex = assertThrows(Engine.RejectedException.class,
                    () -> e.submit(GenerationRequest.greedy(new int[]{1, 2, 3}, 4).withSpec(SpecConfig.Mode.DRAFT)));
            assertTrue(ex.getMessage().contains("no draft model"));
        }
    }

    @Test
    void ngramProposerFindsTheLatestMatch() {
        int[] t = {1, 2, 3, 9, 1, 2, 3, 7, 8, 1, 2, 3};
        int[] out = new int[4];
        assertEquals(4, NgramProposer.propose(t, t.length, 4, 1, 3, out));
        assertArrayEquals(new int[]{7, 8, 1, 2}, out);
        assertEquals(0, NgramProposer.propose(new int[]{1, 2, 3}, 3, 4, 1, 3, out));
    }
}
