package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.lockstep.kernels.Canonical.F256;
import static dev.lockstep.kernels.Canonical.F512;

/**
 * Vectorized dequantization into float arrays, producing exactly the floats of the reference
 * {@link Dequant} (tested bit for bit). The batched matrix product dequantizes weight tiles once with
 * it and reuses them for many tokens. Types without a vector form use the reference loop.
 */
final class DequantVec {
    private DequantVec() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Integer> I512 = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I256 = IntVector.SPECIES_256;

    /** Values per unit of work for {@code type}: a whole number of blocks and of 64-lane chunks. */
    static int unit(GgmlType type) {
        return type.blockSize == 256 ? 256 : 64;
    }

    /**
     * Dequantizes values {@code [k, k+len)} of the row starting at byte {@code rowOff} into
     * {@code out[o..)}; {@code k} and {@code len} are multiples of {@link #unit} (len may end the row).
     */
    static void segment(GgmlType type, MemorySegment w, long rowOff, int k, int len, float[] out, int o) {
        long off = rowOff + type.byteSize(k);
        if (Canonical.SIMD256) {
            segment256(type, w, off, len, out, o);
            return;
        }
        if (!Canonical.SIMD512) {
            Dequant.dequantize(type, w, off, out, o, len);
            return;
        }
        switch (type) {
            case Q8_0 -> {
                for (int j = 0; j < len; j += 32, off += 34) {
                    float d = Dequant.f16(w, off);
                    ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.B2F, F512, 0))
                            .mul(d).intoArray(out, o + j);
                    ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 18, LE).convertShape(VectorOperators.B2F, F512, 0))
                            .mul(d).intoArray(out, o + j + 16);
                }
            }
            case Q4_0 -> { // by table lookup, as Dot.q4_0
                for (int j = 0; j < len; j += 32, off += 18) {
                    IntVector tab = Dot.Q4_0_LEVELS.mul(Dequant.f16(w, off)).reinterpretAsInts();
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
                    q.selectFrom(tab, tab).reinterpretAsFloats().intoArray(out, o + j);
                    q.lanewise(VectorOperators.LSHR, 4).selectFrom(tab, tab).reinterpretAsFloats().intoArray(out, o + j + 16);
                }
            }
            case F16 -> {
                if (len % 16 != 0) {
                    Dequant.dequantize(type, w, off, out, o, len);
                    return;
                }
                for (int j = 0; j < len; j += 16) Dot.loadHalf16(w, off + 2L * j).intoArray(out, o + j);
            }
            case BF16 -> {
                if (len % 16 != 0) {
                    Dequant.dequantize(type, w, off, out, o, len);
                    return;
                }
                for (int j = 0; j < len; j += 16) Dot.loadBf16(w, off + 2L * j).intoArray(out, o + j);
            }
            case F32 -> MemorySegment.copy(w, Dequant.F32_LE, off, out, o, len);
            case Q4_K -> {
                for (int j = 0; j < len; j += 256, off += 144) qK(w, off, out, o + j, false);
            }
            case Q5_K -> {
                for (int j = 0; j < len; j += 256, off += 176) qK(w, off, out, o + j, true);
            }
            case Q6_K -> {
                for (int j = 0; j < len; j += 256, off += 210) q6K(w, off, out, o + j);
            }
            default -> Dequant.dequantize(type, w, off, out, o, len);
        }
    }

    /**
     * The 256-bit forms (AVX2) of Q8_0, Q4_0, F16, BF16 and F32: eight values per vector, exactly the
     * products {@link Dot256} forms. The K-quants take the reference loop (they are dequantized once
     * per tile, for many tokens).
     */
    static void segment256(GgmlType type, MemorySegment w, long off, int len, float[] out, int o) {
        switch (type) {
            case Q8_0 -> {
                for (int j = 0; j < len; j += 32, off += 34) {
                    float d = Dequant.f16(w, off);
                    for (int q = 0; q < 32; q += 8)
                        ((FloatVector) ByteVector.fromMemorySegment(B64, w, off + 2 + q, LE).convertShape(VectorOperators.B2F, F256, 0))
                                .mul(d).intoArray(out, o + j + q);
                }
            }
            case Q4_0 -> {
                for (int j = 0; j < len; j += 32, off += 18) {
                    float d = Dequant.f16(w, off);
                    for (int q = 0; q < 16; q += 8) {
                        IntVector b = (IntVector) ByteVector.fromMemorySegment(B64, w, off + 2 + q, LE)
                                .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
                        ((FloatVector) b.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(out, o + j + q);
                        ((FloatVector) b.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d)
                                .intoArray(out, o + j + 16 + q);
                    }
                }
            }
            case F16 -> {
                if (len % 8 != 0) Dequant.dequantize(type, w, off, out, o, len);
                else for (int j = 0; j < len; j += 8) Dot256.half8(w, off + 2L * j).intoArray(out, o + j);
            }
            case BF16 -> {
                if (len % 8 != 0) Dequant.dequantize(type, w, off, out, o, len);
                else for (int j = 0; j < len; j += 8) Dot256.bf16x8(w, off + 2L * j).intoArray(out, o + j);
            }
            case F32 -> MemorySegment.copy(w, Dequant.F32_LE, off, out, o, len);
            default -> Dequant.dequantize(type, w, off, out, o, len);
        }
    }

    /** Dequantizes a whole row of {@code n} values. */
    static void row(GgmlType type, MemorySegment w, long row, int n, float[] out, int o) {
        segment(type, w, row * type.byteSize(n), 0, n, out, o);
    }

    /**
     * Q4_K / Q5_K super-block: value = d*sc*q - dmin*m per sub-block of 32. The product d*sc*q is exact
     * in float (at most 22 significant bits), so {@code fma(q, d*sc, -dmin*m)} rounds exactly once, as
     * the reference's {@code d1 * q - m1} does. (No vector is ever null or merged from two branches here:
     * C2 would box it.)
     */
    private static void qK(MemorySegment w, long bo, float[] out, int o, boolean five) {
        float d = Dequant.f16(w, bo), dmin = Dequant.f16(w, bo + 2);
        long qs = bo + (five ? 48 : 16), qh = bo + 16;
        for (int i = 0; i < 4; i++) {
            int sm1 = Dequant.scaleMinK4Public(2 * i, w, bo + 4), sm2 = Dequant.scaleMinK4Public(2 * i + 1, w, bo + 4);
            float d1 = d * (sm1 & 0xFF), m1 = -(dmin * (sm1 >> 8)), d2 = d * (sm2 & 0xFF), m2 = -(dmin * (sm2 >> 8));
            ByteVector qa = ByteVector.fromMemorySegment(B128, w, qs + 32L * i, LE);
            ByteVector qb = ByteVector.fromMemorySegment(B128, w, qs + 32L * i + 16, LE);
            ByteVector la = qa.and((byte) 0xF), ha = qa.lanewise(VectorOperators.LSHR, 4);
            ByteVector lb = qb.and((byte) 0xF), hb = qb.lanewise(VectorOperators.LSHR, 4);
            if (five) {
                ByteVector h0 = ByteVector.fromMemorySegment(B128, w, qh, LE), h1 = ByteVector.fromMemorySegment(B128, w, qh + 16, LE);
                la = la.or(h0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * i).and(0x01010101).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes());
                ha = ha.or(h0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * i + 1).and(0x01010101).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes());
                lb = lb.or(h1.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * i).and(0x01010101).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes());
                hb = hb.or(h1.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * i + 1).and(0x01010101).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes());
            }
            int base = o + 64 * i;
            ((FloatVector) la.convertShape(VectorOperators.B2F, F512, 0)).fma(d1, m1).intoArray(out, base);
            ((FloatVector) lb.convertShape(VectorOperators.B2F, F512, 0)).fma(d1, m1).intoArray(out, base + 16);
            ((FloatVector) ha.convertShape(VectorOperators.B2F, F512, 0)).fma(d2, m2).intoArray(out, base + 32);
            ((FloatVector) hb.convertShape(VectorOperators.B2F, F512, 0)).fma(d2, m2).intoArray(out, base + 48);
        }
    }

    /** Q6_K super-block: value = (d * scale) * (q - 32), scale per 16 values. */
    private static void q6K(MemorySegment w, long bo, float[] out, int o) {
        float d = Dequant.f16(w, bo + 208);
        for (int n = 0; n < 2; n++) {
            for (int half = 0; half < 2; half++) { // l in [16*half, 16*half+16): one scale per 16 values
                int l = 16 * half;
                ByteVector lo0 = ByteVector.fromMemorySegment(B128, w, bo + 64L * n + l, LE);
                ByteVector lo1 = ByteVector.fromMemorySegment(B128, w, bo + 64L * n + l + 32, LE);
                ByteVector h = ByteVector.fromMemorySegment(B128, w, bo + 128 + 32L * n + l, LE);
                ByteVector q1 = lo0.and((byte) 0xF).or(h.reinterpretAsInts().and(0x03030303).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes()).sub((byte) 32);
                ByteVector q2 = lo1.and((byte) 0xF).or(h.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).and(0x03030303).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes()).sub((byte) 32);
                ByteVector q3 = lo0.lanewise(VectorOperators.LSHR, 4).or(h.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).and(0x03030303).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes()).sub((byte) 32);
                ByteVector q4 = lo1.lanewise(VectorOperators.LSHR, 4).or(h.reinterpretAsInts().lanewise(VectorOperators.LSHR, 6).and(0x03030303).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes()).sub((byte) 32);
                long sc = bo + 192 + 8L * n + half;
                float s1 = d * w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, sc), s2 = d * w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, sc + 2);
                float s3 = d * w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, sc + 4), s4 = d * w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, sc + 6);
                int base = o + 128 * n + l;
                ((FloatVector) q1.convertShape(VectorOperators.B2F, F512, 0)).mul(s1).intoArray(out, base);
                ((FloatVector) q2.convertShape(VectorOperators.B2F, F512, 0)).mul(s2).intoArray(out, base + 32);
                ((FloatVector) q3.convertShape(VectorOperators.B2F, F512, 0)).mul(s3).intoArray(out, base + 64);
                ((FloatVector) q4.convertShape(VectorOperators.B2F, F512, 0)).mul(s4).intoArray(out, base + 96);
            }
        }
    }
}
