package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Lockstep's own exp, measured against float64, and its vector form against its scalar form. */
class ExpTest {

    private static double ulps(float got, double exact) {
        float e = (float) exact;
        return Math.abs(got - exact) / Math.ulp(e);
    }

    @Test
    void accurateToTwoUlpOverTheSoftmaxRange() {
        double worst = 0;
        float worstAt = 0;
        // about 2 million inputs spread over the range
        for (float x = -87f; x < 88f; x = Math.nextUp(x + 0.0000833f)) {
            double u = ulps(Exp.exp(x), StrictMath.exp(x));
            if (u > worst) {
                worst = u;
                worstAt = x;
            }
        }
        System.out.printf("Exp.exp worst error vs float64 on [-87, 88]: %.2f ulp at x = %s%n", worst, worstAt);
        assertTrue(worst <= 2.0, "worst " + worst + " ulp at " + worstAt);
        assertEquals(1f, Exp.exp(0f));
        assertEquals(0f, Exp.exp(-1000f));
        assertEquals(Float.POSITIVE_INFINITY, Exp.exp(1000f));
        assertTrue(Float.isNaN(Exp.exp(Float.NaN)));
    }

    @Test
    void vectorAndScalarGiveTheSameBits() {
        float[] x = new float[16], out = new float[16];
        java.util.Random r = new java.util.Random(3);
        for (int rep = 0; rep < 20000; rep++) {
            for (int i = 0; i < 16; i++) x[i] = (float) (r.nextGaussian() * 30);
            if (rep == 0) x = new float[]{-1000, 1000, Float.NaN, 0, -0f, -87.4f, 88.8f, 1e-30f, -1e-30f, 20, -20, 3, -3, 0.5f, -0.5f, 88.7f};
            Exp.exp(FloatVector.fromArray(FloatVector.SPECIES_512, x, 0)).intoArray(out, 0);
            for (int i = 0; i < 16; i++)
                assertEquals(Float.floatToIntBits(Exp.exp(x[i])), Float.floatToIntBits(out[i]), "x = " + x[i]);
            Exp.silu(FloatVector.fromArray(FloatVector.SPECIES_512, x, 0)).intoArray(out, 0);
            for (int i = 0; i < 16; i++)
                assertEquals(Float.floatToIntBits(Exp.silu(x[i])), Float.floatToIntBits(out[i]), "silu x = " + x[i]);
        }
    }
}
