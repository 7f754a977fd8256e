package dev.lockstep.model;

import dev.lockstep.Fixtures;
import dev.lockstep.cache.KvCache;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.WorkerPool;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

class SmokeTest {
    @Test
    void aidreams() {
        for (String name : new String[]{"aidreams/aidreams260K-f32.gguf", "models/tiny-llama-f32.gguf", "models/tiny-qwen2-f32.gguf", "models/tiny-qwen3-f32.gguf"}) {
        String base = name.substring(name.indexOf('/') + 1).replace(".gguf", "");
        JsonNode ref = Fixtures.json("reference/" + base + ".p1.json");
        try (GgufFile f = GgufFile.open(Fixtures.file(name)); WorkerPool pool = new WorkerPool(2)) {
            Model m = ModelLoader.load(f);
            System.out.println(m.describe());
            ModelRunner r = m.newRunner(pool, 64);
            KvCache kv = new KvCache(m.kvLayers(), m.kvDim(), 16, 8);
            int[] table = {0, 1, 2, 3, 4, 5, 6, 7};
            int[] prompt = Fixtures.ints(ref.get("prompt_tokens_used"));
            ForwardBatch b = new ForwardBatch(64, 4);
            b.clear();
            int s = b.addSequence(table, 0, 0);
            for (int i = 0; i < prompt.length; i++) b.addToken(s, prompt[i], i, i == prompt.length - 1);
            float[] logits = new float[m.vocabSize()];
            r.forward(b, kv, logits);
            int pos = prompt.length;
            int[] out = new int[32];
            for (int i = 0; i < 32; i++) {
                int tok = Ops.argmax(logits, 0, m.vocabSize());
                out[i] = tok;
                b.clear();
                s = b.addSequence(table, 0, pos);
                b.addToken(s, tok, pos++, true);
                r.forward(b, kv, logits);
            }
            System.out.println(Arrays.toString(out));
            System.out.println(ref.get("greedy_tokens"));
        }
        }
    }
}
