package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one reduction order every floating-point sum in Lockstep follows.
 *
 * <p><b>The canonical dot product</b> of two length-n vectors uses 16 accumulator lanes, whatever the
 * machine's vector width: element k is fused-multiply-added into lane {@code k % 16}, in increasing k
 * (a tail shorter than 16 touches only its own lanes), then the lanes are combined by a fixed halving
 * tree: {@code s[i] = a[i] + a[i+8]} (i &lt; 8), then {@code s[i] + s[i+4]}, {@code s[i] + s[i+2]},
 * {@code s[0] + s[1]}. The order depends on n only: never on batch size, thread count, JIT tier or the
 * hardware's vector width (a 512-bit machine keeps the 16 lanes in one register, a scalar machine in an
 * array; they all do the same IEEE operations on the same values).
 *
 * <p>Why 16 lanes and not more: one register per output leaves room for 4 x 4 register tiles in the
 * batched matrix product (half a load per FMA); a 64-lane order needs four registers per output and
 * measured half as fast there. Decoding gets its independent FMA chains from two rows at a time
 * ({@link Dot#rows2}), batched decoding from two rows times eight tokens ({@link DequantGemm}).
 *
 * <p>Why not {@code reduceLanes(ADD)}: its order is unspecified (the interpreter and C2 differ).
 */
public final class Canonical {
    private Canonical() {}

    /** Logical accumulator lanes of every reduction. */
    public static final int LANES = 16;

    /** Whether the JVM gives us 512-bit float vectors; the fast kernels need exactly that width. */
    public static final boolean SIMD512 = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            && !Boolean.getBoolean("lockstep.scalar");

    static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;

    // Shuffles of the halving tree on one 16-lane register.
    private static final VectorShuffle<Float> HALF8 = VectorShuffle.fromOp(F512, i -> (i + 8) & 15);
    private static final VectorShuffle<Float> HALF4 = VectorShuffle.fromOp(F512, i -> (i + 4) & 15);
    private static final VectorShuffle<Float> HALF2 = VectorShuffle.fromOp(F512, i -> (i + 2) & 15);

    /** The halving tree of a 16-lane accumulator held in one 512-bit register. */
    public static float tree(FloatVector acc) {
        FloatVector s = acc.add(acc.rearrange(HALF8));
        s = s.add(s.rearrange(HALF4));
        s = s.add(s.rearrange(HALF2));
        return s.lane(0) + s.lane(1);
    }

    /**
     * The halving tree of 16 lanes stored at {@code lanes[off..off+16)}. Big kernels store their
     * accumulators and call this: a vector passed to a method that C2 does not inline is boxed.
     */
    public static float treeOf(float[] lanes, int off) {
        if (!SIMD512) return tree(java.util.Arrays.copyOfRange(lanes, off, off + LANES));
        return tree(FloatVector.fromArray(F512, lanes, off));
    }

    /** The halving tree of 16 scalar lanes (the scalar twin of {@link #tree(FloatVector)}). */
    public static float tree(float[] a) {
        float s0 = a[0] + a[8], s1 = a[1] + a[9], s2 = a[2] + a[10], s3 = a[3] + a[11];
        float s4 = a[4] + a[12], s5 = a[5] + a[13], s6 = a[6] + a[14], s7 = a[7] + a[15];
        s0 = s0 + s4;
        s1 = s1 + s5;
        s2 = s2 + s6;
        s3 = s3 + s7;
        s0 = s0 + s2;
        s1 = s1 + s3;
        return s0 + s1;
    }

    /** Canonical dot product, scalar reference. */
    public static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float[] acc = new float[LANES];
        for (int k = 0; k < n; k++) acc[k & 15] = Math.fma(a[aOff + k], b[bOff + k], acc[k & 15]);
        return tree(acc);
    }

    /** Canonical plain sum: lane k % 16 accumulates by addition, then the tree. */
    public static float sumScalar(float[] x, int off, int n) {
        float[] acc = new float[LANES];
        for (int k = 0; k < n; k++) acc[k & 15] += x[off + k];
        return tree(acc);
    }
}
