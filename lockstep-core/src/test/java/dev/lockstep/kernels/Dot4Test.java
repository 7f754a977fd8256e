package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Four dots of a row in one pass give each the bits of {@link Dot#dot} (and of the scalar specification), tails included. */
class Dot4Test {
    @Test
    void eachOutputIsTheCanonicalDot() {
        Random r = new Random(11);
        for (int n : new int[]{1, 5, 15, 16, 17, 31, 48, 64, 100, 768, 1031}) {
            float[] a = new float[n + 3], b = new float[4 * n + 9];
            for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
            for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
            int[] offs = {1, n + 2, 2 * n + 5, 3 * n + 9};
            float[] out = new float[6];
            Dot.dot4(a, 3 % (a.length - n + 1), b, offs[0], offs[1], offs[2], offs[3], n, out, 2);
            for (int j = 0; j < 4; j++) {
                int ao = 3 % (a.length - n + 1);
                assertEquals(Float.floatToRawIntBits(Dot.dot(a, ao, b, offs[j], n)), Float.floatToRawIntBits(out[2 + j]), "n " + n + " output " + j);
                assertEquals(Float.floatToRawIntBits(Canonical.dotScalar(a, ao, b, offs[j], n)), Float.floatToRawIntBits(out[2 + j]), "scalar, n " + n);
            }
        }
    }
}
