package dev.lockstep.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.*;

/** TTT-Linear and TTT-MLP (plain and with the Mamba-backbone options) against the float64 vectors of ../shared/fixtures/ttt. */
class TttLayerTest {

    static float[] t(JsonNode idx, ByteBuffer data, String name) { // null when absent
        for (JsonNode e : idx.get("tensors"))
            if (e.get("name").asText().equals(name)) {
                float[] out = new float[e.get("count").asInt()];
                for (int i = 0; i < out.length; i++) out[i] = data.getFloat(e.get("offset").asInt() + 4 * i);
                return out;
            }
        return null;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ttt_linear", "ttt_linear_m", "ttt_mlp", "ttt_mlp_m"})
    void matchesTheFloat64Reference(String name) throws IOException {
        JsonNode idx = Fixtures.json("ttt/" + name + ".json");
        ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(Fixtures.file("ttt/" + name + ".bin"))).order(ByteOrder.LITTLE_ENDIAN);
        JsonNode c = idx.get("config");
        boolean share = c.get("share_qk").asBoolean(), gate = c.get("use_gate").asBoolean();
        TttLayer l = new TttLayer(64, 4, 4, share, gate, (float) c.get("ttt_base_lr").asDouble(), 1e-6f, 10000.0,
                t(idx, data, "weight.q_proj.weight"), t(idx, data, "weight.k_proj.weight"), t(idx, data, "weight.v_proj.weight"),
                t(idx, data, "weight.o_proj.weight"), t(idx, data, "weight.g_proj.weight"),
                t(idx, data, "weight.conv_q.weight"), t(idx, data, "weight.conv_q.bias"),
                t(idx, data, "weight.conv_k.weight"), t(idx, data, "weight.conv_k.bias"),
                t(idx, data, "weight.learnable_token_idx"), t(idx, data, "weight.learnable_ttt_lr_weight"),
                t(idx, data, "weight.learnable_ttt_lr_bias"), t(idx, data, "weight.ttt_norm_weight"),
                t(idx, data, "weight.ttt_norm_bias"), t(idx, data, "weight.W1"), t(idx, data, "weight.b1"), t(idx, data, "weight.W2"), t(idx, data, "weight.b2"),
                t(idx, data, "weight.post_norm.weight"), t(idx, data, "weight.post_norm.bias"));
        float[] x = t(idx, data, "input.hidden_states"), want = t(idx, data, "output.step");
        float[] st = new float[l.stateSize()], y = new float[37 * 64];
        l.initState(st, 0);
        for (int tok = 0; tok < 37; tok++) l.step(x, tok * 64, tok, st, 0, y, tok * 64);
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(y[i] - want[i]));
        // after token 36 (position 4 of the third mini-batch): W0 and the accumulated gradient
        float[] w0 = t(idx, data, "state.W1_start"), g = t(idx, data, "state.W1_grad");
        double worstW = 0, worstG = 0;
        int np = l.params(), w1 = 16 * l.f;
        for (int h = 0; h < 4; h++)
            for (int i = 0; i < w1; i++) {
                worstW = Math.max(worstW, Math.abs(st[h * 2 * np + i] - w0[h * w1 + i]));
                worstG = Math.max(worstG, Math.abs(st[h * 2 * np + np + i] - g[h * w1 + i]));
            }
        System.out.printf("%s: worst |y| error %.2e, W0 %.2e, G %.2e%n", name, worst, worstW, worstG);
        assertTrue(worst < 1e-4, name + " output error " + worst);
        assertTrue(worstW < 1e-4 && worstG < 1e-4, name + " state error " + worstW + " / " + worstG);
    }
}
