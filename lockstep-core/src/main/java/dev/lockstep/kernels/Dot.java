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
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static dev.lockstep.kernels.Canonical.F512;

/**
 * Dot products in the {@linkplain Canonical canonical order}: float vectors, and one row of a weight
 * matrix (any computable GGML type, read in place from the mapped file) with a float activation vector.
 *
 * <p>Contract of every row kernel: the result equals {@code Canonical.dotScalar(w, x)} where {@code w}
 * is the row dequantized by {@link Dequant} — bit for bit. The weights are dequantized to exactly the
 * reference floats, then fused-multiply-added into the 16 canonical lanes. (For Q8_0/Q4_0 these floats
 * are exact: scale x small integer needs at most 19 significant bits.) The 512-bit kernels are here,
 * the 256-bit ones (AVX2) in {@link Dot256}; the scalar path serves JVMs with narrower vectors and is
 * the executable specification.
 *
 * <p>Decoding uses {@link #rows2}: two distant rows at once, two independent FMA chains and two
 * memory streams. Kernels are written out in
 * full: a helper method returning a vector may not be inlined by C2, and a vector that crosses a real
 * call is boxed.
 */
public final class Dot {
    private Dot() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> I512 = IntVector.SPECIES_512;
    private static final float TWO_POW_112 = 0x1p112f;
    /** The 16 levels of a Q4_0 nibble, {@code i - 8}; times the block scale they are its 16 weights. */
    static final FloatVector Q4_0_LEVELS = FloatVector.fromArray(F512, new float[]{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7}, 0);
    static final FloatVector Q4_K_LEVELS = FloatVector.fromArray(F512, new float[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    private static final java.lang.foreign.ValueLayout.OfInt I32 = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    // ------------------------------------------------------------------ float . float

    /** Canonical dot of {@code a[ao..ao+n)} and {@code b[bo..bo+n)}. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        if (Canonical.SIMD256) return Dot256.dot(a, ao, b, bo, n);
        if (!Canonical.SIMD512) return Canonical.dotScalar(a, ao, b, bo, n);
        FloatVector acc = FloatVector.zero(F512);
        int k = 0;
        for (; k + 16 <= n; k += 16)
            acc = FloatVector.fromArray(F512, a, ao + k).fma(FloatVector.fromArray(F512, b, bo + k), acc);
        if (k < n) {
            VectorMask<Float> m = F512.indexInRange(k, n);
            acc = acc.blend(FloatVector.fromArray(F512, a, ao + k, m).fma(FloatVector.fromArray(F512, b, bo + k, m), acc), m);
        }
        return Canonical.tree(acc);
    }

    /**
     * Four canonical dots of one row {@code a[ao..ao+n)} with {@code b[b0..)}, {@code b[b1..)},
     * {@code b[b2..)} and {@code b[b3..)}, into {@code out[o..o+4)}: each the bits of {@link #dot}, but
     * four independent accumulator chains share each load of the row (one chain waits on the fma
     * latency; four keep the units busy).
     */
    public static void dot4(float[] a, int ao, float[] b, int b0, int b1, int b2, int b3, int n, float[] out, int o) {
        if (Canonical.SIMD256) {
            Dot256.dot4(a, ao, b, b0, b1, b2, b3, n, out, o);
            return;
        }
        if (!Canonical.SIMD512) {
            out[o] = Canonical.dotScalar(a, ao, b, b0, n);
            out[o + 1] = Canonical.dotScalar(a, ao, b, b1, n);
            out[o + 2] = Canonical.dotScalar(a, ao, b, b2, n);
            out[o + 3] = Canonical.dotScalar(a, ao, b, b3, n);
            return;
        }
        FloatVector c0 = FloatVector.zero(F512), c1 = c0, c2 = c0, c3 = c0;
        int k = 0;
        for (; k + 16 <= n; k += 16) {
            FloatVector w = FloatVector.fromArray(F512, a, ao + k);
            c0 = w.fma(FloatVector.fromArray(F512, b, b0 + k), c0);
            c1 = w.fma(FloatVector.fromArray(F512, b, b1 + k), c1);
            c2 = w.fma(FloatVector.fromArray(F512, b, b2 + k), c2);
            c3 = w.fma(FloatVector.fromArray(F512, b, b3 + k), c3);
        }
        if (k < n) {
            VectorMask<Float> m = F512.indexInRange(k, n);
            FloatVector w = FloatVector.fromArray(F512, a, ao + k, m);
            c0 = c0.blend(w.fma(FloatVector.fromArray(F512, b, b0 + k, m), c0), m);
            c1 = c1.blend(w.fma(FloatVector.fromArray(F512, b, b1 + k, m), c1), m);
            c2 = c2.blend(w.fma(FloatVector.fromArray(F512, b, b2 + k, m), c2), m);
            c3 = c3.blend(w.fma(FloatVector.fromArray(F512, b, b3 + k, m), c3), m);
        }
        out[o] = Canonical.tree(c0);
        out[o + 1] = Canonical.tree(c1);
        out[o + 2] = Canonical.tree(c2);
        out[o + 3] = Canonical.tree(c3);
    }

    /** Canonical dot of {@code n} little-endian floats at byte {@code off} of {@code seg} with {@code x[xo..)}. */
    public static float segment(MemorySegment seg, long off, int n, float[] x, int xo) {
        if (Canonical.SIMD512) return f32(seg, off, n, x, xo, new float[Canonical.LANES]);
        if (Canonical.SIMD256) return Dot256.f32(seg, off, n, x, xo);
        float[] acc = new float[Canonical.LANES];
        for (int k = 0; k < n; k++)
            acc[k & 15] = Math.fma(seg.get(Dequant.F32_LE, off + 4L * k), x[xo + k], acc[k & 15]);
        return Canonical.tree(acc);
    }

    // ------------------------------------------------------------------ weight row . float

    /**
     * Canonical dot of row {@code row} of a {@code type} matrix with {@code n} values per row, stored at
     * {@code w}, with {@code x[xo..xo+n)}. {@code scratch} must hold at least 256 floats (used by the
     * formats without a dedicated kernel).
     */
    public static float row(GgmlType type, MemorySegment w, long row, int n, float[] x, int xo, float[] scratch) {
        long off = row * type.byteSize(n);
        if (Canonical.SIMD512) return row512(type, w, off, n, x, xo, scratch);
        if (Canonical.SIMD256) return Dot256.row(type, w, off, n, x, xo, scratch);
        return rowScalar(type, w, off, n, x, xo, scratch);
    }

    /** The 512-bit row kernels; {@code off} is the row's byte offset. */
    static float row512(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        return switch (type) {
            case F32 -> f32(w, off, n, x, xo, scratch);
            case Q8_0 -> q8_0(w, off, n, x, xo, scratch);
            case Q4_0 -> q4_0(w, off, n, x, xo, scratch);
            case Q4_K -> q4K(w, off, n, x, xo, scratch);
            case Q5_K -> q5K(w, off, n, x, xo, scratch);
            case Q6_K -> q6K(w, off, n, x, xo, scratch);
            default -> viaDequant(type, w, off, n, x, xo, scratch);
        };
    }

    /** The scalar path: dequantize block by block with the reference, fma into 16 lanes. */
    static float rowScalar(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        float[] acc = new float[Canonical.LANES];
        int bs = type.blockSize == 1 ? Math.min(n, 256) : type.blockSize;
        for (int k = 0; k < n; k += bs) {
            int len = Math.min(bs, n - k);
            Dequant.dequantize(type, w, off + type.byteSize(k), scratch, 0, len);
            for (int j = 0; j < len; j++) acc[(k + j) & 15] = Math.fma(scratch[j], x[xo + k + j], acc[(k + j) & 15]);
        }
        return Canonical.tree(acc);
    }

    /** Any type: dequantize up to 256 values into scratch (vectorized where possible), then vector fma. */
    private static float viaDequant(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        FloatVector acc = FloatVector.zero(F512);
        int bs = type.blockSize == 1 ? 256 : type.blockSize;
        for (int k = 0; k < n; k += bs) {
            int len = Math.min(bs, n - k);
            DequantVec.segment(type, w, off, k, len, scratch, 0);
            for (int j = 0; j < len; j += 16) {
                VectorMask<Float> m = F512.indexInRange(j, len);
                acc = acc.blend(FloatVector.fromArray(F512, scratch, j, m).fma(FloatVector.fromArray(F512, x, xo + k + j, m), acc), m);
            }
        }
        acc.intoArray(scratch, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(scratch, 0);
    }

    static float f32(MemorySegment w, long off, int n, float[] x, int xo, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        int k = 0;
        for (; k + 16 <= n; k += 16)
            acc = FloatVector.fromMemorySegment(F512, w, off + 4L * k, LE).fma(FloatVector.fromArray(F512, x, xo + k), acc);
        if (k < n) {
            VectorMask<Float> m = F512.indexInRange(k, n);
            acc = acc.blend(FloatVector.fromMemorySegment(F512, w, off + 4L * k, LE, m).fma(FloatVector.fromArray(F512, x, xo + k, m), acc), m);
        }
        acc.intoArray(lanes, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(lanes, 0);
    }

    static float q8_0(MemorySegment w, long off, int n, float[] x, int xo, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 32, off += 34) {
            float d = Dequant.f16(w, off);
            acc = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d).fma(FloatVector.fromArray(F512, x, xo + k), acc);
            acc = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 18, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d).fma(FloatVector.fromArray(F512, x, xo + k + 16), acc);
        }
        acc.intoArray(lanes, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(lanes, 0);
    }

    /**
     * Q4_0 by table lookup: the 16 possible weights of a block, {@code (i - 8) * d}, are computed once
     * (the same products as the reference), and each nibble selects its weight with one permute
     * ({@code selectFrom(tab, tab)} wraps the index modulo 32 over two copies of the table, so the low
     * nibble needs no mask). Per 16 weights: widen, permute, fma. Measured against the unpack, convert
     * and scale it replaced: 0.27 vs 0.41 us per 2048-value row, Q4_0 decode of the 1B model 7.6 ->
     * 11-12 tok/s.
     */
    static float q4_0(MemorySegment w, long off, int n, float[] x, int xo, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 32, off += 18) {
            IntVector tab = Q4_0_LEVELS.mul(Dequant.f16(w, off)).reinterpretAsInts();
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
            acc = q.selectFrom(tab, tab).reinterpretAsFloats().fma(FloatVector.fromArray(F512, x, xo + k), acc);
            acc = q.lanewise(VectorOperators.LSHR, 4).selectFrom(tab, tab).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F512, x, xo + k + 16), acc);
        }
        acc.intoArray(lanes, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(lanes, 0);
    }

    /** Byte {@code j} (0..11) of a K-quant's 12 packed scale bytes, given as three little-endian ints. */
    private static int scaleByte(int j, int b0, int b1, int b2) {
        int word = j < 4 ? b0 : j < 8 ? b1 : b2;
        return (word >>> (8 * (j & 3))) & 0xFF;
    }

    /** The 6-bit scale (low byte) and min (second byte) of sub-block j, as {@code Dequant.scaleMinK4}. */
    private static int scaleMin(int j, int b0, int b1, int b2) {
        int sc, m;
        if (j < 4) {
            sc = scaleByte(j, b0, b1, b2) & 63;
            m = scaleByte(j + 4, b0, b1, b2) & 63;
        } else {
            sc = (scaleByte(j + 4, b0, b1, b2) & 0xF) | ((scaleByte(j - 4, b0, b1, b2) >> 6) << 4);
            m = (scaleByte(j + 4, b0, b1, b2) >> 4) | ((scaleByte(j, b0, b1, b2) >> 6) << 4);
        }
        return sc | (m << 8);
    }

    /**
     * Q4_K by table lookup, as {@link #q4_0}: per sub-block the 16 possible weights
     * {@code fma(q, d*sc, -dmin*m)} (q = 0..15: exactly the reference's values, one rounding) are
     * computed once, and each nibble selects its weight with one permute (the low nibble needs no mask,
     * the index wraps modulo 32 over two copies of the table); then fma'd into the accumulator in
     * element order. Against the unpack, convert and fma per weight vector it replaced (whose high
     * nibbles took a byte shift that x86 lacks, five instructions): 7.6-7.9 vs 6.3-6.6 G weights/s on
     * one Zen 4 thread, in cache. (Q4_K and Q5_K, and the four quarters of Q6_K, are written out
     * separately: a vector chosen by a branch is boxed.)
     */
    static float q4K(MemorySegment w, long off, int n, float[] x, int xo, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 256, off += 144) {
            float d = Dequant.f16(w, off), dmin = Dequant.f16(w, off + 2);
            int b0 = w.get(I32, off + 4), b1 = w.get(I32, off + 8), b2 = w.get(I32, off + 12);
            for (int i = 0; i < 4; i++) {
                int sm1 = scaleMin(2 * i, b0, b1, b2), sm2 = scaleMin(2 * i + 1, b0, b1, b2);
                IntVector t1 = Q4_K_LEVELS.fma(d * (sm1 & 0xFF), -(dmin * (sm1 >> 8))).reinterpretAsInts();
                IntVector t2 = Q4_K_LEVELS.fma(d * (sm2 & 0xFF), -(dmin * (sm2 >> 8))).reinterpretAsInts();
                IntVector qa = (IntVector) ByteVector.fromMemorySegment(B128, w, off + 16 + 32L * i, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
                IntVector qb = (IntVector) ByteVector.fromMemorySegment(B128, w, off + 32 + 32L * i, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
                int k0 = xo + k + 64 * i;
                acc = qa.selectFrom(t1, t1).reinterpretAsFloats().fma(FloatVector.fromArray(F512, x, k0), acc);
                acc = qb.selectFrom(t1, t1).reinterpretAsFloats().fma(FloatVector.fromArray(F512, x, k0 + 16), acc);
                acc = qa.lanewise(VectorOperators.LSHR, 4).selectFrom(t2, t2).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(F512, x, k0 + 32), acc);
                acc = qb.lanewise(VectorOperators.LSHR, 4).selectFrom(t2, t2).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(F512, x, k0 + 48), acc);
            }
        }
        acc.intoArray(lanes, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(lanes, 0);
    }

    /** Q5_K, fused: as Q4_K with the fifth bit of value l of sub-block j in bit j of qh[l]. */
    static float q5K(MemorySegment w, long off, int n, float[] x, int xo, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 256, off += 176) {
            float d = Dequant.f16(w, off), dmin = Dequant.f16(w, off + 2);
            int b0 = w.get(I32, off + 4), b1 = w.get(I32, off + 8), b2 = w.get(I32, off + 12);
            IntVector h0 = ByteVector.fromMemorySegment(B128, w, off + 16, LE).reinterpretAsInts();
            IntVector h1 = ByteVector.fromMemorySegment(B128, w, off + 32, LE).reinterpretAsInts();
            for (int i = 0; i < 4; i++) {
                int sm1 = scaleMin(2 * i, b0, b1, b2), sm2 = scaleMin(2 * i + 1, b0, b1, b2);
                float d1 = d * (sm1 & 0xFF), m1 = -(dmin * (sm1 >> 8)), d2 = d * (sm2 & 0xFF), m2 = -(dmin * (sm2 >> 8));
                IntVector qa = ByteVector.fromMemorySegment(B128, w, off + 48 + 32L * i, LE).reinterpretAsInts();
                IntVector qb = ByteVector.fromMemorySegment(B128, w, off + 64 + 32L * i, LE).reinterpretAsInts();
                IntVector la = qa.and(0x0F0F0F0F).or(h0.lanewise(VectorOperators.LSHR, 2 * i).and(0x01010101).lanewise(VectorOperators.LSHL, 4));
                IntVector lb = qb.and(0x0F0F0F0F).or(h1.lanewise(VectorOperators.LSHR, 2 * i).and(0x01010101).lanewise(VectorOperators.LSHL, 4));
                IntVector ha = qa.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                        .or(h0.lanewise(VectorOperators.LSHR, 2 * i + 1).and(0x01010101).lanewise(VectorOperators.LSHL, 4));
                IntVector hb = qb.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                        .or(h1.lanewise(VectorOperators.LSHR, 2 * i + 1).and(0x01010101).lanewise(VectorOperators.LSHL, 4));
                int k0 = xo + k + 64 * i;
                acc = ((FloatVector) la.reinterpretAsBytes().convertShape(VectorOperators.B2F, F512, 0)).fma(d1, m1)
                        .fma(FloatVector.fromArray(F512, x, k0), acc);
                acc = ((FloatVector) lb.reinterpretAsBytes().convertShape(VectorOperators.B2F, F512, 0)).fma(d1, m1)
                        .fma(FloatVector.fromArray(F512, x, k0 + 16), acc);
                acc = ((FloatVector) ha.reinterpretAsBytes().convertShape(VectorOperators.B2F, F512, 0)).fma(d2, m2)
                        .fma(FloatVector.fromArray(F512, x, k0 + 32), acc);
                acc = ((FloatVector) hb.reinterpretAsBytes().convertShape(VectorOperators.B2F, F512, 0)).fma(d2, m2)
                        .fma(FloatVector.fromArray(F512, x, k0 + 48), acc);
            }
        }
        acc.intoArray(lanes, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(lanes, 0);
    }

    /** Q6_K, fused: each weight is {@code (d * scale) * (q - 32)} as in the reference. */
    static float q6K(MemorySegment w, long off, int n, float[] x, int xo, float[] lanes) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 256, off += 210) {
            float d = Dequant.f16(w, off + 208);
            for (int h2 = 0; h2 < 2; h2++) {
                // values 128*h2 + 32*quarter + l (quarter 0..3, l 0..31), in element order
                IntVector l0a = ByteVector.fromMemorySegment(B128, w, off + 64L * h2, LE).reinterpretAsInts();
                IntVector l0b = ByteVector.fromMemorySegment(B128, w, off + 64L * h2 + 16, LE).reinterpretAsInts();
                IntVector l1a = ByteVector.fromMemorySegment(B128, w, off + 64L * h2 + 32, LE).reinterpretAsInts();
                IntVector l1b = ByteVector.fromMemorySegment(B128, w, off + 64L * h2 + 48, LE).reinterpretAsInts();
                IntVector ha = ByteVector.fromMemorySegment(B128, w, off + 128 + 32L * h2, LE).reinterpretAsInts();
                IntVector hb = ByteVector.fromMemorySegment(B128, w, off + 128 + 32L * h2 + 16, LE).reinterpretAsInts();
                long sc = off + 192 + 8L * h2;
                int kb = xo + k + 128 * h2;
                float s00 = d * w.get(ValueLayout.JAVA_BYTE, sc), s01 = d * w.get(ValueLayout.JAVA_BYTE, sc + 1);
                float s10 = d * w.get(ValueLayout.JAVA_BYTE, sc + 2), s11 = d * w.get(ValueLayout.JAVA_BYTE, sc + 3);
                float s20 = d * w.get(ValueLayout.JAVA_BYTE, sc + 4), s21 = d * w.get(ValueLayout.JAVA_BYTE, sc + 5);
                float s30 = d * w.get(ValueLayout.JAVA_BYTE, sc + 6), s31 = d * w.get(ValueLayout.JAVA_BYTE, sc + 7);
                // quarter 0: low nibbles of ql[0..32), bits 0-1 of qh
                acc = ((FloatVector) l0a.and(0x0F0F0F0F).or(ha.and(0x03030303).lanewise(VectorOperators.LSHL, 4)).reinterpretAsBytes()
                        .sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s00).fma(FloatVector.fromArray(F512, x, kb), acc);
                acc = ((FloatVector) l0b.and(0x0F0F0F0F).or(hb.and(0x03030303).lanewise(VectorOperators.LSHL, 4)).reinterpretAsBytes()
                        .sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s01).fma(FloatVector.fromArray(F512, x, kb + 16), acc);
                // quarter 1: low nibbles of ql[32..64), bits 2-3
                acc = ((FloatVector) l1a.and(0x0F0F0F0F).or(ha.lanewise(VectorOperators.LSHR, 2).and(0x03030303).lanewise(VectorOperators.LSHL, 4))
                        .reinterpretAsBytes().sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s10)
                        .fma(FloatVector.fromArray(F512, x, kb + 32), acc);
                acc = ((FloatVector) l1b.and(0x0F0F0F0F).or(hb.lanewise(VectorOperators.LSHR, 2).and(0x03030303).lanewise(VectorOperators.LSHL, 4))
                        .reinterpretAsBytes().sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s11)
                        .fma(FloatVector.fromArray(F512, x, kb + 48), acc);
                // quarter 2: high nibbles of ql[0..32), bits 4-5
                acc = ((FloatVector) l0a.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                        .or(ha.lanewise(VectorOperators.LSHR, 4).and(0x03030303).lanewise(VectorOperators.LSHL, 4))
                        .reinterpretAsBytes().sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s20)
                        .fma(FloatVector.fromArray(F512, x, kb + 64), acc);
                acc = ((FloatVector) l0b.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                        .or(hb.lanewise(VectorOperators.LSHR, 4).and(0x03030303).lanewise(VectorOperators.LSHL, 4))
                        .reinterpretAsBytes().sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s21)
                        .fma(FloatVector.fromArray(F512, x, kb + 80), acc);
                // quarter 3: high nibbles of ql[32..64), bits 6-7
                acc = ((FloatVector) l1a.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                        .or(ha.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4))
                        .reinterpretAsBytes().sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s30)
                        .fma(FloatVector.fromArray(F512, x, kb + 96), acc);
                acc = ((FloatVector) l1b.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                        .or(hb.lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4))
                        .reinterpretAsBytes().sub((byte) 32).convertShape(VectorOperators.B2F, F512, 0)).mul(s31)
                        .fma(FloatVector.fromArray(F512, x, kb + 112), acc);
            }
        }
        acc.intoArray(lanes, 0); // through memory: a vector crossing a call C2 did not inline is boxed
        return Canonical.treeOf(lanes, 0);
    }

    // ------------------------------------------------------------------ two rows at once (decode)

    /**
     * Rows {@code rowA} and {@code rowB} at once into {@code out[oa]} and {@code out[ob]}: same bits as
     * {@link #row} twice. Two independent FMA chains (one row's chain alone waits on the FMA latency),
     * and, when the rows are far apart, two memory streams the prefetcher follows well (measured: two
     * distant rows stream from DRAM at 10-14 GB/s on 2 threads, single rows 8-10, four adjacent rows
     * 5-10). Returns false when there is no 2-row kernel for this type and length (caller falls back).
     * {@code scratch} holds at least 32 floats: the kernels of both widths hand their accumulators to the
     * tree through it (see {@link Dot256#rows2}).
     */
    public static boolean rows2(GgmlType type, MemorySegment w, long rowA, long rowB, int n, float[] x, int xo,
                                float[] out, int oa, int ob, float[] scratch) {
        if (!Canonical.SIMD || !hasRows2(type, n)) return false;
        long rb = type.byteSize(n), offA = rowA * rb, offB = rowB * rb;
        if (Canonical.SIMD512) rows2x512(type, w, offA, offB, n, x, xo, out, oa, ob, scratch);
        else Dot256.rows2(type, w, offA, offB, n, x, xo, out, oa, ob, scratch);
        return true;
    }

    /**
     * The 512-bit two-row kernels, for the types of {@link #hasRows2}; byte offsets of the two rows.
     * They hand their two accumulators to {@link Canonical#treeOf} through {@code lanes} (32 floats),
     * not as vectors: C2 inlines the first tree of such a kernel and may have no budget left for the
     * second, which then boxes its vector (the 256-bit kernels did that for every matrix row).
     */
    static void rows2x512(GgmlType type, MemorySegment w, long offA, long offB, int n, float[] x, int xo,
                          float[] out, int oa, int ob, float[] lanes) {
        switch (type) {
            case Q8_0 -> q8_0x2(w, offA, offB, n, x, xo, out, oa, ob, lanes);
            case Q4_0 -> q4_0x2(w, offA, offB, n, x, xo, out, oa, ob, lanes);
            case F16 -> f16x2(w, offA, offB, n, x, xo, out, oa, ob, lanes);
            default -> f32x2(w, offA, offB, n, x, xo, out, oa, ob, lanes); // F32 (hasRows2)
        }
    }

    /** Whether {@link #rows2} has a kernel for rows of {@code n} values of {@code type}. */
    public static boolean hasRows2(GgmlType type, int n) {
        return switch (type) {
            case Q8_0, Q4_0 -> true;
            case F16, F32 -> n % 16 == 0;
            default -> false;
        };
    }

    static void q8_0x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0;
        for (int k = 0; k < n; k += 32, o0 += 34, o1 += 34) {
            FloatVector xl = FloatVector.fromArray(F512, x, xo + k), xh = FloatVector.fromArray(F512, x, xo + k + 16);
            float d0 = Dequant.f16(w, o0), d1 = Dequant.f16(w, o1);
            a0 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, o0 + 2, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(d0).fma(xl, a0);
            a1 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, o1 + 2, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(d1).fma(xl, a1);
            a0 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, o0 + 18, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(d0).fma(xh, a0);
            a1 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, o1 + 18, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(d1).fma(xh, a1);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 16);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    static void q4_0x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0;
        for (int k = 0; k < n; k += 32, o0 += 18, o1 += 18) {
            FloatVector xl = FloatVector.fromArray(F512, x, xo + k), xh = FloatVector.fromArray(F512, x, xo + k + 16);
            IntVector t0 = Q4_0_LEVELS.mul(Dequant.f16(w, o0)).reinterpretAsInts(), t1 = Q4_0_LEVELS.mul(Dequant.f16(w, o1)).reinterpretAsInts();
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B128, w, o0 + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B128, w, o1 + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
            a0 = q0.selectFrom(t0, t0).reinterpretAsFloats().fma(xl, a0);
            a1 = q1.selectFrom(t1, t1).reinterpretAsFloats().fma(xl, a1);
            a0 = q0.lanewise(VectorOperators.LSHR, 4).selectFrom(t0, t0).reinterpretAsFloats().fma(xh, a0);
            a1 = q1.lanewise(VectorOperators.LSHR, 4).selectFrom(t1, t1).reinterpretAsFloats().fma(xh, a1);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 16);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    static void f16x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0;
        for (int k = 0; k < n; k += 16) {
            FloatVector xv = FloatVector.fromArray(F512, x, xo + k);
            IntVector h0 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o0 + 2L * k, LE).convertShape(VectorOperators.S2I, I512, 0)).and(0xFFFF);
            IntVector h1 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o1 + 2L * k, LE).convertShape(VectorOperators.S2I, I512, 0)).and(0xFFFF);
            // half -> float inline (see halfToFloat): rebias by 2^112, keep Inf/NaN, restore the sign
            IntVector e0 = h0.and(0x7FFF), e1 = h1.and(0x7FFF);
            IntVector s0 = e0.lanewise(VectorOperators.LSHL, 13), s1 = e1.lanewise(VectorOperators.LSHL, 13);
            IntVector b0 = s0.reinterpretAsFloats().mul(TWO_POW_112).reinterpretAsInts()
                    .blend(s0.or(0x7F800000), e0.compare(VectorOperators.GE, 0x7C00)).or(h0.and(0x8000).lanewise(VectorOperators.LSHL, 16));
            IntVector b1 = s1.reinterpretAsFloats().mul(TWO_POW_112).reinterpretAsInts()
                    .blend(s1.or(0x7F800000), e1.compare(VectorOperators.GE, 0x7C00)).or(h1.and(0x8000).lanewise(VectorOperators.LSHL, 16));
            a0 = b0.reinterpretAsFloats().fma(xv, a0);
            a1 = b1.reinterpretAsFloats().fma(xv, a1);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 16);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    static void f32x2(MemorySegment w, long o0, long o1, int n, float[] x, int xo, float[] out, int oa, int ob, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0;
        for (int k = 0; k < n; k += 16) {
            FloatVector xv = FloatVector.fromArray(F512, x, xo + k);
            a0 = FloatVector.fromMemorySegment(F512, w, o0 + 4L * k, LE).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(F512, w, o1 + 4L * k, LE).fma(xv, a1);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 16);
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    /** 16 IEEE half floats (as the low 16 bits of int lanes) to float, exactly. */
    static FloatVector halfToFloat(IntVector h) {
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        IntVector em = h.and(0x7FFF);
        IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
        // Normal and subnormal halves: reinterpret with the exponent rebiased by a multiplication by 2^112.
        IntVector bits = shifted.reinterpretAsFloats().mul(TWO_POW_112).reinterpretAsInts();
        // Inf and NaN keep their payload with an all-ones exponent.
        VectorMask<Integer> special = em.compare(VectorOperators.GE, 0x7C00);
        bits = bits.blend(shifted.or(0x7F800000), special);
        return bits.or(sign).reinterpretAsFloats();
    }

    static FloatVector loadHalf16(MemorySegment w, long off) {
        ShortVector s = ShortVector.fromMemorySegment(S256, w, off, LE);
        return halfToFloat(((IntVector) s.convertShape(VectorOperators.S2I, I512, 0)).and(0xFFFF));
    }

    static FloatVector loadBf16(MemorySegment w, long off) {
        ShortVector s = ShortVector.fromMemorySegment(S256, w, off, LE);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I512, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
