package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RoPE against a float64 reference at positions up to 2^20: the rotated values of random heads,
 * compared with the rotation computed entirely in double (angles, cos/sin and products).
 */
class RopeTest {

    static double worstError(Rope.Layout layout, double base, int headDim, long maxPos, float[] freqFactors) {
        Rope rope = new Rope(headDim, base, freqFactors, layout, 1.0);
        Random r = new Random(11);
        int half = headDim / 2;
        double worst = 0;
        int[] positions = new int[1];
        float[] cos = new float[half], sin = new float[half];
        for (long pos = 0; pos <= maxPos; pos = pos < 64 ? pos + 1 : pos * 2 + r.nextInt(7)) {
            positions[0] = (int) Math.min(pos, maxPos);
            rope.fillTables(positions, 1, cos, sin);
            float[] x = new float[headDim];
            for (int i = 0; i < headDim; i++) x[i] = (float) r.nextGaussian();
            float[] y = x.clone();
            rope.apply(y, 0, 1, headDim, cos, sin, 0);
            for (int i = 0; i < half; i++) {
                int i0 = layout == Rope.Layout.NORMAL ? 2 * i : i, i1 = layout == Rope.Layout.NORMAL ? 2 * i + 1 : i + half;
                double theta = Math.pow(base, -2.0 * i / headDim) / (freqFactors == null ? 1 : freqFactors[i]);
                double a = positions[0] * theta;
                double e0 = x[i0] * Math.cos(a) - x[i1] * Math.sin(a);
                double e1 = x[i0] * Math.sin(a) + x[i1] * Math.cos(a);
                worst = Math.max(worst, Math.max(Math.abs(y[i0] - e0), Math.abs(y[i1] - e1)));
            }
            if (positions[0] == maxPos) break;
        }
        return worst;
    }

    @Test
    void rotatedValuesStayWithinFloatRoundingUpToAMillionPositions() {
        double normal = worstError(Rope.Layout.NORMAL, 10000, 128, 1 << 20, null);
        double neox = worstError(Rope.Layout.NEOX, 1_000_000, 128, 1 << 20, null);
        float[] ff = new float[32];
        for (int i = 0; i < ff.length; i++) ff[i] = i < 10 ? 1 : i < 20 ? 4 : 8; // llama-3-style frequency factors
        double scaled = worstError(Rope.Layout.NORMAL, 500000, 64, 1 << 20, ff);
        System.out.printf("RoPE worst abs error vs float64 (|x| ~ N(0,1)), positions 0..2^20: normal %.3g, neox %.3g, "
                + "llama3-scaled %.3g%n", normal, neox, scaled);
        // float32 cos/sin and products: a few ulp of values of magnitude ~4
        for (double w : new double[]{normal, neox, scaled}) assertTrue(w < 2e-6, "worst error " + w);
    }

    @Test
    void float32AnglesWouldNotBeGoodEnough() {
        // the reason angles are computed in double: the same rotation with a float32 angle at 2^20
        double theta = Math.pow(10000, -2.0 * 1 / 128);
        float angle32 = (float) ((1 << 20) * (float) theta);
        double angle64 = (1 << 20) * theta;
        assertTrue(Math.abs(Math.cos(angle32) - Math.cos(angle64)) > 1e-3, "float32 angle error is large at 2^20");
    }
}
