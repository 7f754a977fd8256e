package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.lockstep.kernels.Canonical.F256;

/**
 * The row kernels of {@link Dot} for 256-bit vectors (AVX2): the 16 canonical lanes live in two
 * registers, {@code lo} (lanes 0-7) and {@code hi} (lanes 8-15), so element k goes to {@code lo} when
 * {@code k % 16 < 8} and to {@code hi} otherwise, and {@link Canonical#tree(FloatVector, FloatVector)}
 * finishes. Same values, same lanes, same order as the 512-bit kernels and the scalar specification:
 * the same bits (tested on every machine, whatever its native width).
 *
 * <p>A 32-value block (Q8_0, Q4_0) is four 8-value quarters: lo, hi, lo, hi. Kernels are written out
 * in full for the reason given in {@link Dot}: a vector that crosses a call C2 does not inline is boxed.
 * Even four-line helpers were not always inlined here (C2 reported "callee uses too much stack" and
 * "NodeCountInliningCutoff"); with them, a Q8_0 row measured 1.0-1.5 us instead of 0.22. (The F16
 * kernels still use {@link #half8}; F16 was not among the measured weight types.)
 */
final class Dot256 {
    private Dot256() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Short> S128 = ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I256 = IntVector.SPECIES_256;
    private static final float TWO_POW_112 = 0x1p112f;

    // ------------------------------------------------------------------ float . float

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        int k = 0;
        for (; k + 16 <= n; k += 16) {
            lo = FloatVector.fromArray(F256, a, ao + k).fma(FloatVector.fromArray(F256, b, bo + k), lo);
            hi = FloatVector.fromArray(F256, a, ao + k + 8).fma(FloatVector.fromArray(F256, b, bo + k + 8), hi);
        }
        if (k < n) { // the tail touches only its own lanes
            VectorMask<Float> ml = F256.indexInRange(k, n), mh = F256.indexInRange(k + 8, n);
            lo = lo.blend(FloatVector.fromArray(F256, a, ao + k, ml).fma(FloatVector.fromArray(F256, b, bo + k, ml), lo), ml);
            hi = hi.blend(FloatVector.fromArray(F256, a, ao + k + 8, mh).fma(FloatVector.fromArray(F256, b, bo + k + 8, mh), hi), mh);
        }
        return Canonical.tree(lo, hi);
    }

    /** {@link Dot#dot4} on 256-bit vectors: each output's lanes 0-7 and 8-15 as {@link #dot} keeps them. */
    static void dot4(float[] a, int ao, float[] b, int b0, int b1, int b2, int b3, int n, float[] out, int o) {
        FloatVector l0 = FloatVector.zero(F256), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
        int k = 0;
        for (; k + 16 <= n; k += 16) {
            FloatVector wl = FloatVector.fromArray(F256, a, ao + k), wh = FloatVector.fromArray(F256, a, ao + k + 8);
            l0 = wl.fma(FloatVector.fromArray(F256, b, b0 + k), l0);
            h0 = wh.fma(FloatVector.fromArray(F256, b, b0 + k + 8), h0);
            l1 = wl.fma(FloatVector.fromArray(F256, b, b1 + k), l1);
            h1 = wh.fma(FloatVector.fromArray(F256, b, b1 + k + 8), h1);
            l2 = wl.fma(FloatVector.fromArray(F256, b, b2 + k), l2);
            h2 = wh.fma(FloatVector.fromArray(F256, b, b2 + k + 8), h2);
            l3 = wl.fma(FloatVector.fromArray(F256, b, b3 + k), l3);
            h3 = wh.fma(FloatVector.fromArray(F256, b, b3 + k + 8), h3);
        }
        if (k < n) {
            VectorMask<Float> ml = F256.indexInRange(k, n), mh = F256.indexInRange(k + 8, n);
            FloatVector wl = FloatVector.fromArray(F256, a, ao + k, ml), wh = FloatVector.fromArray(F256, a, ao + k + 8, mh);
            l0 = l0.blend(wl.fma(FloatVector.fromArray(F256, b, b0 + k, ml), l0), ml);
            h0 = h0.blend(wh.fma(FloatVector.fromArray(F256, b, b0 + k + 8, mh), h0), mh);
            l1 = l1.blend(wl.fma(FloatVector.fromArray(F256, b, b1 + k, ml), l1), ml);
            h1 = h1.blend(wh.fma(FloatVector.fromArray(F256, b, b1 + k + 8, mh), h1), mh);
            l2 = l2.blend(wl.fma(FloatVector.fromArray(F256, b, b2 + k, ml), l2), ml);
            h2 = h2.blend(wh.fma(FloatVector.fromArray(F256, b, b2 + k + 8, mh), h2), mh);
            l3 = l3.blend(wl.fma(FloatVector.fromArray(F256, b, b3 + k, ml), l3), ml);
            h3 = h3.blend(wh.fma(FloatVector.fromArray(F256, b, b3 + k + 8, mh), h3), mh);
        }
        out[o] = Canonical.tree(l0, h0);
        out[o + 1] = Canonical.tree(l1, h1);
        out[o + 2] = Canonical.tree(l2, h2);
        out[o + 3] = Canonical.tree(l3, h3);
    }

    static float f32(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        int k = 0;
        for (; k + 16 <= n; k += 16) {
            lo = FloatVector.fromMemorySegment(F256, w, off + 4L * k, LE).fma(FloatVector.fromArray(F256, x, xo + k), lo);
            hi = FloatVector.fromMemorySegment(F256, w, off + 4L * k + 32, LE).fma(FloatVector.fromArray(F256, x, xo + k + 8), hi);
        }
        if (k < n) {
            VectorMask<Float> ml = F256.indexInRange(k, n), mh = F256.indexInRange(k + 8, n);
            lo = lo.blend(FloatVector.fromMemorySegment(F256, w, off + 4L * k, LE, ml).fma(FloatVector.fromArray(F256, x, xo + k, ml), lo), ml);
            hi = hi.blend(FloatVector.fromMemorySegment(F256, w, off + 4L * k + 32, LE, mh).fma(FloatVector.fromArray(F256, x, xo + k + 8, mh), hi), mh);
        }
        return Canonical.tree(lo, hi);
    }

    // ------------------------------------------------------------------ weight row . float

    /** As {@link Dot#row}; {@code off} is the row's byte offset. */
    static float row(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        return switch (type) {
            case F32 -> f32(w, off, n, x, xo);
            case Q8_0 -> q8_0(w, off, n, x, xo);
            case Q4_0 -> q4_0(w, off, n, x, xo);
            case F16 -> n % 16 == 0 ? f16(w, off, n, x, xo) : Dot.rowScalar(type, w, off, n, x, xo, scratch);
            default -> viaDequant(type, w, off, n, x, xo, scratch);
        };
    }

    /** Any type: dequantize up to 256 values into scratch (vectorized where possible), then vector fma. */
    private static float viaDequant(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        int bs = type.blockSize == 1 ? 256 : type.blockSize;
        for (int k = 0; k < n; k += bs) {
            int len = Math.min(bs, n - k);
            DequantVec.segment(type, w, off, k, len, scratch, 0);
            for (int j = 0; j < len; j += 16) { // k is a multiple of 16, so j % 16 is the lane
                VectorMask<Float> ml = F256.indexInRange(j, len), mh = F256.indexInRange(j + 8, len);
                lo = lo.blend(FloatVector.fromArray(F256, scratch, j, ml).fma(FloatVector.fromArray(F256, x, xo + k + j, ml), lo), ml);
                hi = hi.blend(FloatVector.fromArray(F256, scratch, j + 8, mh).fma(FloatVector.fromArray(F256, x, xo + k + j + 8, mh), hi), mh);
            }
        }
        return Canonical.tree(lo, hi);
    }

    static float q8_0(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        for (int k = 0; k < n; k += 32, off += 34) {
            float d = Dequant.f16(w, off);
            lo = ((FloatVector) ByteVector.fromMemorySegment(B64, w, off + 2, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(d).fma(FloatVector.fromArray(F256, x, xo + k), lo);
            hi = ((FloatVector) ByteVector.fromMemorySegment(B64, w, off + 10, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(d).fma(FloatVector.fromArray(F256, x, xo + k + 8), hi);
            lo = ((FloatVector) ByteVector.fromMemorySegment(B64, w, off + 18, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(d).fma(FloatVector.fromArray(F256, x, xo + k + 16), lo);
            hi = ((FloatVector) ByteVector.fromMemorySegment(B64, w, off + 26, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(d).fma(FloatVector.fromArray(F256, x, xo + k + 24), hi);
        }
        return Canonical.tree(lo, hi);
    }

    /**
     * Q4_0: the low nibbles of bytes 0-7 are values 0-7 (lo), of bytes 8-15 values 8-15 (hi), the high
     * nibbles values 16-23 (lo) and 24-31 (hi); each weight is {@code d * (nibble - 8)} as in the
     * reference (an exact product).
     */
    static float q4_0(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        for (int k = 0; k < n; k += 32, off += 18) {
            float d = Dequant.f16(w, off);
            IntVector a = (IntVector) ByteVector.fromMemorySegment(B64, w, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
            IntVector b = (IntVector) ByteVector.fromMemorySegment(B64, w, off + 10, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
            lo = ((FloatVector) a.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d).fma(FloatVector.fromArray(F256, x, xo + k), lo);
            hi = ((FloatVector) b.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d).fma(FloatVector.fromArray(F256, x, xo + k + 8), hi);
            lo = ((FloatVector) a.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d)
                    .fma(FloatVector.fromArray(F256, x, xo + k + 16), lo);
            hi = ((FloatVector) b.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d)
                    .fma(FloatVector.fromArray(F256, x, xo + k + 24), hi);
        }
        return Canonical.tree(lo, hi);
    }

    static float f16(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector lo = FloatVector.zero(F256), hi = lo;
        for (int k = 0; k < n; k += 16) {
            lo = half8(w, off + 2L * k).fma(FloatVector.fromArray(F256, x, xo + k), lo);
            hi = half8(w, off + 2L * k + 16).fma(FloatVector.fromArray(F256, x, xo + k + 8), hi);
        }
        return Canonical.tree(lo, hi);
    }

    // ------------------------------------------------------------------ two rows at once (decode)

    /**
     * As {@link Dot#rows2} for the types of {@link Dot#hasRows2}; byte offsets of the two rows.
     * {@code lanes} (32 floats) receives the four accumulators before the trees: passed to the tree
     * as vectors, they were boxed inside the loop (an allocation per block, seen in the compiled code;
     * two Q8_0 rows took 723 ns, 465 ns now).
     */
    static void rows2(GgmlType type, MemorySegment w, long offA, long offB, int n, float[] x, int xo, float[] out, int oa, int ob,
                      float[] lanes) {
        switch (type) {
            case Q8_0 -> q8_0x2(w, offA, offB, n, x, xo, out, oa, ob, lanes);
            case Q4_0 -> q4_0x2(w, offA, offB, n, x, xo, out, oa, ob, lanes);
            case F16 -> f16x2(w, offA, offB, n, x, xo, out, oa, ob, lanes);
            default -> f32x2(w, offA, offB, n, x, xo, out, oa, ob, lanes); // F32
        }
    }

    static void q8_0x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector l0 = FloatVector.zero(F256), h0 = l0, l1 = l0, h1 = l0;
        for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
            long p = o0 + 34L * blk, q = o1 + 34L * blk;
            int k = xo + 32 * blk;
            FloatVector dp = FloatVector.broadcast(F256, Dequant.f16(w, p)), dq = FloatVector.broadcast(F256, Dequant.f16(w, q));
            FloatVector u = FloatVector.fromArray(F256, x, k);
            l0 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 2, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp).fma(u, l0);
            l1 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 2, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq).fma(u, l1);
            u = FloatVector.fromArray(F256, x, k + 8);
            h0 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 10, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp).fma(u, h0);
            h1 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 10, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq).fma(u, h1);
            u = FloatVector.fromArray(F256, x, k + 16);
            l0 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 18, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp).fma(u, l0);
            l1 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 18, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq).fma(u, l1);
            u = FloatVector.fromArray(F256, x, k + 24);
            h0 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 26, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp).fma(u, h0);
            h1 = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 26, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq).fma(u, h1);
        }
        l0.intoArray(lanes, 0);
        h0.intoArray(lanes, 8);
        l1.intoArray(lanes, 16);
        h1.intoArray(lanes, 24);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    /**
     * Written out without the helpers of {@link #q4_0}: this body is big enough that C2 stops inlining
     * part-way ("NodeCountInliningCutoff"), and a helper left as a call boxes its vector (measured:
     * a 2048 x 2048 mat-vec 10x slower).
     */
    static void q4_0x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector l0 = FloatVector.zero(F256), h0 = l0, l1 = l0, h1 = l0;
        for (int k = 0; k < n; k += 32, o0 += 18, o1 += 18) {
            float d0 = Dequant.f16(w, o0), d1 = Dequant.f16(w, o1);
            IntVector a0 = (IntVector) ByteVector.fromMemorySegment(B64, w, o0 + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
            IntVector a1 = (IntVector) ByteVector.fromMemorySegment(B64, w, o1 + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
            IntVector b0 = (IntVector) ByteVector.fromMemorySegment(B64, w, o0 + 10, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
            IntVector b1 = (IntVector) ByteVector.fromMemorySegment(B64, w, o1 + 10, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
            FloatVector u = FloatVector.fromArray(F256, x, xo + k);
            l0 = ((FloatVector) a0.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d0).fma(u, l0);
            l1 = ((FloatVector) a1.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d1).fma(u, l1);
            u = FloatVector.fromArray(F256, x, xo + k + 8);
            h0 = ((FloatVector) b0.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d0).fma(u, h0);
            h1 = ((FloatVector) b1.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d1).fma(u, h1);
            u = FloatVector.fromArray(F256, x, xo + k + 16);
            l0 = ((FloatVector) a0.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d0).fma(u, l0);
            l1 = ((FloatVector) a1.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d1).fma(u, l1);
            u = FloatVector.fromArray(F256, x, xo + k + 24);
            h0 = ((FloatVector) b0.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d0).fma(u, h0);
            h1 = ((FloatVector) b1.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d1).fma(u, h1);
        }
        l0.intoArray(lanes, 0);
        h0.intoArray(lanes, 8);
        l1.intoArray(lanes, 16);
        h1.intoArray(lanes, 24);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    static void f16x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector l0 = FloatVector.zero(F256), h0 = l0, l1 = l0, h1 = l0;
        for (int k = 0; k < n; k += 16) {
            FloatVector u = FloatVector.fromArray(F256, x, xo + k), v = FloatVector.fromArray(F256, x, xo + k + 8);
            l0 = half8(w, o0 + 2L * k).fma(u, l0);
            l1 = half8(w, o1 + 2L * k).fma(u, l1);
            h0 = half8(w, o0 + 2L * k + 16).fma(v, h0);
            h1 = half8(w, o1 + 2L * k + 16).fma(v, h1);
        }
        l0.intoArray(lanes, 0);
        h0.intoArray(lanes, 8);
        l1.intoArray(lanes, 16);
        h1.intoArray(lanes, 24);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    static void f32x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector l0 = FloatVector.zero(F256), h0 = l0, l1 = l0, h1 = l0;
        for (int k = 0; k < n; k += 16) {
            FloatVector u = FloatVector.fromArray(F256, x, xo + k), v = FloatVector.fromArray(F256, x, xo + k + 8);
            l0 = FloatVector.fromMemorySegment(F256, w, o0 + 4L * k, LE).fma(u, l0);
            l1 = FloatVector.fromMemorySegment(F256, w, o1 + 4L * k, LE).fma(u, l1);
            h0 = FloatVector.fromMemorySegment(F256, w, o0 + 4L * k + 32, LE).fma(v, h0);
            h1 = FloatVector.fromMemorySegment(F256, w, o1 + 4L * k + 32, LE).fma(v, h1);
        }
        l0.intoArray(lanes, 0);
        h0.intoArray(lanes, 8);
        l1.intoArray(lanes, 16);
        h1.intoArray(lanes, 24);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    // ------------------------------------------------------------------ two rows times two tokens

    /** Whether {@link #rows2tokens2} has a kernel for this type. */
    static boolean hasRows2Tokens2(GgmlType type) {
        return type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
    }

    /**
     * Rows at byte offsets {@code o0} and {@code o1} times the tokens at {@code x[xa..]} and
     * {@code x[xb..]}: each 8-weight quarter is dequantized once and meets both tokens, where two
     * calls of {@link #rows2} dequantized it twice (two-sequence decoding and short speculative
     * verifications ran at the speed of one sequence). Eight accumulators, each output's lo/hi pair as
     * in {@link #rows2}, so the bits are those of {@link Dot#row}. {@code lanes} (64 floats) receives
     * row 0 token a, row 0 token b, row 1 token a, row 1 token b, 16 lanes each, for the tree.
     */
    static void rows2tokens2(GgmlType type, MemorySegment w, long o0, long o1, int n, float[] x, int xa, int xb, float[] lanes) {
        if (type == GgmlType.Q8_0) q8_0x2t2(w, o0, o1, n, x, xa, xb, lanes);
        else q4_0x2t2(w, o0, o1, n, x, xa, xb, lanes);
    }

    static void q8_0x2t2(MemorySegment w, long o0, long o1, int n, float[] x, int xa, int xb, float[] lanes) {
        FloatVector z = FloatVector.zero(F256);
        FloatVector l0a = z, h0a = z, l0b = z, h0b = z, l1a = z, h1a = z, l1b = z, h1b = z;
        for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
            long p = o0 + 34L * blk, q = o1 + 34L * blk;
            int k = 32 * blk;
            float dp = Dequant.f16(w, p), dq = Dequant.f16(w, q);
            FloatVector wp = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 2, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp);
            FloatVector wq = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 2, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq);
            FloatVector u = FloatVector.fromArray(F256, x, xa + k);
            l0a = wp.fma(u, l0a);
            l1a = wq.fma(u, l1a);
            u = FloatVector.fromArray(F256, x, xb + k);
            l0b = wp.fma(u, l0b);
            l1b = wq.fma(u, l1b);
            wp = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 10, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp);
            wq = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 10, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq);
            u = FloatVector.fromArray(F256, x, xa + k + 8);
            h0a = wp.fma(u, h0a);
            h1a = wq.fma(u, h1a);
            u = FloatVector.fromArray(F256, x, xb + k + 8);
            h0b = wp.fma(u, h0b);
            h1b = wq.fma(u, h1b);
            wp = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 18, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp);
            wq = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 18, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq);
            u = FloatVector.fromArray(F256, x, xa + k + 16);
            l0a = wp.fma(u, l0a);
            l1a = wq.fma(u, l1a);
            u = FloatVector.fromArray(F256, x, xb + k + 16);
            l0b = wp.fma(u, l0b);
            l1b = wq.fma(u, l1b);
            wp = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 26, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dp);
            wq = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 26, LE).convertShape(VectorOperators.B2F, F256, 0)).mul(dq);
            u = FloatVector.fromArray(F256, x, xa + k + 24);
            h0a = wp.fma(u, h0a);
            h1a = wq.fma(u, h1a);
            u = FloatVector.fromArray(F256, x, xb + k + 24);
            h0b = wp.fma(u, h0b);
            h1b = wq.fma(u, h1b);
        }
        l0a.intoArray(lanes, 0); h0a.intoArray(lanes, 8); l0b.intoArray(lanes, 16); h0b.intoArray(lanes, 24);
        l1a.intoArray(lanes, 32); h1a.intoArray(lanes, 40); l1b.intoArray(lanes, 48); h1b.intoArray(lanes, 56);
    }

    /**
     * Q4_0: each quarter's eight bytes are loaded (zero-extended) where they are used, low nibbles for
     * quarters 0 and 1, high ones for 2 and 3, rather than kept across the block: eight accumulators
     * leave no registers for four unpacked byte vectors.
     */
    static void q4_0x2t2(MemorySegment w, long o0, long o1, int n, float[] x, int xa, int xb, float[] lanes) {
        FloatVector z = FloatVector.zero(F256);
        FloatVector l0a = z, h0a = z, l0b = z, h0b = z, l1a = z, h1a = z, l1b = z, h1b = z;
        for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
            long p = o0 + 18L * blk, q = o1 + 18L * blk;
            int k = 32 * blk;
            float dp = Dequant.f16(w, p), dq = Dequant.f16(w, q);
            FloatVector wp = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, p + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(dp);
            FloatVector wq = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, q + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(dq);
            FloatVector u = FloatVector.fromArray(F256, x, xa + k);
            l0a = wp.fma(u, l0a);
            l1a = wq.fma(u, l1a);
            u = FloatVector.fromArray(F256, x, xb + k);
            l0b = wp.fma(u, l0b);
            l1b = wq.fma(u, l1b);
            wp = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, p + 10, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(dp);
            wq = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, q + 10, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(dq);
            u = FloatVector.fromArray(F256, x, xa + k + 8);
            h0a = wp.fma(u, h0a);
            h1a = wq.fma(u, h1a);
            u = FloatVector.fromArray(F256, x, xb + k + 8);
            h0b = wp.fma(u, h0b);
            h1b = wq.fma(u, h1b);
            wp = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, p + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(dp);
            wq = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, q + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(dq);
            u = FloatVector.fromArray(F256, x, xa + k + 16);
            l0a = wp.fma(u, l0a);
            l1a = wq.fma(u, l1a);
            u = FloatVector.fromArray(F256, x, xb + k + 16);
            l0b = wp.fma(u, l0b);
            l1b = wq.fma(u, l1b);
            wp = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, p + 10, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(dp);
            wq = ((FloatVector) ((IntVector) ByteVector.fromMemorySegment(B64, w, q + 10, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0)).lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(dq);
            u = FloatVector.fromArray(F256, x, xa + k + 24);
            h0a = wp.fma(u, h0a);
            h1a = wq.fma(u, h1a);
            u = FloatVector.fromArray(F256, x, xb + k + 24);
            h0b = wp.fma(u, h0b);
            h1b = wq.fma(u, h1b);
        }
        l0a.intoArray(lanes, 0); h0a.intoArray(lanes, 8); l0b.intoArray(lanes, 16); h0b.intoArray(lanes, 24);
        l1a.intoArray(lanes, 32); h1a.intoArray(lanes, 40); l1b.intoArray(lanes, 48); h1b.intoArray(lanes, 56);
    }

    // ------------------------------------------------------------------ half floats

    /** Eight IEEE half floats at byte {@code off} to float, exactly (the method of {@link Dot#halfToFloat}). */
    static FloatVector half8(MemorySegment w, long off) {
        IntVector h = ((IntVector) ShortVector.fromMemorySegment(S128, w, off, LE).convertShape(VectorOperators.S2I, I256, 0)).and(0xFFFF);
        IntVector em = h.and(0x7FFF);
        IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
        IntVector bits = shifted.reinterpretAsFloats().mul(TWO_POW_112).reinterpretAsInts()
                .blend(shifted.or(0x7F800000), em.compare(VectorOperators.GE, 0x7C00));
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** Eight bfloat16 values at byte {@code off} to float (exact: the high half of a float). */
    static FloatVector bf16x8(MemorySegment w, long off) {
        ShortVector s = ShortVector.fromMemorySegment(S128, w, off, LE);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I256, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
