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
 * array, a 256-bit machine in two registers; they all do the same IEEE operations on the same values).
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

    private static final boolean FORCED_SCALAR = Boolean.getBoolean("lockstep.scalar");
    private static final int PREFERRED_BITS = FloatVector.SPECIES_PREFERRED.vectorBitSize();

    /** Whether the JVM gives us 512-bit float vectors: the 16 canonical lanes fit one register. */
    public static final boolean SIMD512 = PREFERRED_BITS >= 512 && !FORCED_SCALAR;

    /**
     * Whether the JVM gives us 256-bit float vectors and no wider (AVX2): the 16 canonical lanes are
     * held in two registers, lanes 0-7 ("lo") and 8-15 ("hi"); see {@link #tree(FloatVector, FloatVector)}.
     */
    public static final boolean SIMD256 = PREFERRED_BITS == 256 && !FORCED_SCALAR;

    /** Whether some vector path runs; otherwise the scalar twins do. */
    public static final boolean SIMD = SIMD512 || SIMD256;

    /** The kernel family this JVM runs: "simd512", "simd256" or "scalar" (same bits in each). */
    public static final String PATH = SIMD512 ? "simd512" : SIMD256 ? "simd256" : "scalar";

    static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;
    static final VectorSpecies<Float> F256 = FloatVector.SPECIES_256;

    /**
     * The species of element-wise loops (no reduction, so any width gives the same bits): the widest
     * the hardware runs natively.
     */
    static final VectorSpecies<Float> FV = SIMD512 ? F512 : F256;

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

    private static final VectorShuffle<Float> QUARTER4 = VectorShuffle.fromOp(F256, i -> (i + 4) & 7);
    private static final VectorShuffle<Float> QUARTER2 = VectorShuffle.fromOp(F256, i -> (i + 2) & 7);

    /**
     * The same halving tree when the 16 lanes are held as two 8-lane registers, {@code lo} = lanes 0-7
     * and {@code hi} = lanes 8-15: the tree's first level, {@code a[i] + a[i+8]}, is {@code lo + hi},
     * the rest is the tree of one 8-lane register. Same operations on the same values as
     * {@link #tree(FloatVector)}, so the same bits.
     */
    public static float tree(FloatVector lo, FloatVector hi) {
        FloatVector s = lo.add(hi);
        s = s.add(s.rearrange(QUARTER4));
        s = s.add(s.rearrange(QUARTER2));
        return s.lane(0) + s.lane(1);
    }

    /**
     * The halving tree of 16 lanes stored at {@code lanes[off..off+16)}. Big kernels store their
     * accumulators and call this: a vector passed to a method that C2 does not inline is boxed. For the
     * same reason this method calls none that takes a vector: it is written out (the operations of
     * {@link #tree(FloatVector)} and {@link #tree(FloatVector, FloatVector)}). When C2 inlined it
     * into a row kernel but had no budget left for a call of {@code tree} inside it
     * ("NodeCountInliningCutoff"), the two halves were boxed: 64 bytes per matrix row, 32 MB per decode
     * step of a 1B model.
     */
    public static float treeOf(float[] lanes, int off) {
        FloatVector s;
        if (SIMD512) {
            s = FloatVector.fromArray(F512, lanes, off);
            s = s.add(s.rearrange(HALF8));
            s = s.add(s.rearrange(HALF4));
            s = s.add(s.rearrange(HALF2));
        } else if (SIMD256) {
            s = FloatVector.fromArray(F256, lanes, off).add(FloatVector.fromArray(F256, lanes, off + 8));
            s = s.add(s.rearrange(QUARTER4));
            s = s.add(s.rearrange(QUARTER2));
        } else {
            return treeScalarOf(lanes, off);
        }
        return s.lane(0) + s.lane(1);
    }

    /** {@link #tree(float[])} of {@code lanes[off..off+16)}, allocating nothing. */
    static float treeScalarOf(float[] a, int o) {
        float s0 = a[o] + a[o + 8], s1 = a[o + 1] + a[o + 9], s2 = a[o + 2] + a[o + 10], s3 = a[o + 3] + a[o + 11];
        float s4 = a[o + 4] + a[o + 12], s5 = a[o + 5] + a[o + 13], s6 = a[o + 6] + a[o + 14], s7 = a[o + 7] + a[o + 15];
        s0 = s0 + s4;
        s1 = s1 + s5;
        s2 = s2 + s6;
        s3 = s3 + s7;
        s0 = s0 + s2;
        s1 = s1 + s3;
        return s0 + s1;
    }

    /** The halving tree of 16 scalar lanes (the scalar twin of {@link #tree(FloatVector)}). */
    public static float tree(float[] a) {
        return treeScalarOf(a, 0);
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
