package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.kernels.Activations;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/** Shared pieces of the engine tests: requests, solo reference runs, and bitwise comparison of results. */
final class EngineHarness {
    private EngineHarness() {}

    static final int TOP = 2; // logprob alternatives compared in every test

    /** A request description, hashable, so that solo results can be cached. */
    record Req(String model, int[] prompt, int maxTokens, float temperature, long seed, boolean json) {
        Req(String model, int[] prompt, int maxTokens, float temperature, long seed) {
            this(model, prompt, maxTokens, temperature, seed, false);
        }

        GenerationRequest toRequest() {
            SamplingParams p = temperature == 0 ? SamplingParams.GREEDY
                    : new SamplingParams(temperature, 20, 0.95f, 0f, 1f, 64, 0f, 0f, seed);
            GenerationRequest r = new GenerationRequest(prompt, p, maxTokens, List.of(), false, TOP, false, 0);
            return json ? r.withFormat(ResponseFormat.JSON_OBJECT) : r;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Req r && r.model.equals(model) && Arrays.equals(r.prompt, prompt) && r.maxTokens == maxTokens
                    && r.temperature == temperature && r.seed == seed && r.json == json;
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(prompt) * 31 + maxTokens * 7 + Float.hashCode(temperature) + Long.hashCode(seed) + model.hashCode()
                    + (json ? 1 : 0);
        }

        @Override
        public String toString() {
            return model + " prompt[" + prompt.length + "]=" + Arrays.toString(Arrays.copyOf(prompt, Math.min(6, prompt.length)))
                    + "... max " + maxTokens + (temperature == 0 ? " greedy" : " T=" + temperature + " seed " + seed)
                    + (json ? " JSON mode" : "");
        }
    }

    private record SoloKey(Req req, Activations activations) {}

    private static final Map<SoloKey, GenerationResult> SOLO = new ConcurrentHashMap<>();

    /** The request run alone: fresh engine, one thread, whole prompt in one step, no prefix cache. */
    static GenerationResult solo(Req r) {
        return solo(r, Activations.F32);
    }

    /** {@link #solo(Req)} with the engine's products in the given activation mode. */
    static GenerationResult solo(Req r, Activations activations) {
        return SOLO.computeIfAbsent(new SoloKey(r, activations), k -> {
            TestModels.Loaded m = TestModels.get(k.req.model);
            EngineConfig cfg = EngineConfig.defaults().withThreads(1).withMaxSeqs(1).withMaxBatchTokens(512)
                    .withPrefixCaching(false).withKvCacheBytes(0).withActivations(k.activations);
            try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
                return e.generate(k.req.toRequest());
            } catch (InterruptedException ex) {
                throw new RuntimeException(ex);
            }
        });
    }

    /** Random prompts that share prefixes of various lengths (to exercise the prefix cache); one in four in JSON mode. */
    static List<Req> randomRequests(String model, int vocab, int n, Random rnd) {
        int[] base = new int[80];
        for (int i = 0; i < base.length; i++) base[i] = 3 + rnd.nextInt(vocab - 3);
        List<Req> out = new ArrayList<>();
        int[] shared = {0, 16, 17, 32, 33, 47};
        for (int i = 0; i < n; i++) {
            int k = shared[rnd.nextInt(shared.length)];
            int extra = 1 + rnd.nextInt(24);
            int[] p = new int[k + extra];
            System.arraycopy(base, 0, p, 0, k);
            for (int j = k; j < p.length; j++) p[j] = 3 + rnd.nextInt(vocab - 3);
            float t = rnd.nextBoolean() ? 0f : 0.9f;
            out.add(new Req(model, p, 1 + rnd.nextInt(20), t, rnd.nextInt(1000), rnd.nextInt(4) == 0));
        }
        return out;
    }

    /** Null when equal (tokens, finish reason, and every logprob's bits), else what differs. */
    static String difference(GenerationResult want, GenerationResult got) {
        if (!Arrays.equals(want.tokens(), got.tokens()))
            return "tokens " + Arrays.toString(want.tokens()) + " vs " + Arrays.toString(got.tokens());
        if (want.reason() != got.reason()) return "finish " + want.reason() + " vs " + got.reason();
        return logprobDifference(want.logprobs(), got.logprobs());
    }

    static String logprobDifference(List<Logprobs.Entry> a, List<Logprobs.Entry> b) {
        if (a.size() != b.size()) return "logprob entries " + a.size() + " vs " + b.size();
        for (int i = 0; i < a.size(); i++) {
            Logprobs.Entry x = a.get(i), y = b.get(i);
            if (x.token() != y.token() || Float.floatToIntBits(x.logprob()) != Float.floatToIntBits(y.logprob()))
                return "logprob " + i + ": " + x.token() + "/" + x.logprob() + " vs " + y.token() + "/" + y.logprob();
            for (int j = 0; j < x.top().length; j++)
                if (x.top()[j].token() != y.top()[j].token()
                        || Float.floatToIntBits(x.top()[j].logprob()) != Float.floatToIntBits(y.top()[j].logprob()))
                    return "top logprob " + i + "/" + j + " differs";
        }
        return null;
    }
}
