package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one reduction order every floating-point sum in Lockstep follows.
 *
 * <p><b>The canonical dot product</b> of two length-n vectors uses 64 accumulator lanes, whatever the
 * machine's vector width: element k is fused-multiply-added into lane {@code k % 64}, in increasing k
 * (a tail shorter than 64 touches only its own lanes), then the lanes are combined by a fixed halving
 * tree: {@code s[i] = a[i] + a[i+32]} (i &lt; 32), then {@code s[i] + s[i+16]}, ..., {@code s[0] + s[1]}.
 * The order depends on n only: never on batch size, thread count, JIT tier or the hardware's vector
 * width (a 512-bit machine keeps the 64 lanes in four registers, a scalar machine in an array; they all
 * do the same IEEE operations on the same values). 64 lanes rather than 16 give every row four
 * independent FMA chains, so one row alone keeps the FMA units busy.
 *
 * <p>Why not {@code reduceLanes(ADD)}: its order is unspecified (the interpreter and C2 differ).
 */
public final class Canonical {
    private Canonical() {}

    /** Logical accumulator lanes of every reduction. */
    public static final int LANES = 64;

    /** Whether the JVM gives us 512-bit float vectors; the fast kernels need exactly that width. */
    public static final boolean SIMD512 = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            && !Boolean.getBoolean("lockstep.scalar");

    static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;

    // Shuffles of the halving tree within one 16-lane register.
    private static final VectorShuffle<Float> HALF8 = VectorShuffle.fromOp(F512, i -> (i + 8) & 15);
    private static final VectorShuffle<Float> HALF4 = VectorShuffle.fromOp(F512, i -> (i + 4) & 15);
    private static final VectorShuffle<Float> HALF2 = VectorShuffle.fromOp(F512, i -> (i + 2) & 15);

    /** The halving tree of 64 lanes held in four registers (lanes 0-15, 16-31, 32-47, 48-63). */
    public static float tree(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        FloatVector s = a0.add(a2).add(a1.add(a3));
        s = s.add(s.rearrange(HALF8));
        s = s.add(s.rearrange(HALF4));
        s = s.add(s.rearrange(HALF2));
        return s.lane(0) + s.lane(1);
    }

    /**
     * The halving tree of 64 lanes stored at {@code lanes[off..off+64)} (same operations as
     * {@link #tree(FloatVector, FloatVector, FloatVector, FloatVector)}). Big kernels store their
     * accumulators and call this instead: a vector passed to a method that C2 does not inline is boxed.
     */
    public static float treeOf(float[] lanes, int off) {
        if (!SIMD512) {
            float[] a = java.util.Arrays.copyOfRange(lanes, off, off + LANES);
            return tree(a);
        }
        return tree(FloatVector.fromArray(F512, lanes, off), FloatVector.fromArray(F512, lanes, off + 16),
                FloatVector.fromArray(F512, lanes, off + 32), FloatVector.fromArray(F512, lanes, off + 48));
    }

    /** The halving tree of 64 scalar lanes (the scalar twin of the vector tree); destroys {@code a}. */
    public static float tree(float[] a) {
        for (int half = LANES / 2; half >= 1; half >>= 1)
            for (int i = 0; i < half; i++) a[i] = a[i] + a[i + half];
        return a[0];
    }

    /** Canonical dot product, scalar reference. */
    public static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float[] acc = new float[LANES];
        for (int k = 0; k < n; k++) acc[k & 63] = Math.fma(a[aOff + k], b[bOff + k], acc[k & 63]);
        return tree(acc);
    }

    /** Canonical plain sum: lane k % 64 accumulates by addition, then the tree. */
    public static float sumScalar(float[] x, int off, int n) {
        float[] acc = new float[LANES];
        for (int k = 0; k < n; k++) acc[k & 63] += x[off + k];
        return tree(acc);
    }
}
