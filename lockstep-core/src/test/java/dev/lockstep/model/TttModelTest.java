package dev.lockstep.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import dev.lockstep.convert.Safetensors;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.engine.RequestHandle;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.sampling.SamplingParams;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
        JsonNode idx = Fixtures.json("ttt/ttt_linear_m_block.json");
        ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(Fixtures.file("ttt/ttt_linear_m_block.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (JsonNode e : idx.get("tensors")) {
            String name = e.get("name").asText();
            if (!name.startsWith("weight.")) continue;
            long[] shape = new long[e.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.get("shape").get(i).asLong();
            String hf = "model.layers.0." + name.substring("weight.".length());
            shapes.put(hf, shape);
            values.put(hf, TttLayerTest.t(idx, data, name));
        }
        float[] x = TttLayerTest.t(idx, data, "input.hidden_states");
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
        wantBlock = TttLayerTest.t(idx, data, "output.step");
    }

    @Test
    void logitsAreTheReferenceBlockOutputInEveryChunking() {
        try (GgufFile f = GgufFile.open(gguf)) {
            Model m = ModelLoader.load(f);
            assertEquals("ttt", m.architecture());
            float[] logits = runChunks(m, new int[]{37});
            int[] chunked = {20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            assertArrayEquals(logits, runChunks(m, chunked), "20 + 17x1 differs from one prefill");
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

    private static float[] runChunks(Model m, int[] chunks) {
        float[] all = new float[37 * 64];
        try (var pool = new dev.lockstep.kernels.WorkerPool(1); var kv = new dev.lockstep.cache.KvCache(0, 0, 1, 16, 1)) {
            ModelRunner r = m.newRunner(pool, 37);
            ForwardBatch b = new ForwardBatch(37, 1);
            b.stateStore = new float[m.stateFloats()];
            m.initState(b.stateStore, 0);
            float[] logits = new float[37 * 64];
            int pos = 0;
            for (int c : chunks) {
                b.clear();
                int s = b.addSequence(new int[1], 0, pos);
                for (int i = 0; i < c; i++) b.addToken(s, pos + i, pos + i, true);
                r.forward(b, kv, logits);
                System.arraycopy(logits, 0, all, pos * 64, c * 64);
                pos += c;
            }
        }
        return all;
    }

    @Test
    void batchedAndChunkedEngineRunsGiveTheSoloBits() throws Exception {
        try (GgufFile f = GgufFile.open(gguf)) {
            Model m = ModelLoader.load(f);
            Random rnd = new Random(4);
            List<GenerationRequest> reqs = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                int[] p = new int[1 + rnd.nextInt(40)];
                for (int j = 0; j < p.length; j++) p[j] = rnd.nextInt(37);
                SamplingParams sp = i % 2 == 0 ? SamplingParams.GREEDY : new SamplingParams(0.9f, 0, 1f, 0f, 1f, 64, 0f, 0f, i);
                reqs.add(new GenerationRequest(p, sp, 5 + rnd.nextInt(30), List.of(), true, 2, false, 0));
            }
            List<GenerationResult> solo = new ArrayList<>();
            try (Engine e = new Engine(m, null, EngineConfig.defaults().withThreads(1).withMaxSeqs(1))) {
                for (GenerationRequest r : reqs) solo.add(e.generate(r));
            }
            try (Engine e = new Engine(m, null, EngineConfig.defaults().withThreads(2).withMaxSeqs(4).withMaxBatchTokens(6))) {
                List<RequestHandle> hs = new ArrayList<>();
                for (GenerationRequest r : reqs) hs.add(e.submit(r));
                for (int i = 0; i < reqs.size(); i++) {
                    GenerationResult got = hs.get(i).await();
                    assertArrayEquals(solo.get(i).tokens(), got.tokens(), "request " + i);
                    List<Logprobs.Entry> a = solo.get(i).logprobs(), b = got.logprobs();
                    for (int j = 0; j < a.size(); j++)
                        assertEquals(Float.floatToRawIntBits(a.get(j).logprob()), Float.floatToRawIntBits(b.get(j).logprob()));
                }
            }
        }
    }
}
