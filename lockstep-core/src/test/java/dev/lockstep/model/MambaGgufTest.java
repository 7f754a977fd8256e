package dev.lockstep.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import dev.lockstep.cache.KvCache;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.WorkerPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The one-block Mamba-1 and Mamba-2 GGUFs of ../shared/fixtures/mamba, loaded by the model loader and
 * run token ids 0..36 in three chunkings (one 37-token prefill; 20 then 17 single tokens; 37 single
 * tokens): every logit within 1e-5 of llama.cpp's, and the three chunkings bit-identical.
 */
class MambaGgufTest {

    private static float[] reference(String name) throws IOException {
        JsonNode idx = Fixtures.json("mamba/llamacpp_logits.json");
        ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(Fixtures.file("mamba/llamacpp_logits.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNode e : idx.get("tensors"))
            if (e.get("name").asText().equals(name)) {
                float[] out = new float[e.get("count").asInt()];
                for (int i = 0; i < out.length; i++) out[i] = data.getFloat(e.get("offset").asInt() + 4 * i);
                return out;
            }
        throw new AssertionError("no " + name + " in llamacpp_logits.json");
    }

    private static float[] lastState;

    private static float[] tensor(JsonNode idx, ByteBuffer data, String name) {
        for (JsonNode e : idx.get("tensors"))
            if (e.get("name").asText().equals(name)) {
                float[] out = new float[e.get("count").asInt()];
                for (int i = 0; i < out.length; i++) out[i] = data.getFloat(e.get("offset").asInt() + 4 * i);
                return out;
            }
        throw new AssertionError("no " + name);
    }

    /** Logits of every position, feeding the 37 tokens in chunks of the given sizes (final state in lastState). */
    private static float[] run(Model m, int[] chunks) {
        int vocab = m.vocabSize();
        float[] all = new float[37 * vocab];
        try (WorkerPool pool = new WorkerPool(2); KvCache kv = new KvCache(0, 0, 1, 16, 1)) {
            ModelRunner r = m.newRunner(pool, 37);
            ForwardBatch b = new ForwardBatch(37, 1);
            b.stateStore = new float[m.stateFloats()];
            m.initState(b.stateStore, 0);
            float[] logits = new float[37 * vocab];
            int pos = 0;
            for (int c : chunks) {
                b.clear();
                int s = b.addSequence(new int[1], 0, pos);
                for (int i = 0; i < c; i++) b.addToken(s, pos + i, pos + i, true);
                r.forward(b, kv, logits);
                System.arraycopy(logits, 0, all, pos * vocab, c * vocab);
                pos += c;
            }
            lastState = b.stateStore;
        }
        return all;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mamba1", "mamba2"})
    void matchesLlamaCppInEveryChunking(String arch) throws IOException {
        try (GgufFile f = GgufFile.open(Fixtures.file("mamba/" + arch + "_block.gguf"))) {
            Model m = ModelLoader.load(f);
            float[] one = run(m, new int[]{37});
            int[] twentyThenOnes = new int[18];
            Arrays.fill(twentyThenOnes, 1);
            twentyThenOnes[0] = 20;
            int[] ones = new int[37];
            Arrays.fill(ones, 1);
            assertArrayEquals(one, run(m, twentyThenOnes), "20 + 17x1 differs from one prefill");
            assertArrayEquals(one, run(m, ones), "token by token differs from one prefill");
            float[] want = reference(arch + ".first37");
            double worst = 0;
            for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(one[i] - want[i]));
            System.out.printf("%s block: worst |logit - llama.cpp| %.2e%n", arch, worst);
            assertTrue(worst < 1e-5, arch + ": " + worst);

            // final states against the float64 block reference: conv window (newest dConv-1 inputs), then the scan state
            JsonNode idx = Fixtures.json("mamba/" + arch + "_block.json");
            ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(Fixtures.file("mamba/" + arch + "_block.bin"))).order(ByteOrder.LITTLE_ENDIAN);
            float[] conv = tensor(idx, data, "state.conv"), ssm = tensor(idx, data, "state.ssm");
            int channels = conv.length / 4;
            double worstConv = 0, worstSsm = 0;
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < 3; i++) worstConv = Math.max(worstConv, Math.abs(lastState[c * 3 + i] - conv[c * 4 + 1 + i]));
            for (int i = 0; i < ssm.length; i++) worstSsm = Math.max(worstSsm, Math.abs(lastState[channels * 3 + i] - ssm[i]));
            System.out.printf("%s final state: conv %.2e, ssm %.2e%n", arch, worstConv, worstSsm);
            assertTrue(worstConv < 1e-5 && worstSsm < 1e-5, arch + " states " + worstConv + " / " + worstSsm);
        }
    }
}
