package dev.lockstep.model;

import dev.lockstep.Fixtures;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.*;

/** The Mamba-1 block against the float64 reference vectors of ../shared/fixtures/mamba. */
class MambaMixerTest {
    private static float[] t(String name) {
        return Fixtures.floats("mamba/mamba1_block", name);
    }

    private static MambaMixer mixer() {
        float[] aLog = t("weight.mixer.A_log");
        float[] a = new float[aLog.length];
        for (int i = 0; i < a.length; i++) a[i] = (float) -Math.exp(aLog[i]); // as llama.cpp's converter stores ssm_a
        return new MambaMixer(64, 128, 16, 4, 4, 1e-5f, t("weight.norm.weight"), t("weight.mixer.in_proj.weight"),
                t("weight.mixer.conv1d.weight"), t("weight.mixer.conv1d.bias"), t("weight.mixer.x_proj.weight"),
                t("weight.mixer.dt_proj.weight"), t("weight.mixer.dt_proj.bias"), a, t("weight.mixer.D"),
                t("weight.mixer.out_proj.weight"));
    }

    @Test
    void blockOutputsAndFinalStatesMatchTheFloat64Reference() {
        MambaMixer m = mixer();
        float[] x = t("input.hidden_states"), want = t("output.block"), wantSsm = t("state.ssm"), wantConv = t("state.conv");
        float[] conv = new float[m.convStateSize()], ssm = new float[m.ssmStateSize()];
        double worst = 0;
        for (int tok = 0; tok < 37; tok++) {
            m.step(x, tok * 64, conv, 0, ssm, 0);
            for (int i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(x[tok * 64 + i] - want[tok * 64 + i]));
        }
        double worstSsm = 0, worstConv = 0;
        for (int i = 0; i < ssm.length; i++) worstSsm = Math.max(worstSsm, Math.abs(ssm[i] - wantSsm[i]));
        for (int c = 0; c < 128; c++)
            for (int i = 0; i < 3; i++) // llama.cpp keeps the newest dConv-1 columns of the reference's 4
                worstConv = Math.max(worstConv, Math.abs(conv[c * 3 + i] - wantConv[c * 4 + 1 + i]));
        System.out.printf("mamba1 block: worst |out| error %.2e, ssm state %.2e, conv state %.2e%n", worst, worstSsm, worstConv);
        assertTrue(worst < 2e-5, "block output error " + worst);
        assertTrue(worstSsm < 2e-5, "ssm state error " + worstSsm);
        assertTrue(worstConv < 2e-6, "conv window error " + worstConv);
    }
}
