package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The softmax sum of both vector families equals the scalar specification bit for bit, on any machine
 * (the family wider than the hardware runs as the Vector API's Java fallback).
 */
class OpsTest {

    interface ExpShiftSum {
        float apply(float[] x, int off, int n, float shift, float[] lanes);
    }

    @Test
    void expShiftSumOfThe256BitFamilyIsTheCanonicalSum() {
        check(Ops::expShiftSum256);
    }

    @Test
    void expShiftSumOfThe512BitFamilyIsTheCanonicalSum() {
        check(Ops::expShiftSum512);
    }

    /** Every length 1-100 and some long rows (an odd and an even count of 8-value pieces, any tail). */
    private static void check(ExpShiftSum kernel) {
        Random r = new Random(3);
        int[] lengths = java.util.stream.IntStream.concat(java.util.stream.IntStream.rangeClosed(1, 100),
                java.util.stream.IntStream.of(1000, 1003, 1008, 1016, 2047)).toArray();
        for (int n : lengths) {
            float[] x = new float[n + 2];
            for (int i = 0; i < x.length; i++) x[i] = (float) (4 * r.nextGaussian());
            float shift = 1.5f;
            float[] want = x.clone(), lanes = new float[Canonical.LANES];
            for (int i = 0; i < n; i++) {
                want[2 + i] = Exp.exp(x[2 + i] - shift);
                lanes[i & 15] += want[2 + i];
            }
            float[] got = x.clone();
            float sum = kernel.apply(got, 2, n, shift, new float[Canonical.LANES]);
            assertEquals(Float.floatToIntBits(Canonical.tree(lanes)), Float.floatToIntBits(sum), "n=" + n);
            for (int i = 0; i < x.length; i++) assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), "n=" + n + " i=" + i);
        }
    }
}
