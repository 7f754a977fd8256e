package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import dev.lockstep.engine.EngineConfig;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several models behind one server ({@code serve --model A --model B}): a request's {@code model}
 * chooses; each model's probe keeps its bits while requests to both run interleaved; models load on
 * first use and, under a budget that fits one, unload and load again with the same bits.
 */
class MultiModelServerTest {
    static final Path F32 = Fixtures.file("aidreams/aidreams260K-f32.gguf");
    static final Path F16 = Fixtures.file("aidreams/aidreams260K-f16.gguf");
    static final Path Q8 = Fixtures.file("aidreams/aidreams260K-q8_0.gguf");
    static final long KV = 1L << 20;
    static final EngineConfig CFG = EngineConfig.defaults().withThreads(2).withKvCacheBytes(KV);

    static List<OpenAiServer.ModelSource> models() {
        return List.of(new OpenAiServer.ModelSource("aidreams260K-f32", F32), new OpenAiServer.ModelSource("aidreams260K-f16", F16),
                new OpenAiServer.ModelSource("small", Q8));
    }

    /** A greedy completion with logprobs: its text and logprobs, as JSON. */
    static JsonNode probe(ServerFixture fx, String model) throws Exception {
        HttpResponse<String> r = fx.post("/v1/completions", "{\"model\": \"" + model + "\", \"prompt\": \"Once upon a time\", "
                + "\"max_tokens\": 24, \"temperature\": 0, \"logprobs\": 2}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode c = fx.parse(r.body()).get("choices").get(0);
        assertEquals(model, fx.parse(r.body()).get("model").asText());
        return fx.json.createObjectNode().put("text", c.get("text").asText()).set("logprobs", c.get("logprobs"));
    }

    static JsonNode listed(ServerFixture fx, String id) throws Exception {
        for (JsonNode m : fx.parse(fx.get("/v1/models").body()).get("data")) if (m.get("id").asText().equals(id)) return m;
        throw new AssertionError(id + " is not in /v1/models");
    }

    @Test
    void requestsChooseTheirModelAndEachKeepsItsBitsUnderInterleavedLoad() throws Exception {
        try (ServerFixture fx = new ServerFixture(models(), CFG, 0)) {
            assertEquals(3, fx.parse(fx.get("/v1/models").body()).get("data").size());
            assertTrue(listed(fx, "aidreams260K-f32").get("loaded").asBoolean(), "the default loads at start");
            assertTrue(!listed(fx, "aidreams260K-f16").get("loaded").asBoolean() && !listed(fx, "small").get("loaded").asBoolean());

            JsonNode p32 = probe(fx, "aidreams260K-f32"), p16 = probe(fx, "aidreams260K-f16");
            assertNotEquals(p32.get("logprobs"), p16.get("logprobs"), "two different files give different numbers");
            assertTrue(listed(fx, "aidreams260K-f16").get("loaded").asBoolean(), "loaded on first use");

            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                int c = i;
                clients.add(Thread.ofVirtual().start(() -> {
                    try {
                        for (int j = 0; j < 3; j++) {
                            String model = List.of("aidreams260K-f32", "aidreams260K-f16", "small").get((c + j) % 3);
                            if ((c + j) % 4 == 0) {
                                JsonNode got = probe(fx, model);
                                JsonNode want = model.equals("small") ? null : model.endsWith("f32") ? p32 : p16;
                                if (want != null && !want.equals(got)) failures.add("probe of " + model + " changed: " + got);
                            } else {
                                HttpResponse<String> r = fx.post("/v1/chat/completions", "{\"model\": \"" + model
                                        + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story " + c + "\"}], "
                                        + "\"max_tokens\": 40, \"seed\": " + (c * 10 + j) + ", \"stream\": " + (j % 2 == 0) + "}");
                                if (r.statusCode() != 200) failures.add(model + ": " + r.statusCode() + " " + r.body());
                            }
                        }
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }));
            }
            for (Thread t : clients) t.join();
            assertTrue(failures.isEmpty(), String.join("\n", failures));
            assertEquals(p32, probe(fx, "aidreams260K-f32"));
            assertEquals(p16, probe(fx, "aidreams260K-f16"));

            HttpResponse<String> unknown = fx.post("/v1/completions", "{\"model\": \"gpt-4o\", \"prompt\": \"x\"}");
            assertEquals(404, unknown.statusCode());
            String msg = fx.parse(unknown.body()).get("error").get("message").asText();
            assertTrue(msg.contains("'gpt-4o' does not exist") && msg.contains("'aidreams260K-f32', 'aidreams260K-f16', 'small'"), msg);
            assertEquals(404, fx.get("/v1/models/gpt-4o").statusCode());
            assertEquals("small", fx.parse(fx.get("/v1/models/small").body()).get("id").asText());
            HttpResponse<String> tok = fx.post("/tokenize", "{\"model\": \"small\", \"prompt\": \"Once upon a time\"}");
            assertEquals(200, tok.statusCode(), tok.body());

            String metrics = fx.get("/metrics").body();
            for (String id : List.of("aidreams260K-f32", "aidreams260K-f16", "small"))
                assertTrue(metrics.contains("lockstep_generation_tokens_total{model=\"" + id + "\"}"), id + ": " + metrics);
        }
    }

    @Test
    void underABudgetForOneModelTheIdleOneUnloadsAndLoadsAgainWithTheSameBits() throws Exception {
        long budget = Math.max(Files.size(F32), Files.size(F16)) + KV + (64 << 10); // one model and its KV cache, not two
        try (ServerFixture fx = new ServerFixture(models().subList(0, 2), CFG, budget)) {
            JsonNode p32 = probe(fx, "aidreams260K-f32");
            JsonNode p16 = probe(fx, "aidreams260K-f16");
            assertTrue(!listed(fx, "aidreams260K-f32").get("loaded").asBoolean() && listed(fx, "aidreams260K-f16").get("loaded").asBoolean(),
                    "the f32 model made room for the f16 one");
            assertEquals(p32, probe(fx, "aidreams260K-f32"), "reloaded, the same bits");
            assertTrue(listed(fx, "aidreams260K-f32").get("loaded").asBoolean() && !listed(fx, "aidreams260K-f16").get("loaded").asBoolean());
            assertEquals(p16, probe(fx, "aidreams260K-f16"));
            assertEquals("ok", fx.parse(fx.get("/health").body()).get("status").asText(), "health follows the server, not which model is loaded");
        }
    }
}
