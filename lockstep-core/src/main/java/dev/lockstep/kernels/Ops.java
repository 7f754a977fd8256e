package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import static dev.lockstep.kernels.Canonical.F256;
import static dev.lockstep.kernels.Canonical.F512;
import static dev.lockstep.kernels.Canonical.FV;

/**
 * Row-wise and element-wise operations of a transformer layer. Each row is computed on its own, with
 * its only reduction (RMSNorm's sum of squares) in the canonical order, so these are batch-invariant.
 * Element-wise loops have no reductions: their vector and scalar forms are trivially identical.
 */
public final class Ops {
    private Ops() {}

    /**
     * RMSNorm of {@code x[xo..xo+n)} into {@code out[oo..)}: {@code (x * s) * w} with
     * {@code s = 1 / sqrt(sum(x^2)/n + eps)}, sum in the canonical order (the same order as llama.cpp's
     * operations, not its summation order).
     */
    public static void rmsNorm(float[] out, int oo, float[] x, int xo, float[] w, int n, float eps) {
        float ss = Dot.dot(x, xo, x, xo, n);
        float scale = 1f / (float) Math.sqrt(ss / n + eps);
        int i = 0;
        if (Canonical.SIMD)
            for (int step = FV.length(); i + step <= n; i += step)
                FloatVector.fromArray(FV, x, xo + i).mul(scale).mul(FloatVector.fromArray(FV, w, i)).intoArray(out, oo + i);
        for (; i < n; i++) out[oo + i] = x[xo + i] * scale * w[i];
    }

    /** {@code y[yo..yo+n) += x[xo..xo+n)}. */
    public static void addInPlace(float[] y, int yo, float[] x, int xo, int n) {
        int i = 0;
        if (Canonical.SIMD)
            for (int step = FV.length(); i + step <= n; i += step)
                FloatVector.fromArray(FV, y, yo + i).add(FloatVector.fromArray(FV, x, xo + i)).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] += x[xo + i];
    }

    /** SwiGLU: {@code gate[i] = silu(gate[i]) * up[i]}. */
    public static void swiglu(float[] gate, int go, float[] up, int uo, int n) {
        int i = 0;
        if (Canonical.SIMD)
            for (int step = FV.length(); i + step <= n; i += step) {
                FloatVector g = FloatVector.fromArray(FV, gate, go + i);
                Exp.silu(g).mul(FloatVector.fromArray(FV, up, uo + i)).intoArray(gate, go + i);
            }
        for (; i < n; i++) gate[go + i] = Exp.silu(gate[go + i]) * up[uo + i];
    }

    /** The largest of {@code x[off..off+n)} (order-independent). */
    public static float max(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        return m;
    }

    /**
     * Replaces {@code x[off..off+n)} by {@code exp(x - shift)} and returns their sum in the canonical
     * order (lane i % 16, then the halving tree). The heart of every softmax.
     */
    public static float expShiftSum(float[] x, int off, int n, float shift) {
        if (Canonical.SIMD256) return expShiftSum256(x, off, n, shift);
        if (!Canonical.SIMD512) {
            float[] acc = new float[Canonical.LANES];
            for (int i = 0; i < n; i++) {
                float e = Exp.exp(x[off + i] - shift);
                x[off + i] = e;
                acc[i & 15] += e;
            }
            return Canonical.tree(acc);
        }
        FloatVector acc = FloatVector.zero(F512);
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            FloatVector e = Exp.exp(FloatVector.fromArray(F512, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        if (i < n) {
            VectorMask<Float> m = F512.indexInRange(i, n);
            FloatVector e = Exp.exp(FloatVector.fromArray(F512, x, off + i, m).sub(shift));
            e.intoArray(x, off + i, m);
            acc = acc.blend(acc.add(e), m);
        }
        return Canonical.tree(acc);
    }

    /** {@link #expShiftSum} with the 16 lanes in two 256-bit registers (see {@link Canonical}). */
    static float expShiftSum256(float[] x, int off, int n, float shift) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            FloatVector e = Exp.exp(FloatVector.fromArray(F256, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            lo = lo.add(e);
            e = Exp.exp(FloatVector.fromArray(F256, x, off + i + 8).sub(shift));
            e.intoArray(x, off + i + 8);
            hi = hi.add(e);
        }
        if (i < n) {
            VectorMask<Float> ml = F256.indexInRange(i, n), mh = F256.indexInRange(i + 8, n);
            FloatVector e = Exp.exp(FloatVector.fromArray(F256, x, off + i, ml).sub(shift));
            e.intoArray(x, off + i, ml);
            lo = lo.blend(lo.add(e), ml);
            e = Exp.exp(FloatVector.fromArray(F256, x, off + i + 8, mh).sub(shift));
            e.intoArray(x, off + i + 8, mh);
            hi = hi.blend(hi.add(e), mh);
        }
        return Canonical.tree(lo, hi);
    }

    /** {@code x[off..off+n) *= s}. */
    public static void scale(float[] x, int off, int n, float s) {
        int i = 0;
        if (Canonical.SIMD)
            for (int step = FV.length(); i + step <= n; i += step) FloatVector.fromArray(FV, x, off + i).mul(s).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= s;
    }

    /** In-place softmax of {@code x[off..off+n)}: exp(x - max) * (1 / canonical sum). */
    public static void softmax(float[] x, int off, int n) {
        float sum = expShiftSum(x, off, n, max(x, off, n));
        scale(x, off, n, 1f / sum);
    }

    /** Index of the largest value (ties: lowest index), as llama.cpp's greedy sampler. */
    public static int argmax(float[] x, int off, int n) {
        int best = 0;
        float bv = x[off];
        for (int i = 1; i < n; i++) {
            if (x[off + i] > bv) {
                bv = x[off + i];
                best = i;
            }
        }
        return best;
    }
}
