package dev.lockstep.engine;

import dev.lockstep.TestModels;
import dev.lockstep.sampling.LogitBias;
import dev.lockstep.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** stop_token_ids end the output at the token; min_tokens holds every end back until it is reached. */
class TokenStopsTest {
    @Test
    void stopTokenIdsEndTheOutputAndMinTokensHoldsEndsBack() throws Exception {
        TestModels.Loaded m = TestModels.get("aidreams/aidreams260K-f32");
        int[] prompt = m.tokenizer().encode("Once upon a time", true, false);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            GenerationResult plain = e.generate(GenerationRequest.greedy(prompt, 20).withIgnoreEos(true));
            int stopAt = plain.tokens()[5];
            int first = 0;
            while (plain.tokens()[first] != stopAt) first++;
            GenerationResult stopped = e.generate(GenerationRequest.greedy(prompt, 20).withTokenStops(new TokenStops(new int[]{stopAt}, 0)));
            assertEquals(FinishReason.STOP, stopped.reason());
            assertArrayEquals(Arrays.copyOf(plain.tokens(), first + 1), stopped.tokens(), "the stop token is the last id");
            String before = first == 0 ? "" : e.generate(GenerationRequest.greedy(prompt, first).withIgnoreEos(true)).text();
            assertEquals(before, stopped.text(), "the text is what came before the stop token, without its own");

            // end of text forced by a bias: at once without min_tokens, after exactly 5 tokens with it
            int eos = m.tokenizer().eos();
            SamplingParams forceEos = SamplingParams.GREEDY.withLogitBias(LogitBias.of(Map.of(eos, 100f)));
            GenerationRequest r = new GenerationRequest(prompt, forceEos, 20, List.of(), false, -1, false, 0);
            assertEquals(1, e.generate(r).tokens().length);
            GenerationResult held = e.generate(r.withTokenStops(new TokenStops(new int[0], 5)));
            assertEquals(6, held.tokens().length, Arrays.toString(held.tokens()));
            assertEquals(eos, held.tokens()[5]);
            assertEquals(FinishReason.STOP, held.reason());
            for (int i = 0; i < 5; i++) assertTrue(held.tokens()[i] != eos);
            // a stop token id is held back by min_tokens too
            GenerationResult both = e.generate(GenerationRequest.greedy(prompt, 20).withIgnoreEos(true)
                    .withTokenStops(new TokenStops(new int[]{plain.tokens()[0]}, 3)));
            assertTrue(both.tokens().length > 3, Arrays.toString(both.tokens()));
            for (int i = 0; i < 3; i++) assertTrue(both.tokens()[i] != plain.tokens()[0]);

            var bad = assertThrows(Engine.RejectedException.class,
                    () -> e.submit(GenerationRequest.greedy(prompt, 4).withTokenStops(new TokenStops(new int[]{1 << 20}, 0))));
            assertEquals("stop_token_ids", bad.param());
        }
    }
}
