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
        if (Canonical.SIMD) {
            Exp.siluTimes(gate, go, up, uo, n);
            return;
        }
        for (int i = 0; i < n; i++) gate[go + i] = Exp.silu(gate[go + i]) * up[uo + i];
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
     *
     * <p>The vector forms call the vector {@link Exp#exp} at one place only, and the last values of a
     * row that fill no vector take the scalar one (the same bits). C2 inlines one call of it, whose
     * vector code is large; a second call in the same loop was left a call ("NodeCountInliningCutoff"),
     * so its vectors were boxed and its operations ran the Vector API's Java fallback, an allocation per
     * 8 values (seen: 700 KB per decode step of the tiny Llama at position 2000, all of it here). For the
     * same reason the accumulators leave through {@code lanes} (16 floats of scratch) to
     * {@link Canonical#treeOf}: passed as vectors to {@code Canonical.tree}, a call C2 also left
     * uninlined here, they were boxed.
     */
    public static float expShiftSum(float[] x, int off, int n, float shift, float[] lanes) {
        if (Canonical.SIMD256) return expShiftSum256(x, off, n, shift, lanes);
        if (Canonical.SIMD512) return expShiftSum512(x, off, n, shift, lanes);
        java.util.Arrays.fill(lanes, 0, Canonical.LANES, 0f);
        for (int i = 0; i < n; i++) {
            float e = Exp.exp(x[off + i] - shift);
            x[off + i] = e;
            lanes[i & 15] += e;
        }
        return Canonical.treeScalarOf(lanes, 0);
    }

    /** {@link #expShiftSum} with 512-bit vectors: lane i % 16 is the vector's lane. */
    static float expShiftSum512(float[] x, int off, int n, float shift, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            FloatVector e = Exp.exp(FloatVector.fromArray(F512, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        if (i < n) {
            for (int j = i; j < n; j++) x[off + j] = Exp.exp(x[off + j] - shift);
            VectorMask<Float> m = F512.indexInRange(i, n);
            acc = acc.blend(acc.add(FloatVector.fromArray(F512, x, off + i, m)), m);
        }
        acc.intoArray(lanes, 0);
        return Canonical.treeOf(lanes, 0);
    }

    /**
     * {@link #expShiftSum} with the 16 lanes in two 256-bit registers (see {@link Canonical}): 8 values
     * at a time, into {@code next}, the half that the next 8 values belong to (lanes 0-7 after an even
     * number of them, 8-15 after an odd one); the two halves swap roles after each 8.
     */
    static float expShiftSum256(float[] x, int off, int n, float shift, float[] lanes) {
        FloatVector next = FloatVector.zero(F256), other = next;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            FloatVector e = Exp.exp(FloatVector.fromArray(F256, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            FloatVector sum = next.add(e);
            next = other;
            other = sum;
        }
        if (i < n) {
            for (int j = i; j < n; j++) x[off + j] = Exp.exp(x[off + j] - shift);
            VectorMask<Float> m = F256.indexInRange(i, n);
            next = next.blend(next.add(FloatVector.fromArray(F256, x, off + i, m)), m);
        }
        boolean even = (i / 8) % 2 == 0; // then next holds lanes 0-7
        next.intoArray(lanes, even ? 0 : 8);
        other.intoArray(lanes, even ? 8 : 0);
        return Canonical.treeOf(lanes, 0);
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
        float sum = expShiftSum(x, off, n, max(x, off, n), new float[Canonical.LANES]);
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
