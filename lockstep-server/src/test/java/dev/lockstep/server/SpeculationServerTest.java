package dev.lockstep.server;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.lockstep.Fixtures;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.SpecConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Speculation through the API, under concurrent load: requests with "speculation": "ngram" or "draft"
 * (the Q4_0 copy of the served F32 model as the draft) answer with exactly the text and logprob bits of
 * "off", and report accepted / rejected prediction tokens.
 */
class SpeculationServerTest {
    record Answer(String text, String logprobBits, long accepted, long rejected) {}

    static Answer ask(OpenAIClient c, String prompt, double temperature, long seed, String spec) {
        Completion r = c.completions().create(CompletionCreateParams.builder().model(ServerFixture.MODEL_ID).prompt(prompt)
                .maxTokens(40).temperature(temperature).seed(seed).logprobs(2)
                .putAdditionalBodyProperty("speculation", JsonValue.from(spec)).build());
        var ch = r.choices().get(0);
        StringBuilder bits = new StringBuilder();
        for (Double d : ch.logprobs().orElseThrow().tokenLogprobs().orElseThrow())
            bits.append(Integer.toHexString(Float.floatToRawIntBits(d.floatValue()))).append(',');
        var details = r.usage().orElseThrow().completionTokensDetails().orElseThrow();
        return new Answer(ch.text(), bits.toString(), details.acceptedPredictionTokens().orElse(0L),
                details.rejectedPredictionTokens().orElse(0L));
    }

    @Test
    void speculationUnderLoadGivesTheSameBits() throws Exception {
        EngineConfig cfg = EngineConfig.defaults().withThreads(2).withKvCacheBytes(64L << 20)
                .withSpec(SpecConfig.OFF.withDraft(4, 1));
        try (ServerFixture fx = new ServerFixture(cfg, OpenAiServer.Options.defaults(),
                Fixtures.file("aidreams/aidreams260K-q4_0.gguf"))) {
            OpenAIClient client = fx.sdk();
            String[] prompts = {"Once upon a time", "The cat sat on the mat. The cat sat on the", "Lily and Ben went to"};
            List<Future<Answer[]>> fs = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 18; i++) {
                    String p = prompts[i % prompts.length];
                    double t = (i / 3) % 2 == 0 ? 0 : 0.8;
                    long seed = i;
                    fs.add(pool.submit(() -> new Answer[]{ask(client, p, t, seed, "off"), ask(client, p, t, seed, "ngram"),
                            ask(client, p, t, seed, "draft")}));
                }
                long accepted = 0;
                for (Future<Answer[]> f : fs) {
                    Answer[] a = f.get();
                    for (int k = 1; k < 3; k++) {
                        assertEquals(a[0].text(), a[k].text());
                        assertEquals(a[0].logprobBits(), a[k].logprobBits());
                    }
                    assertEquals(0, a[0].accepted() + a[0].rejected(), "no proposals with speculation off");
                    accepted += a[2].accepted();
                }
                assertTrue(accepted > 0, "the draft model's proposals were accepted sometimes");
            }
            assertTrue(fx.metric("lockstep_spec_accepted_tokens_total") > 0);
            assertEquals(0, fx.server.engine().stats().kvBlocksUsed());
        }
    }
}
