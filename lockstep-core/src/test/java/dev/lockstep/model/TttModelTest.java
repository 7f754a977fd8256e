package dev.lockstep.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import dev.lockstep.convert.Safetensors;
import dev.lockstep.engine.SoloVsBatched;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.gguf.GgufFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A TTT checkpoint in the reference PyTorch layout (safetensors + config.json, built from the block
 * fixture's weights) converted to a {@code ttt} GGUF by the project's converter and writer, then run:
 * its logits equal RMSNorm(reference block output) — the embedding rows are the fixture's inputs and
 * the output matrix is the identity — in every chunking; and through the engine, batched and chunked
 * runs give the bits of solo runs.
 */
class TttModelTest {
    @TempDir
    static Path dir;
    static Path gguf;
    static float[] wantBlock;

    @BeforeAll
    static void convert() throws Exception {
        String fx = "ttt/ttt_linear_m_block";
        JsonNode idx = Fixtures.json(fx + ".json");
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (JsonNode e : idx.get("tensors")) {
            String name = e.get("name").asText();
            if (!name.startsWith("weight.")) continue;
            long[] shape = new long[e.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.get("shape").get(i).asLong();
            String hf = "model.layers.0." + name.substring("weight.".length());
            shapes.put(hf, shape);
            values.put(hf, Fixtures.floats(fx, name));
        }
        float[] x = Fixtures.floats(fx, "input.hidden_states");
        float[] emb = new float[64 * 64];
        System.arraycopy(x, 0, emb, 0, x.length); // token t's embedding = the fixture's input row t
        float[] eye = new float[64 * 64], ones = new float[64];
        for (int i = 0; i < 64; i++) {
            eye[i * 64 + i] = 1f;
            ones[i] = 1f;
        }
        shapes.put("model.embed_tokens.weight", new long[]{64, 64});
        values.put("model.embed_tokens.weight", emb);
        shapes.put("model.norm.weight", new long[]{64});
        values.put("model.norm.weight", ones);
        shapes.put("lm_head.weight", new long[]{64, 64});
        values.put("lm_head.weight", eye);
        Path st = dir.resolve("model.safetensors"), cfg = dir.resolve("config.json");
        Safetensors.writeF32(st, shapes, values);
        Files.writeString(cfg, """
                {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
                 "rms_norm_eps": 1e-6, "max_position_embeddings": 2048, "vocab_size": 64, "ttt_layer_type": "linear",
                 "ttt_base_lr": 1.0, "mini_batch_size": 16, "share_qk": true, "use_gate": true, "pre_conv": true,
                 "conv_kernel": 4, "rope_theta": 10000.0, "tie_word_embeddings": false}""");
        gguf = dir.resolve("ttt.gguf");
        dev.lockstep.convert.TttConverter.convert(cfg, st, null, gguf);
        wantBlock = Fixtures.floats(fx, "output.step");
    }

    @Test
    void logitsAreTheReferenceBlockOutputInEveryChunking() {
        try (GgufFile f = GgufFile.open(gguf)) {
            Model m = ModelLoader.load(f);
            assertEquals("ttt", m.architecture());
            float[] logits = ChunkedRun.of(m, 37).logits();
            int[] chunked = {20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            assertArrayEquals(logits, ChunkedRun.of(m, chunked).logits(), "20 + 17x1 differs from one prefill");
            double worst = 0;
            for (int t = 0; t < 37; t++) {
                double ss = 0;
                for (int i = 0; i < 64; i++) ss += (double) wantBlock[t * 64 + i] * wantBlock[t * 64 + i];
                double inv = 1 / Math.sqrt(ss / 64 + 1e-6);
                for (int i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(logits[t * 64 + i] - wantBlock[t * 64 + i] * inv));
            }
            System.out.printf("ttt model (converted): worst |logit - reference| %.2e%n", worst);
            assertTrue(worst < 1e-4, "worst " + worst);
        }
    }

    @Test
    void batchedAndChunkedEngineRunsGiveTheSoloBits() throws Exception {
        try (GgufFile f = GgufFile.open(gguf)) {
            Model m = ModelLoader.load(f);
            List<GenerationRequest> reqs = SoloVsBatched.mixedRequests(new Random(4), 10, 37, 40, 5, 30, 0.9f);
            SoloVsBatched.assertBatchedEqualsSolo(m, reqs, EngineConfig.defaults().withThreads(2).withMaxSeqs(4).withMaxBatchTokens(6));
        }
    }
}
