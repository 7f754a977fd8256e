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

import static dev.lockstep.kernels.Canonical.F512;

/**
 * Dot products in the {@linkplain Canonical canonical order}: float vectors, and one row of a weight
 * matrix (any computable GGML type, read in place from the mapped file) with a float activation vector.
 *
 * <p>Contract of every row kernel: the result equals {@code Canonical.dotScalar(w, x)} where {@code w}
 * is the row dequantized by {@link Dequant} — bit for bit. The weights are dequantized to exactly the
 * reference floats, then fused-multiply-added into the 16 canonical lanes. (For Q8_0/Q4_0 these floats
 * are exact: scale x small integer needs at most 19 significant bits.) The 512-bit path is the fast
 * path; the scalar path serves JVMs with narrower vectors and is the executable specification.
 */
public final class Dot {
    private Dot() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> I512 = IntVector.SPECIES_512;
    private static final float TWO_POW_112 = 0x1p112f;

    // ------------------------------------------------------------------ float . float

    /** Canonical dot of {@code a[ao..ao+n)} and {@code b[bo..bo+n)}. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        if (!Canonical.SIMD512) return Canonical.dotScalar(a, ao, b, bo, n);
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= n; k += 64) {
            a0 = FloatVector.fromArray(F512, a, ao + k).fma(FloatVector.fromArray(F512, b, bo + k), a0);
            a1 = FloatVector.fromArray(F512, a, ao + k + 16).fma(FloatVector.fromArray(F512, b, bo + k + 16), a1);
            a2 = FloatVector.fromArray(F512, a, ao + k + 32).fma(FloatVector.fromArray(F512, b, bo + k + 32), a2);
            a3 = FloatVector.fromArray(F512, a, ao + k + 48).fma(FloatVector.fromArray(F512, b, bo + k + 48), a3);
        }
        if (k < n) {
            // tail: each 16-lane chunk only where it has elements (masked lanes keep their value)
            VectorMask<Float> m0 = F512.indexInRange(k, n), m1 = F512.indexInRange(k + 16, n);
            VectorMask<Float> m2 = F512.indexInRange(k + 32, n), m3 = F512.indexInRange(k + 48, n);
            a0 = a0.blend(FloatVector.fromArray(F512, a, ao + k, m0).fma(FloatVector.fromArray(F512, b, bo + k, m0), a0), m0);
            if (k + 16 < n)
                a1 = a1.blend(FloatVector.fromArray(F512, a, ao + k + 16, m1).fma(FloatVector.fromArray(F512, b, bo + k + 16, m1), a1), m1);
            if (k + 32 < n)
                a2 = a2.blend(FloatVector.fromArray(F512, a, ao + k + 32, m2).fma(FloatVector.fromArray(F512, b, bo + k + 32, m2), a2), m2);
            if (k + 48 < n)
                a3 = a3.blend(FloatVector.fromArray(F512, a, ao + k + 48, m3).fma(FloatVector.fromArray(F512, b, bo + k + 48, m3), a3), m3);
        }
        return Canonical.tree(a0, a1, a2, a3);
    }

    /** Canonical dot of {@code n} little-endian floats at byte {@code off} of {@code seg} with {@code x[xo..)}. */
    public static float segment(MemorySegment seg, long off, int n, float[] x, int xo) {
        if (Canonical.SIMD512) return f32(seg, off, n, x, xo);
        float[] acc = new float[Canonical.LANES];
        for (int k = 0; k < n; k++)
            acc[k & 63] = Math.fma(seg.get(Dequant.F32_LE, off + 4L * k), x[xo + k], acc[k & 63]);
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
        if (!Canonical.SIMD512) return rowScalar(type, w, off, n, x, xo, scratch);
        return switch (type) {
            case F32 -> f32(w, off, n, x, xo);
            case F16 -> n % 16 == 0 ? f16(w, off, n, x, xo) : viaDequant(type, w, off, n, x, xo, scratch);
            case BF16 -> n % 16 == 0 ? bf16(w, off, n, x, xo) : viaDequant(type, w, off, n, x, xo, scratch);
            case Q8_0 -> q8_0(w, off, n, x, xo);
            case Q4_0 -> q4_0(w, off, n, x, xo);
            default -> viaDequant(type, w, off, n, x, xo, scratch);
        };
    }

    /** The scalar path: dequantize block by block with the reference, fma into 64 lanes. */
    static float rowScalar(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        float[] acc = new float[Canonical.LANES];
        int bs = type.blockSize == 1 ? Math.min(n, 256) : type.blockSize;
        for (int k = 0; k < n; k += bs) {
            int len = Math.min(bs, n - k);
            Dequant.dequantize(type, w, off + type.byteSize(k), scratch, 0, len);
            for (int j = 0; j < len; j++) acc[(k + j) & 63] = Math.fma(scratch[j], x[xo + k + j], acc[(k + j) & 63]);
        }
        return Canonical.tree(acc);
    }

    /**
     * Any type: dequantize up to 256 values into scratch with the reference, then vector fma; element k
     * goes to lane k % 64 as always (a 16-chunk at k lands in accumulator (k / 16) % 4).
     */
    private static float viaDequant(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int bs = type.blockSize == 1 ? 256 : type.blockSize;
        for (int k = 0; k < n; k += bs) {
            int len = Math.min(bs, n - k);
            Dequant.dequantize(type, w, off + type.byteSize(k), scratch, 0, len);
            for (int j = 0; j < len; j += 16) {
                VectorMask<Float> m = F512.indexInRange(j, len);
                FloatVector p = FloatVector.fromArray(F512, scratch, j, m);
                FloatVector xv = FloatVector.fromArray(F512, x, xo + k + j, m);
                switch (((k + j) >> 4) & 3) {
                    case 0 -> a0 = a0.blend(p.fma(xv, a0), m);
                    case 1 -> a1 = a1.blend(p.fma(xv, a1), m);
                    case 2 -> a2 = a2.blend(p.fma(xv, a2), m);
                    default -> a3 = a3.blend(p.fma(xv, a3), m);
                }
            }
        }
        return Canonical.tree(a0, a1, a2, a3);
    }

    static float f32(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= n; k += 64) {
            long o = off + 4L * k;
            a0 = FloatVector.fromMemorySegment(F512, w, o, LE).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = FloatVector.fromMemorySegment(F512, w, o + 64, LE).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
            a2 = FloatVector.fromMemorySegment(F512, w, o + 128, LE).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
            a3 = FloatVector.fromMemorySegment(F512, w, o + 192, LE).fma(FloatVector.fromArray(F512, x, xo + k + 48), a3);
        }
        if (k < n) {
            VectorMask<Float> m0 = F512.indexInRange(k, n), m1 = F512.indexInRange(k + 16, n);
            VectorMask<Float> m2 = F512.indexInRange(k + 32, n), m3 = F512.indexInRange(k + 48, n);
            long o = off + 4L * k;
            a0 = a0.blend(FloatVector.fromMemorySegment(F512, w, o, LE, m0).fma(FloatVector.fromArray(F512, x, xo + k, m0), a0), m0);
            if (k + 16 < n)
                a1 = a1.blend(FloatVector.fromMemorySegment(F512, w, o + 64, LE, m1).fma(FloatVector.fromArray(F512, x, xo + k + 16, m1), a1), m1);
            if (k + 32 < n)
                a2 = a2.blend(FloatVector.fromMemorySegment(F512, w, o + 128, LE, m2).fma(FloatVector.fromArray(F512, x, xo + k + 32, m2), a2), m2);
            if (k + 48 < n)
                a3 = a3.blend(FloatVector.fromMemorySegment(F512, w, o + 192, LE, m3).fma(FloatVector.fromArray(F512, x, xo + k + 48, m3), a3), m3);
        }
        return Canonical.tree(a0, a1, a2, a3);
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

    /** F16 rows whose length is a multiple of 16. */
    static float f16(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= n; k += 64) {
            long o = off + 2L * k;
            a0 = loadHalf16(w, o).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = loadHalf16(w, o + 32).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
            a2 = loadHalf16(w, o + 64).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
            a3 = loadHalf16(w, o + 96).fma(FloatVector.fromArray(F512, x, xo + k + 48), a3);
        }
        if (k < n) a0 = loadHalf16(w, off + 2L * k).fma(FloatVector.fromArray(F512, x, xo + k), a0);
        if (k + 16 < n) a1 = loadHalf16(w, off + 2L * k + 32).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
        if (k + 32 < n) a2 = loadHalf16(w, off + 2L * k + 64).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
        return Canonical.tree(a0, a1, a2, a3);
    }

    /** BF16 rows whose length is a multiple of 16. */
    static float bf16(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= n; k += 64) {
            long o = off + 2L * k;
            a0 = loadBf16(w, o).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = loadBf16(w, o + 32).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
            a2 = loadBf16(w, o + 64).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
            a3 = loadBf16(w, o + 96).fma(FloatVector.fromArray(F512, x, xo + k + 48), a3);
        }
        if (k < n) a0 = loadBf16(w, off + 2L * k).fma(FloatVector.fromArray(F512, x, xo + k), a0);
        if (k + 16 < n) a1 = loadBf16(w, off + 2L * k + 32).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
        if (k + 32 < n) a2 = loadBf16(w, off + 2L * k + 64).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
        return Canonical.tree(a0, a1, a2, a3);
    }

    // The quantized kernels are written out in full: helper methods that return vectors may not be
    // inlined by C2 ("callee uses too much stack"), and a vector that crosses a real call is boxed.

    /** Q8_0: blocks 2i and 2i+1 of a row fill lanes 0-31 and 32-63. */
    static float q8_0(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= n; k += 64, off += 68) {
            float d0 = Dequant.f16(w, off), d1 = Dequant.f16(w, off + 34);
            a0 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 18, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
            a2 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 36, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d1).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
            a3 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 52, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d1).fma(FloatVector.fromArray(F512, x, xo + k + 48), a3);
        }
        if (k < n) { // one block left
            float d0 = Dequant.f16(w, off);
            a0 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 18, LE).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
        }
        return Canonical.tree(a0, a1, a2, a3);
    }

    /** Q4_0: the low nibbles of a block are its values 0-15, the high nibbles 16-31. */
    static float q4_0(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k + 64 <= n; k += 64, off += 36) {
            float d0 = Dequant.f16(w, off), d1 = Dequant.f16(w, off + 18);
            ByteVector q0 = ByteVector.fromMemorySegment(B128, w, off + 2, LE), q1 = ByteVector.fromMemorySegment(B128, w, off + 20, LE);
            a0 = ((FloatVector) q0.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
            a2 = ((FloatVector) q1.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d1).fma(FloatVector.fromArray(F512, x, xo + k + 32), a2);
            a3 = ((FloatVector) q1.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d1).fma(FloatVector.fromArray(F512, x, xo + k + 48), a3);
        }
        if (k < n) {
            float d0 = Dequant.f16(w, off);
            ByteVector q0 = ByteVector.fromMemorySegment(B128, w, off + 2, LE);
            a0 = ((FloatVector) q0.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k), a0);
            a1 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                    .mul(d0).fma(FloatVector.fromArray(F512, x, xo + k + 16), a1);
        }
        return Canonical.tree(a0, a1, a2, a3);
    }
}
