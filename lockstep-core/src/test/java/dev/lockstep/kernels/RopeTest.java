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

    /**
     * The hand reduction of {@link Rope#cosSin} against StrictMath on the whole argument: the angles of
     * every pair of a 128-wide head (bases 1e4 and 5e5) at positions up to 2^21, some negative angles,
     * multiples of pi/2 and values past the reduced range. At most one float ulp apart, and rarely.
     */
    @Test
    void handReducedCosineAndSineMatchStrictMath() {
        Random r = new Random(5);
        float[] c = new float[1], s = new float[1];
        int compared = 0, differing = 0;
        java.util.List<Double> angles = new java.util.ArrayList<>();
        for (double base : new double[]{10000, 500000})
            for (int i = 0; i < 64; i++)
                for (long pos = 0; pos <= 1 << 21; pos = pos < 100 ? pos + 1 : pos + 1 + r.nextInt((int) (pos / 10))) {
                    angles.add(pos * Math.pow(base, -2.0 * i / 128));
                }
        for (int k = -10; k <= 10; k++) angles.add(k * Math.PI / 2);
        for (int k = 0; k < 1000; k++) angles.add(-3e6 * r.nextDouble());
        angles.add(2e6 * Math.PI);
        angles.add(1e300);
        angles.add(Double.NaN);
        for (double a : angles) {
            Rope.cosSin(a, c, s, 0);
            float wc = (float) StrictMath.cos(a), ws = (float) StrictMath.sin(a);
            if (Double.isNaN(a)) {
                assertTrue(Float.isNaN(c[0]) && Float.isNaN(s[0]), "NaN angle");
                continue;
            }
            int dc = Math.abs(Float.floatToIntBits(c[0]) - Float.floatToIntBits(wc)), ds = Math.abs(Float.floatToIntBits(s[0]) - Float.floatToIntBits(ws));
            boolean near = (dc <= 1 && Math.signum(c[0]) == Math.signum(wc) || Math.abs(c[0] - wc) < 1e-30)
                    && (ds <= 1 && Math.signum(s[0]) == Math.signum(ws) || Math.abs(s[0] - ws) < 1e-30);
            assertTrue(near, "angle " + a + ": cos " + c[0] + " vs " + wc + ", sin " + s[0] + " vs " + ws);
            compared++;
            if (dc != 0 || ds != 0) differing++;
        }
        System.out.printf("RoPE cos/sin, hand reduction vs StrictMath: %d of %d angles differ (by one float ulp)%n", differing, compared);
        assertTrue(differing * 1000L < compared, differing + " of " + compared + " differ");
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
