package dev.lockstep.model;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The one-block Mamba-1 and Mamba-2 GGUFs of ../shared/fixtures/mamba, loaded by the model loader and
 * run token ids 0..36 in three chunkings (one 37-token prefill; 20 then 17 single tokens; 37 single
 * tokens): every logit within 1e-5 of llama.cpp's, and the three chunkings bit-identical.
 */
class MambaGgufTest {

    @ParameterizedTest
    @ValueSource(strings = {"mamba1", "mamba2"})
    void matchesLlamaCppInEveryChunking(String arch) {
        try (GgufFile f = GgufFile.open(Fixtures.file("mamba/" + arch + "_block.gguf"))) {
            Model m = ModelLoader.load(f);
            float[] one = ChunkedRun.of(m, 37).logits();
            int[] twentyThenOnes = new int[18];
            Arrays.fill(twentyThenOnes, 1);
            twentyThenOnes[0] = 20;
            int[] ones = new int[37];
            Arrays.fill(ones, 1);
            assertArrayEquals(one, ChunkedRun.of(m, twentyThenOnes).logits(), "20 + 17x1 differs from one prefill");
            ChunkedRun stepwise = ChunkedRun.of(m, ones);
            assertArrayEquals(one, stepwise.logits(), "token by token differs from one prefill");
            float[] lastState = stepwise.state();
            float[] want = Fixtures.floats("mamba/llamacpp_logits", arch + ".first37");
            double worst = 0;
            for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(one[i] - want[i]));
            System.out.printf("%s block: worst |logit - llama.cpp| %.2e%n", arch, worst);
            assertTrue(worst < 1e-5, arch + ": " + worst);

            // final states against the float64 block reference: conv window (newest dConv-1 inputs), then the scan state
            float[] conv = Fixtures.floats("mamba/" + arch + "_block", "state.conv");
            float[] ssm = Fixtures.floats("mamba/" + arch + "_block", "state.ssm");
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
