package dev.lockstep.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import dev.lockstep.cache.KvCache;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every model of the fixtures (transformers and Mamba) against llama.cpp's reference outputs (fixtures README §6):
 * prompt token ids, last-position logits, and 32 greedy tokens.
 *
 * <p>Logit tolerances. F32: 1e-4 (both engines compute in float32; measured here: at most 5e-6).
 * F16: 0.02 (llama.cpp rounds activations to f16 before F16 products, Lockstep keeps them in f32;
 * measured: at most 0.0094). Q8_0/Q4_0: llama.cpp quantizes activations to 8 bits before these
 * products, Lockstep keeps them in f32 (W8A32/W4A32), so the references carry llama.cpp's own activation
 * rounding: the bound is 1.5 x the difference llama.cpp shows against itself when only the KV-cache type
 * and attention kernel change ({@code default_settings_check}, 0.07-0.26 on these files); measured: at
 * most 1.13 x. Mamba's quantized files: 0.3 (see the switch below; measured 0.14-0.17). Greedy continuations must be identical where the reference decisions are well separated:
 * every F32 and F16 file, and aidreams260K in F32/F16/Q8_0 (fixtures README §6.3).
 */
class LlamaCppReferenceTest {

    static Stream<Arguments> models() {
        List<Arguments> a = new ArrayList<>();
        for (String arch : new String[]{"llama", "qwen2", "qwen3", "mamba"})
            for (String t : new String[]{"f32", "f16", "q8_0", "q4_0"})
                for (String p : new String[]{"p1", "p2"}) a.add(Arguments.of("models/tiny-" + arch + "-" + t, p));
        for (String t : new String[]{"f32", "f16", "q8_0", "q4_0"})
            for (String p : new String[]{"p1", "p2"}) a.add(Arguments.of("aidreams/aidreams260K-" + t, p));
        for (String p : new String[]{"p1", "p2"}) a.add(Arguments.of("models/vocab-llama3-llama-q8_0", p));
        return a.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("models")
    void matchesLlamaCpp(String model, String prompt) throws InterruptedException {
        String base = model.substring(model.indexOf('/') + 1);
        JsonNode ref = Fixtures.json("reference/" + base + "." + prompt + ".json");
        try (GgufFile f = GgufFile.open(Fixtures.file(model + ".gguf"))) {
            Model m = ModelLoader.load(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            String text = ref.get("prompt").asText();
            int[] ids = tok.encode(text, true, false);
            assertArrayEquals(Fixtures.ints(ref.get("prompt_tokens_add_special")), ids, "prompt tokens");
            assertArrayEquals(Fixtures.ints(ref.get("prompt_tokens_no_special")), tok.encode(text, false, false));

            float[] logits = lastLogits(m, ids);
            double maxDiff = 0;
            JsonNode all = ref.get("last_logits");
            if (all != null && !all.isNull()) {
                assertEquals(m.vocabSize(), all.size());
                for (int i = 0; i < all.size(); i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - all.get(i).asDouble()));
            }
            for (JsonNode e : ref.get("last_logits_topk"))
                maxDiff = Math.max(maxDiff, Math.abs(logits[e.get(0).asInt()] - e.get(1).asDouble()));
            String type = base.substring(base.lastIndexOf('-') + 1);
            double tol = switch (type) {
                case "f32" -> 1e-4;
                case "f16" -> 0.02;
                // Mamba has no attention settings to vary (its default-settings check is 0), so bound its
                // W8A32-vs-W8A8 gap by the largest sensitivity the transformer files show (0.26)
                default -> base.contains("mamba") ? 0.3
                        : 1.5 * ref.get("default_settings_check").get("last_logits_max_abs_diff").asDouble();
            };
            System.out.printf("%-28s %s max |logit - llama.cpp| = %.6f (tolerance %.4f)%n", base, prompt, maxDiff, tol);
            assertTrue(maxDiff <= tol, base + " " + prompt + ": max logit difference " + maxDiff + " > " + tol);

            boolean exactGreedy = type.equals("f32") || type.equals("f16") || base.equals("aidreams260K-q8_0");
            if (exactGreedy) {
                try (Engine engine = new Engine(m, tok, EngineConfig.defaults().withThreads(2).withMaxSeqs(2))) {
                    GenerationResult r = engine.generate(GenerationRequest.greedy(ids, 32).withIgnoreEos(true));
                    assertArrayEquals(Fixtures.ints(ref.get("greedy_tokens")), r.tokens(), "greedy tokens");
                    assertEquals(ref.get("greedy_text_hex").asText(), HexFormat.of().formatHex(concatPieces(tok, r.tokens())));
                }
            }
        }
    }

    /** The aidreams model continues "Once upon a time" exactly as llama.cpp and llama2.c's run.c do. */
    @Test
    void aidreamsOnceUponATime() throws InterruptedException {
        try (GgufFile f = GgufFile.open(Fixtures.file("aidreams/aidreams260K-f32.gguf"))) {
            Model m = ModelLoader.load(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            try (Engine engine = new Engine(m, tok, EngineConfig.defaults().withThreads(2))) {
                GenerationResult r = engine.generate(GenerationRequest.greedy(tok.encode("Once upon a time", true, false), 32)
                        .withIgnoreEos(true));
                String expected = Fixtures.json("reference/aidreams260K-f32.p1.json").get("greedy_text").asText();
                assertEquals(expected, r.text());
                assertTrue(("Once upon a time" + r.text()).startsWith(
                        "Once upon a time, pixels unfolding like petals. Classifications unfold, a kaleidos"),
                        r.text());
            }
        }
    }

    static float[] lastLogits(Model m, int[] ids) {
        try (WorkerPool pool = new WorkerPool(2)) {
            ModelRunner r = m.newRunner(pool, ids.length);
            try (KvCache kv = new KvCache(m.kvLayers(), m.kvDim(), m.kvHeadDim(), 16, (ids.length + 15) / 16)) {
                int[] table = new int[(ids.length + 15) / 16];
                for (int i = 0; i < table.length; i++) table[i] = i;
                ForwardBatch b = new ForwardBatch(ids.length, 1);
                b.stateStore = new float[m.stateFloats()]; // recurrent models: slot 0, a fresh state
                m.initState(b.stateStore, 0);
                int s = b.addSequence(table, 0, 0);
                for (int i = 0; i < ids.length; i++) b.addToken(s, ids[i], i, i == ids.length - 1);
                float[] logits = new float[m.vocabSize()];
                r.forward(b, kv, logits);
                return logits;
            }
        }
    }

    static byte[] concatPieces(Tokenizer tok, int[] ids) {
        var out = new java.io.ByteArrayOutputStream();
        for (int id : ids) out.writeBytes(tok.piece(id, true));
        return out.toByteArray();
    }
}
