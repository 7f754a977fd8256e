package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The softmax sum of the 256-bit family equals the scalar specification bit for bit, on any machine. */
class OpsTest {

    @Test
    void expShiftSumOfThe256BitFamilyIsTheCanonicalSum() {
        Random r = new Random(3);
        for (int n = 1; n <= 100; n += 3) {
            float[] x = new float[n + 2];
            for (int i = 0; i < x.length; i++) x[i] = (float) (4 * r.nextGaussian());
            float shift = 1.5f;
            float[] want = x.clone(), lanes = new float[Canonical.LANES];
            for (int i = 0; i < n; i++) {
                want[2 + i] = Exp.exp(x[2 + i] - shift);
                lanes[i & 15] += want[2 + i];
            }
            float[] got = x.clone();
            float sum = Ops.expShiftSum256(got, 2, n, shift);
            assertEquals(Float.floatToIntBits(Canonical.tree(lanes)), Float.floatToIntBits(sum), "n=" + n);
            for (int i = 0; i < x.length; i++) assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), "n=" + n + " i=" + i);
        }
    }
}
