package dev.lockstep.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;


import static org.junit.jupiter.api.Assertions.*;

/** TTT-Linear and TTT-MLP (plain and with the Mamba-backbone options) against the float64 vectors of ../shared/fixtures/ttt. */
class TttLayerTest {

    @ParameterizedTest
    @ValueSource(strings = {"ttt_linear", "ttt_linear_m", "ttt_mlp", "ttt_mlp_m"})
    void matchesTheFloat64Reference(String name) {
        String fx = "ttt/" + name;
        JsonNode c = Fixtures.json(fx + ".json").get("config");
        boolean share = c.get("share_qk").asBoolean(), gate = c.get("use_gate").asBoolean();
        TttLayer l = new TttLayer(64, 4, 4, share, gate, (float) c.get("ttt_base_lr").asDouble(), 1e-6f, 10000.0,
                Fixtures.floatsOrNull(fx, "weight.q_proj.weight"), Fixtures.floatsOrNull(fx, "weight.k_proj.weight"), Fixtures.floatsOrNull(fx, "weight.v_proj.weight"),
                Fixtures.floatsOrNull(fx, "weight.o_proj.weight"), Fixtures.floatsOrNull(fx, "weight.g_proj.weight"),
                Fixtures.floatsOrNull(fx, "weight.conv_q.weight"), Fixtures.floatsOrNull(fx, "weight.conv_q.bias"),
                Fixtures.floatsOrNull(fx, "weight.conv_k.weight"), Fixtures.floatsOrNull(fx, "weight.conv_k.bias"),
                Fixtures.floatsOrNull(fx, "weight.learnable_token_idx"), Fixtures.floatsOrNull(fx, "weight.learnable_ttt_lr_weight"),
                Fixtures.floatsOrNull(fx, "weight.learnable_ttt_lr_bias"), Fixtures.floatsOrNull(fx, "weight.ttt_norm_weight"),
                Fixtures.floatsOrNull(fx, "weight.ttt_norm_bias"), Fixtures.floatsOrNull(fx, "weight.W1"), Fixtures.floatsOrNull(fx, "weight.b1"), Fixtures.floatsOrNull(fx, "weight.W2"), Fixtures.floatsOrNull(fx, "weight.b2"),
                Fixtures.floatsOrNull(fx, "weight.post_norm.weight"), Fixtures.floatsOrNull(fx, "weight.post_norm.bias"));
        float[] x = Fixtures.floatsOrNull(fx, "input.hidden_states"), want = Fixtures.floatsOrNull(fx, "output.step");
        float[] st = new float[l.stateSize()], y = new float[37 * 64];
        l.initState(st, 0);
        for (int tok = 0; tok < 37; tok++) l.step(x, tok * 64, tok, st, 0, y, tok * 64);
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(y[i] - want[i]));
        // after token 36 (position 4 of the third mini-batch): W0 and the accumulated gradient
        float[] w0 = Fixtures.floatsOrNull(fx, "state.W1_start"), g = Fixtures.floatsOrNull(fx, "state.W1_grad");
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
