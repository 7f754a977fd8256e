package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scan steps: each state element advances by exactly the scalar fma (bit for bit, whatever path
 * this JVM runs), the read-out is the canonical dot of the new state, and both are close to float64.
 */
class ScanTest {
    /** Four rows of a head at once: the states and read-outs of four single-row steps, bit for bit. */
    @Test
    void fourRowsAtOnceAreFourRowsOneByOne() {
        Random r = new Random(3);
        for (int n : new int[]{16, 24, 64, 128}) {
            float[] st = new float[4 * n + 2], b = new float[n + 1], c = new float[n + 1], dx = new float[6];
            for (int i = 0; i < st.length; i++) st[i] = (float) r.nextGaussian();
            for (int i = 0; i < n + 1; i++) { b[i] = (float) r.nextGaussian(); c[i] = (float) r.nextGaussian(); }
            for (int i = 0; i < dx.length; i++) dx[i] = (float) r.nextGaussian();
            float[] one = st.clone(), four = st.clone(), want = new float[4], got = new float[5];
            for (int j = 0; j < 4; j++) want[j] = Scan.ssd(one, 1 + j * n, 0.93f, dx[2 + j], b, 1, c, 0, n);
            Scan.ssd4(four, 1, 0.93f, dx, 2, b, 1, c, 0, n, got, 1);
            for (int i = 0; i < st.length; i++) assertEquals(Float.floatToRawIntBits(one[i]), Float.floatToRawIntBits(four[i]), "state " + i);
            for (int j = 0; j < 4; j++) assertEquals(Float.floatToRawIntBits(want[j]), Float.floatToRawIntBits(got[1 + j]), "row " + j + ", n " + n);
        }
    }

    @Test
    void statesAdvanceElementByElementAndTheReadOutIsTheCanonicalDot() {
        Random r = new Random(7);
        for (int n : new int[]{1, 7, 16, 31, 64, 128, 130}) {
            float[] st = new float[n + 5], b = new float[n + 3], c = new float[n + 2], a = new float[n + 4];
            for (int i = 0; i < st.length; i++) st[i] = (float) r.nextGaussian();
            for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
            for (int i = 0; i < c.length; i++) c[i] = (float) r.nextGaussian();
            for (int i = 0; i < a.length; i++) a[i] = -1 - 15 * r.nextFloat();
            float decay = 0.9f, dx = 0.37f, dt = 0.05f, dtu = -0.2f;

            float[] s1 = st.clone(), want = st.clone();
            for (int i = 0; i < n; i++) want[2 + i] = Math.fma(decay, st[2 + i], dx * b[1 + i]);
            float y = Scan.ssd(s1, 2, decay, dx, b, 1, c, 2, n);
            for (int i = 0; i < s1.length; i++) assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(s1[i]), "ssd state " + i);
            assertEquals(Float.floatToRawIntBits(Canonical.dotScalar(want, 2, c, 2, n)), Float.floatToRawIntBits(y), "ssd read-out, n " + n);
            double ref = 0;
            for (int i = 0; i < n; i++) ref += ((double) decay * st[2 + i] + (double) dx * b[1 + i]) * c[2 + i];
            assertTrue(Math.abs(ref - y) <= 1e-5 * (1 + Math.abs(ref)) * n, "ssd vs float64: " + y + " " + ref);

            float[] s2 = st.clone(), want2 = st.clone();
            for (int i = 0; i < n; i++) want2[1 + i] = Math.fma(Exp.exp(dt * a[3 + i]), st[1 + i], dtu * b[i]);
            float y2 = Scan.selective(s2, 1, dt, a, 3, dtu, b, 0, c, 1, n);
            for (int i = 0; i < s2.length; i++) assertEquals(Float.floatToRawIntBits(want2[i]), Float.floatToRawIntBits(s2[i]), "selective state " + i);
            assertEquals(Float.floatToRawIntBits(Canonical.dotScalar(want2, 1, c, 1, n)), Float.floatToRawIntBits(y2), "selective read-out, n " + n);
        }
    }
}
