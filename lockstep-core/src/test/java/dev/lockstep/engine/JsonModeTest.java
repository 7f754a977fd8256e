package dev.lockstep.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.TestModels;
import dev.lockstep.sampling.JsonGrammar;
import dev.lockstep.sampling.LogitBias;
import dev.lockstep.sampling.SamplingParams;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JSON mode (constrained decoding) keeps the output one JSON object and keeps every invariance. */
class JsonModeTest {

    private static List<GenerationRequest> requests(TestModels.Loaded m, float closeBias) {
        int[] prompt = m.tokenizer().encode("Answer in JSON: ", true, false);
        Map<Integer, Float> bias = new java.util.HashMap<>();
        for (int id = 0; id < m.tokenizer().size() && closeBias != 0; id++) // the tokens that are a closing brace
            if (new String(m.tokenizer().piece(id, false), StandardCharsets.UTF_8).strip().equals("}")) bias.put(id, closeBias);
        assertTrue(closeBias == 0 || !bias.isEmpty());
        List<GenerationRequest> out = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            SamplingParams p = new SamplingParams(1.0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 100 + i).withLogitBias(LogitBias.of(bias));
            out.add(new GenerationRequest(prompt, p, 40, List.of(), false, 2, false, 0).withFormat(ResponseFormat.JSON_OBJECT));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"aidreams/aidreams260K-f32", "models/tiny-llama-q8_0", "models/tiny-qwen2-f32"})
    void everyOutputIsAJsonObjectOrAPrefixOfOne(String model) throws Exception {
        TestModels.Loaded m = TestModels.get(model);
        ObjectMapper om = new ObjectMapper();
        int closed = 0;
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            // a bias toward "}" makes objects close early, so both endings are seen
            for (float closeBias : new float[]{0f, 8f}) {
                for (GenerationRequest r : requests(m, closeBias)) {
                    GenerationResult g = e.generate(r);
                    byte[] text = g.text().getBytes(StandardCharsets.UTF_8);
                    long state = JsonGrammar.run(JsonGrammar.START_STATE, text);
                    assertNotEquals(JsonGrammar.REJECT, state, g.text());
                    if (g.reason() == FinishReason.STOP) {
                        assertTrue(JsonGrammar.isDone(state), g.text());
                        assertTrue(om.readTree(g.text()).isObject(), g.text());
                        closed++;
                    } else {
                        assertEquals(FinishReason.LENGTH, g.reason());
                        assertEquals(40, g.tokens().length);
                    }
                }
            }
            assertEquals(0, e.stats().kvBlocksUsed());
        }
        assertTrue(closed >= 6, "with the bias most objects close: " + closed);
    }

    /** Batched together, one by one and with n-gram speculation: the same bits. */
    @ParameterizedTest
    @ValueSource(strings = {"aidreams/aidreams260K-q8_0", "models/tiny-qwen3-f32"})
    void jsonModeIsBatchInvariantAndSpeculationInvariant(String model) throws Exception {
        TestModels.Loaded m = TestModels.get(model);
        List<GenerationRequest> reqs = requests(m, 2f);
        List<GenerationResult> solo = new ArrayList<>();
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1))) {
            for (GenerationRequest r : reqs) solo.add(e.generate(r));
        }
        EngineConfig batched = EngineConfig.defaults().withThreads(2).withMaxBatchTokens(7);
        for (EngineConfig cfg : new EngineConfig[]{batched,
                batched.withSpec(SpecConfig.OFF.withMode(SpecConfig.Mode.NGRAM).withDraft(4, 1))}) {
            try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
                List<RequestHandle> hs = new ArrayList<>();
                for (GenerationRequest r : reqs) hs.add(e.submit(r));
                for (int i = 0; i < reqs.size(); i++) assertNull(EngineHarness.difference(solo.get(i), hs.get(i).await()), "request " + i);
            }
        }
    }

    static final String SCHEMA = "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}, \"n\": {\"type\": \"integer\"},"
            + " \"color\": {\"enum\": [\"red\", \"green\"]}, \"note\": {\"type\": [\"string\", \"null\"]}}, \"required\": [\"ok\", \"n\", \"color\"]}";

    /**
     * A JSON schema: every finished output is valid (checked by an independent validator); requests
     * that share one format (its automaton interns states in whatever order they come) equal solo
     * runs with a format of their own, batched or not.
     */
    @ParameterizedTest
    @ValueSource(strings = {"aidreams/aidreams260K-f32", "models/tiny-llama-q4_0"})
    void jsonSchemaOutputsAreValidAndInvariant(String model) throws Exception {
        TestModels.Loaded m = TestModels.get(model);
        com.fasterxml.jackson.databind.JsonNode schema = new ObjectMapper().readTree(SCHEMA);
        var validator = com.networknt.schema.SchemaRegistry.withDefaultDialect(com.networknt.schema.SpecificationVersion.DRAFT_2020_12)
                .getSchema(SCHEMA);
        int[] prompt = m.tokenizer().encode("Answer in JSON: ", true, false);
        List<GenerationRequest> solo = new ArrayList<>();
        ResponseFormat shared = ResponseFormat.jsonSchema("answer", schema);
        List<GenerationRequest> sharing = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            SamplingParams p = new SamplingParams(1.0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 7 + i);
            GenerationRequest r = new GenerationRequest(prompt, p, 110, List.of(), false, 2, false, i);
            solo.add(r.withFormat(ResponseFormat.jsonSchema("answer", schema)));
            sharing.add(r.withFormat(shared));
        }
        List<GenerationResult> want = new ArrayList<>();
        int finished = 0;
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(1))) {
            for (GenerationRequest r : solo) {
                GenerationResult g = e.generate(r);
                want.add(g);
                if (g.reason() == FinishReason.STOP) {
                    finished++;
                    assertEquals(List.of(), validator.validate(new ObjectMapper().readTree(g.text())), g.text());
                } else {
                    assertEquals(FinishReason.LENGTH, g.reason(), g.text());
                }
            }
        }
        assertTrue(finished >= 5, "the schema leads most outputs to their end: " + finished);
        try (Engine e = new Engine(m.model(), m.tokenizer(), EngineConfig.defaults().withThreads(2).withMaxBatchTokens(5))) {
            List<RequestHandle> hs = new ArrayList<>();
            for (GenerationRequest r : sharing) hs.add(e.submit(r));
            for (int i = 0; i < hs.size(); i++) assertNull(EngineHarness.difference(want.get(i), hs.get(i).await()), "request " + i);
        }
        // with speculation, the text the schema forces (its keys) is proposed: fewer steps for the same bits
        long[] steps = new long[2];
        for (int mode = 0; mode < 2; mode++) {
            EngineConfig cfg = EngineConfig.defaults().withThreads(2).withMaxSeqs(1);
            if (mode == 1) cfg = cfg.withSpec(SpecConfig.OFF.withMode(SpecConfig.Mode.NGRAM).withDraft(6, 1));
            try (Engine e = new Engine(m.model(), m.tokenizer(), cfg)) {
                for (int i = 0; i < sharing.size(); i++) assertNull(EngineHarness.difference(want.get(i), e.generate(sharing.get(i))), "request " + i);
                steps[mode] = e.stats().steps();
            }
        }
        assertTrue(steps[1] < steps[0], "steps: " + steps[0] + " plain, " + steps[1] + " with speculation");
    }
}
