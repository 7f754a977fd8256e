package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp(x) in float32 from basic IEEE operations only, so that the scalar and the vector version, the
 * interpreter and C2, give the same bits ({@code Math.exp} may be an intrinsic whose last bit differs
 * between tiers; the Vector API's EXP uses a different library again).
 *
 * <p>Method: n = round(x / ln 2) with the 1.5·2^23 trick, r = x − n·ln2 (two-part ln 2, with fma),
 * e^r by a degree-6 polynomial (Cephes expf coefficients), times 2^n built from bits. Measured against
 * float64 in {@code ExpTest}: at most 2 ulp. Inputs below −87.3 give 0, above 88.7 +inf.
 */
public final class Exp {
    private Exp() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND_MAGIC = 12582912.0f; // 1.5 * 2^23
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    static final float MIN_X = -87.33654f, MAX_X = 88.72283f;

    public static float exp(float x) {
        if (x < MIN_X) return 0f;
        if (x > MAX_X) return Float.POSITIVE_INFINITY;
        if (x != x) return x;
        float t = x * LOG2E + ROUND_MAGIC;
        float n = t - ROUND_MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = P0;
        p = Math.fma(p, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float rr = r * r;
        float y = Math.fma(p, rr, r) + 1f;
        return scale(y, (int) n);
    }

    /** y * 2^n for the range exp produces (n in [-126, 128]); split so that 2^n never overflows. */
    private static float scale(float y, int n) {
        int n1 = n >> 1, n2 = n - n1;
        return y * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }

    /** Lane-wise {@link #exp(float)} on a vector of any width, bit-identical to the scalar version. */
    public static FloatVector exp(FloatVector x) {
        VectorSpecies<Float> sp = x.species();
        VectorMask<Float> under = x.compare(VectorOperators.LT, MIN_X);
        VectorMask<Float> over = x.compare(VectorOperators.GT, MAX_X);
        VectorMask<Float> nan = x.test(VectorOperators.IS_NAN);
        FloatVector t = x.mul(LOG2E).add(ROUND_MAGIC);
        FloatVector n = t.sub(ROUND_MAGIC);
        FloatVector r = n.fma(b(sp, -LN2_HI), x);
        r = n.fma(b(sp, -LN2_LO), r);
        FloatVector p = b(sp, P0);
        p = p.fma(r, b(sp, P1));
        p = p.fma(r, b(sp, P2));
        p = p.fma(r, b(sp, P3));
        p = p.fma(r, b(sp, P4));
        p = p.fma(r, b(sp, P5));
        FloatVector rr = r.mul(r);
        FloatVector y = p.fma(rr, r).add(1f);
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector res = y.mul(s1).mul(s2);
        res = res.blend(0f, under);
        res = res.blend(Float.POSITIVE_INFINITY, over);
        return res.blend(x, nan);
    }

    private static FloatVector b(VectorSpecies<Float> sp, float v) {
        return FloatVector.broadcast(sp, v);
    }

    /** x · sigmoid(x) = x / (1 + e^−x), the SiLU (swish) activation. */
    public static float silu(float x) {
        return x / (1f + exp(-x));
    }

    public static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /**
     * SwiGLU in place: {@code gate[i] = silu(gate[i]) * up[i]}, the same bits as {@link #silu(float)}
     * lane by lane. The loop calls no method of ours that takes or returns a vector: {@link #exp(FloatVector)}
     * is written out in it, on the constant species {@link Canonical#FV}. Called through {@code silu(FloatVector)}, C2 sometimes left {@code exp} or a
     * {@code blend} in it a call (inlining budget) and boxed the vectors, 0.4-0.8 MB per decode step of
     * the allocation test's model on an AVX-512 machine.
     */
    static void siluTimes(float[] gate, int go, float[] up, int uo, int n) {
        VectorSpecies<Float> sp = Canonical.FV; // a constant: C2 intrinsifies only vectors of a species it knows
        int i = 0;
        FloatVector minX = FloatVector.broadcast(sp, MIN_X), maxX = FloatVector.broadcast(sp, MAX_X);
        for (int step = sp.length(); i + step <= n; i += step) {
            FloatVector g = FloatVector.fromArray(sp, gate, go + i);
            FloatVector x = g.neg();
            VectorMask<Float> under = x.compare(VectorOperators.LT, minX);
            VectorMask<Float> over = x.compare(VectorOperators.GT, maxX);
            VectorMask<Float> nan = x.test(VectorOperators.IS_NAN);
            FloatVector n0 = x.mul(LOG2E).add(ROUND_MAGIC).sub(ROUND_MAGIC);
            FloatVector r = n0.fma(FloatVector.broadcast(sp, -LN2_HI), x);
            r = n0.fma(FloatVector.broadcast(sp, -LN2_LO), r);
            FloatVector p = FloatVector.broadcast(sp, P0);
            p = p.fma(r, FloatVector.broadcast(sp, P1));
            p = p.fma(r, FloatVector.broadcast(sp, P2));
            p = p.fma(r, FloatVector.broadcast(sp, P3));
            p = p.fma(r, FloatVector.broadcast(sp, P4));
            p = p.fma(r, FloatVector.broadcast(sp, P5));
            FloatVector y = p.fma(r.mul(r), r).add(1f);
            IntVector ni = (IntVector) n0.convert(VectorOperators.F2I, 0);
            IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
            IntVector n2 = ni.sub(n1);
            FloatVector e = y.mul(n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .mul(n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            e = e.blend(0f, under).blend(Float.POSITIVE_INFINITY, over).blend(x, nan);
            g.div(e.add(1f)).mul(FloatVector.fromArray(sp, up, uo + i)).intoArray(gate, go + i);
        }
        for (; i < n; i++) gate[go + i] = silu(gate[go + i]) * up[uo + i];
    }
}
