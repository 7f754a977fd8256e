package dev.lockstep.sampling;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    private static SamplingParams params(float temp, int topK, float topP, float minP, long seed) {
        return new SamplingParams(temp, topK, topP, minP, 1f, 64, 0f, 0f, seed);
    }

    @Test
    void philoxKnownAnswers() {
        // Random123's known-answer vectors for Philox4x32-10
        assertArrayEquals(new int[]{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, Philox.block(0, 0, 0));
        assertArrayEquals(new int[]{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                Philox.block(0xffffffffffffffffL, 0xffffffffffffffffL, 0xffffffffffffffffL));
        assertArrayEquals(new int[]{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                Philox.block(0x299f31d0a4093822L, 0x85a308d3243f6a88L, 0x0370734413198a2eL));
    }

    @Test
    void greedyPicksTheLowestIdOnTies() {
        Sampler s = new Sampler(5);
        float[] l = {1, 3, 2, 3, -1};
        assertEquals(1, s.sample(l, 0, SamplingParams.GREEDY, new int[8], 1, 1, 0));
    }

    @Test
    void sameSeedAndPositionGiveTheSameTokenAndOthersDiffer() {
        Random r = new Random(2);
        float[] l = new float[1000];
        for (int i = 0; i < l.length; i++) l[i] = (float) r.nextGaussian() * 2;
        Sampler s = new Sampler(l.length);
        int[] hist = new int[100];
        SamplingParams p = params(1f, 0, 1f, 0f, 42);
        int a = s.sample(l, 0, p, hist, 1, 10, 0);
        assertEquals(a, new Sampler(l.length).sample(l, 0, p, hist, 1, 10, 0));
        int differ = 0;
        for (int pos = 11; pos < 60; pos++) if (s.sample(l, 0, p, hist, 1, pos, 0) != a) differ++;
        assertTrue(differ > 30, "different positions draw different numbers");
        assertNotEquals(s.sample(l, 0, p, hist, 1, 10, 0), s.sample(l, 0, p.withSeed(43), hist, 1, 10, 0) + 1000);
    }

    @Test
    void samplingFollowsTheDistribution() {
        float[] l = {0f, (float) Math.log(3)}; // p = 0.25, 0.75
        Sampler s = new Sampler(2);
        int ones = 0, n = 20000;
        for (int pos = 0; pos < n; pos++) ones += s.sample(l, 0, params(1f, 0, 1f, 0f, 7), new int[1], 1, pos, 0);
        assertEquals(0.75, ones / (double) n, 0.015);
    }

    @Test
    void topKTopPAndMinPRestrictTheCandidates() {
        float[] l = {5f, 4.9f, 1f, 0.5f, -3f};
        Sampler s = new Sampler(5);
        Map<Integer, Integer> seen = new HashMap<>();
        for (int pos = 0; pos < 2000; pos++) seen.merge(s.sample(l, 0, params(1f, 2, 1f, 0f, 1), new int[1], 1, pos, 0), 1, Integer::sum);
        assertEquals(java.util.Set.of(0, 1), seen.keySet(), "top-k 2");
        seen.clear();
        for (int pos = 0; pos < 2000; pos++) seen.merge(s.sample(l, 0, params(1f, 0, 0.5f, 0f, 1), new int[1], 1, pos, 0), 1, Integer::sum);
        assertEquals(java.util.Set.of(0), seen.keySet(), "top-p 0.5 keeps the single most likely token");
        seen.clear();
        for (int pos = 0; pos < 2000; pos++) seen.merge(s.sample(l, 0, params(1f, 0, 1f, 0.1f, 1), new int[1], 1, pos, 0), 1, Integer::sum);
        assertEquals(java.util.Set.of(0, 1), seen.keySet(), "min-p 0.1 drops tokens below a tenth of the best");
    }

    @Test
    void penaltiesChangeTheChoice() {
        float[] l = {2f, 1.9f, 0f};
        Sampler s = new Sampler(3);
        int[] hist = {0, 0, 0};
        SamplingParams rep = new SamplingParams(0f, 0, 1f, 0f, 1.2f, 64, 0f, 0f, 0);
        assertEquals(1, s.sample(l, 0, rep, hist, 3, 3, 0), "token 0 in the window is penalised");
        SamplingParams freq = new SamplingParams(0f, 0, 1f, 0f, 1f, 64, 0.5f, 0f, 0);
        assertEquals(0, s.sample(l, 0, freq, hist, 3, 3, 0), "frequency penalty counts output tokens only");
        assertEquals(1, s.sample(l, 0, freq, hist, 1, 3, 0), "two generated 0s cost 1.0");
    }

    @Test
    void parametersOutOfRangeNameTheParameter() {
        var e = assertThrows(SamplingParams.InvalidParameterException.class, () -> params(-1f, 0, 1f, 0f, 0));
        assertEquals("temperature", e.param());
        assertEquals("top_p", assertThrows(SamplingParams.InvalidParameterException.class, () -> params(1f, 0, 0f, 0f, 0)).param());
    }

    @Test
    void logprobsAreNormalisedAndRankTheTop() {
        float[] l = {1f, 2f, 3f};
        Logprobs.Entry e = new Logprobs(3).entry(l, 0, 0, 2);
        double z = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
        assertEquals(1 - z, e.logprob(), 1e-6);
        assertEquals(2, e.top()[0].token());
        assertEquals(1, e.top()[1].token());
        assertEquals(3 - z, e.top()[0].logprob(), 1e-6);
    }

    @Test
    void logitBiasBansAndForcesTokensInGreedyAndSampledDecoding() {
        float[] l = {2f, 1f, 0f, -1f};
        float[] before = l.clone();
        Sampler s = new Sampler(4);
        int[] hist = new int[4];
        SamplingParams ban = SamplingParams.GREEDY.withLogitBias(LogitBias.of(Map.of(0, -100f)));
        assertEquals(1, s.sample(l, 0, ban, hist, 1, 1, 0), "-100 removes the argmax");
        SamplingParams force = params(1f, 0, 1f, 0f, 3).withLogitBias(LogitBias.of(Map.of(3, 100f)));
        for (int pos = 0; pos < 200; pos++) assertEquals(3, s.sample(l, 0, force, hist, 1, pos, 0), "+100 forces token 3");
        assertArrayEquals(before, l, "the logits themselves (what logprobs are computed from) are untouched");
        // a bias moves the distribution as an added logit would
        float[] shifted = {2f, 1f + 1.5f, 0f, -1f};
        SamplingParams plus = params(1f, 0, 1f, 0f, 9).withLogitBias(LogitBias.of(Map.of(1, 1.5f)));
        for (int pos = 0; pos < 200; pos++)
            assertEquals(s.sample(shifted, 0, params(1f, 0, 1f, 0f, 9), hist, 1, pos, 0), s.sample(l, 0, plus, hist, 1, pos, 0));
    }

    @Test
    void logitBiasValuesAreCheckedAndEqualMapsAreEqual() {
        assertEquals("logit_bias", assertThrows(SamplingParams.InvalidParameterException.class,
                () -> LogitBias.of(Map.of(1, 101f))).param());
        assertThrows(SamplingParams.InvalidParameterException.class, () -> LogitBias.of(Map.of(-1, 1f)));
        assertThrows(SamplingParams.InvalidParameterException.class, () -> LogitBias.of(Map.of(1, Float.NaN)));
        Map<Integer, Float> a = new HashMap<>(Map.of(5, 1f, 2, -3f)), b = new HashMap<>(Map.of(2, -3f, 5, 1f));
        assertEquals(LogitBias.of(a), LogitBias.of(b));
        assertEquals(5, LogitBias.of(a).maxId());
        assertEquals(-1, LogitBias.NONE.maxId());
        assertEquals(LogitBias.NONE, SamplingParams.GREEDY.logitBias());
    }
}
