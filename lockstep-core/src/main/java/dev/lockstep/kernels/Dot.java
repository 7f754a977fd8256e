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
        FloatVector acc = FloatVector.zero(F512);
        int k = 0;
        for (; k + 16 <= n; k += 16)
            acc = FloatVector.fromArray(F512, a, ao + k).fma(FloatVector.fromArray(F512, b, bo + k), acc);
        if (k < n) {
            VectorMask<Float> m = F512.indexInRange(k, n);
            FloatVector p = FloatVector.fromArray(F512, a, ao + k, m).fma(FloatVector.fromArray(F512, b, bo + k, m), acc);
            acc = acc.blend(p, m);
        }
        return Canonical.tree(acc);
    }

    /** Canonical dot of {@code n} little-endian floats at byte {@code off} of {@code seg} with {@code x[xo..)}. */
    public static float segment(MemorySegment seg, long off, int n, float[] x, int xo) {
        if (Canonical.SIMD512) return f32(seg, off, n, x, xo);
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
        if (!Canonical.SIMD512) return rowScalar(type, w, off, n, x, xo, scratch);
        return switch (type) {
            case F32 -> f32(w, off, n, x, xo);
            case F16 -> f16(w, off, n, x, xo);
            case BF16 -> bf16(w, off, n, x, xo);
            case Q8_0 -> q8_0(w, off, n, x, xo);
            case Q4_0 -> q4_0(w, off, n, x, xo);
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

    /** Any type: dequantize one block into scratch with the reference, then vector fma (block sizes are multiples of 16). */
    private static float viaDequant(GgmlType type, MemorySegment w, long off, int n, float[] x, int xo, float[] scratch) {
        FloatVector acc = FloatVector.zero(F512);
        int bs = type.blockSize;
        for (int k = 0; k < n; k += bs) {
            Dequant.dequantize(type, w, off + type.byteSize(k), scratch, 0, bs);
            for (int j = 0; j < bs; j += 16)
                acc = FloatVector.fromArray(F512, scratch, j).fma(FloatVector.fromArray(F512, x, xo + k + j), acc);
        }
        return Canonical.tree(acc);
    }

    static float f32(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector acc = FloatVector.zero(F512);
        int k = 0;
        for (; k + 16 <= n; k += 16)
            acc = FloatVector.fromMemorySegment(F512, w, off + 4L * k, LE).fma(FloatVector.fromArray(F512, x, xo + k), acc);
        if (k < n) {
            VectorMask<Float> m = F512.indexInRange(k, n);
            FloatVector p = FloatVector.fromMemorySegment(F512, w, off + 4L * k, LE, m)
                    .fma(FloatVector.fromArray(F512, x, xo + k, m), acc);
            acc = acc.blend(p, m);
        }
        return Canonical.tree(acc);
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

    static float f16(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector acc = FloatVector.zero(F512);
        int k = 0;
        for (; k + 16 <= n; k += 16)
            acc = loadHalf16(w, off + 2L * k).fma(FloatVector.fromArray(F512, x, xo + k), acc);
        for (; k < n; k++) { // tail (rows of F16 tensors are rarely not a multiple of 16)
            float[] lanes = acc.toArray();
            lanes[k & 15] = Math.fma(Dequant.f16(w, off + 2L * k), x[xo + k], lanes[k & 15]);
            acc = FloatVector.fromArray(F512, lanes, 0);
        }
        return Canonical.tree(acc);
    }

    static float bf16(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector acc = FloatVector.zero(F512);
        int k = 0;
        for (; k + 16 <= n; k += 16) {
            ShortVector s = ShortVector.fromMemorySegment(S256, w, off + 2L * k, LE);
            FloatVector wv = ((IntVector) s.convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            acc = wv.fma(FloatVector.fromArray(F512, x, xo + k), acc);
        }
        for (; k < n; k++) {
            float[] lanes = acc.toArray();
            lanes[k & 15] = Math.fma(Dequant.bf16(w, off + 2L * k), x[xo + k], lanes[k & 15]);
            acc = FloatVector.fromArray(F512, lanes, 0);
        }
        return Canonical.tree(acc);
    }

    static float q8_0(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 32, off += 34) {
            float d = Dequant.f16(w, off);
            FloatVector w0 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE)
                    .convertShape(VectorOperators.B2F, F512, 0)).mul(d);
            FloatVector w1 = ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 18, LE)
                    .convertShape(VectorOperators.B2F, F512, 0)).mul(d);
            acc = w0.fma(FloatVector.fromArray(F512, x, xo + k), acc);
            acc = w1.fma(FloatVector.fromArray(F512, x, xo + k + 16), acc);
        }
        return Canonical.tree(acc);
    }

    static float q4_0(MemorySegment w, long off, int n, float[] x, int xo) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0; k < n; k += 32, off += 18) {
            float d = Dequant.f16(w, off);
            ByteVector q = ByteVector.fromMemorySegment(B128, w, off + 2, LE);
            ByteVector lo = q.and((byte) 0xF).sub((byte) 8);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
            FloatVector w0 = ((FloatVector) lo.convertShape(VectorOperators.B2F, F512, 0)).mul(d);
            FloatVector w1 = ((FloatVector) hi.convertShape(VectorOperators.B2F, F512, 0)).mul(d);
            acc = w0.fma(FloatVector.fromArray(F512, x, xo + k), acc);
            acc = w1.fma(FloatVector.fromArray(F512, x, xo + k + 16), acc);
        }
        return Canonical.tree(acc);
    }
}
