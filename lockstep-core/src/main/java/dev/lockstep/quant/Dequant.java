package dev.lockstep.quant;

import dev.lockstep.gguf.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar reference dequantization of every computable GGML type, written straight from the block
 * definitions in ggml-common.h. Every fast kernel is tested to produce, value for value, exactly the
 * floats these loops produce; the arithmetic and its order here are therefore part of Lockstep's numerics.
 *
 * <p>Note on exactness: for Q8_0, Q4_0, Q5_0, Q4_K and Q5_K every product {@code scale * q} below is
 * exact in float32 (an f16 scale has an 11-bit significand; scale x 6-bit sub-scale x 5-bit quant
 * needs at most 22 bits), so the only rounding in those formats is the final subtraction of a min.
 */
public final class Dequant {
    private Dequant() {}

    static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Super-block size of the K-quants. */
    public static final int QK_K = 256;

    /**
     * Dequantizes {@code n} values (a multiple of the block size) starting at byte {@code off} of
     * {@code src} into {@code dst[dstOff ..]}.
     */
    public static void dequantize(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (n % type.blockSize != 0) throw new IllegalArgumentException(n + " values: not whole " + type + " blocks");
        int blocks = n / type.blockSize;
        for (int b = 0; b < blocks; b++) {
            long bo = off + (long) b * type.typeSize;
            int o = dstOff + b * type.blockSize;
            switch (type) {
                case F32 -> dst[o] = src.get(F32_LE, bo);
                case F16 -> dst[o] = f16(src, bo);
                case BF16 -> dst[o] = bf16(src, bo);
                case Q8_0 -> q8_0(src, bo, dst, o);
                case Q4_0 -> q4_0(src, bo, dst, o);
                case Q4_1 -> q4_1(src, bo, dst, o);
                case Q5_0 -> q5_0(src, bo, dst, o);
                case Q5_1 -> q5_1(src, bo, dst, o);
                case Q4_K -> q4_K(src, bo, dst, o);
                case Q5_K -> q5_K(src, bo, dst, o);
                case Q6_K -> q6_K(src, bo, dst, o);
                default -> throw new UnsupportedOperationException("cannot dequantize " + type);
            }
        }
    }

    /** Dequantizes row {@code row} of a matrix whose rows have {@code cols} values. */
    public static void dequantizeRow(GgmlType type, MemorySegment src, long row, int cols, float[] dst, int dstOff) {
        dequantize(type, src, row * type.byteSize(cols), dst, dstOff, cols);
    }

    public static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(F16, off));
    }

    public static float bf16(MemorySegment s, long off) {
        return Float.intBitsToFloat((s.get(F16, off) & 0xFFFF) << 16);
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    // block_q8_0 { f16 d; int8 qs[32]; }  y[j] = d * qs[j]
    private static void q8_0(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo);
        for (int j = 0; j < 32; j++) y[o + j] = d * s.get(ValueLayout.JAVA_BYTE, bo + 2 + j);
    }

    // block_q4_0 { f16 d; u8 qs[16]; }  y[j] = d * ((qs[j] & 15) - 8), y[j+16] = d * ((qs[j] >> 4) - 8)
    private static void q4_0(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, bo + 2 + j);
            y[o + j] = d * ((q & 0xF) - 8);
            y[o + j + 16] = d * ((q >> 4) - 8);
        }
    }

    // block_q4_1 { f16 d; f16 m; u8 qs[16]; }  y = d * q + m
    private static void q4_1(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo), m = f16(s, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, bo + 4 + j);
            y[o + j] = d * (q & 0xF) + m;
            y[o + j + 16] = d * (q >> 4) + m;
        }
    }

    // block_q5_0 { f16 d; u8 qh[4]; u8 qs[16]; }  5th bit of value j in bit j of qh (j < 32)
    private static void q5_0(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo);
        int qh = s.get(I32, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, bo + 6 + j);
            int x0 = ((q & 0xF) | (((qh >>> j) & 1) << 4)) - 16;
            int x1 = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16;
            y[o + j] = d * x0;
            y[o + j + 16] = d * x1;
        }
    }

    // block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16]; }  y = d * q + m
    private static void q5_1(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo), m = f16(s, bo + 2);
        int qh = s.get(I32, bo + 4);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, bo + 8 + j);
            int x0 = (q & 0xF) | (((qh >>> j) & 1) << 4);
            int x1 = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
            y[o + j] = d * x0 + m;
            y[o + j + 16] = d * x1 + m;
        }
    }

    /**
     * The 6-bit scale and min of sub-block {@code j} (0..7) of a Q4_K/Q5_K block, packed in 12 bytes:
     * sub-blocks 0..3 in the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 take
     * their low 4 bits from bytes 8..11 and their high 2 bits from the top of bytes 0..7.
     * Returns scale in the low byte, min in the next.
     */
    public static int scaleMinK4Public(int j, MemorySegment s, long scalesOff) {
        return scaleMinK4(j, s, scalesOff);
    }

    static int scaleMinK4(int j, MemorySegment s, long scalesOff) {
        int sc, m;
        if (j < 4) {
            sc = u8(s, scalesOff + j) & 63;
            m = u8(s, scalesOff + j + 4) & 63;
        } else {
            sc = (u8(s, scalesOff + j + 4) & 0xF) | ((u8(s, scalesOff + j - 4) >> 6) << 4);
            m = (u8(s, scalesOff + j + 4) >> 4) | ((u8(s, scalesOff + j) >> 6) << 4);
        }
        return sc | (m << 8);
    }

    // block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }  256 values in 8 sub-blocks of 32.
    // Sub-blocks 2i and 2i+1 share the 32 bytes qs[32i..32i+31]: low nibbles, then high nibbles.
    private static void q4_K(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo), dmin = f16(s, bo + 2);
        long scales = bo + 4, qs = bo + 16;
        for (int i = 0; i < 4; i++) {
            int sm1 = scaleMinK4(2 * i, s, scales), sm2 = scaleMinK4(2 * i + 1, s, scales);
            float d1 = d * (sm1 & 0xFF), m1 = dmin * (sm1 >> 8);
            float d2 = d * (sm2 & 0xFF), m2 = dmin * (sm2 >> 8);
            for (int l = 0; l < 32; l++) {
                int q = u8(s, qs + 32 * i + l);
                y[o + 64 * i + l] = d1 * (q & 0xF) - m1;
                y[o + 64 * i + 32 + l] = d2 * (q >> 4) - m2;
            }
        }
    }

    // block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }
    // As Q4_K, with the 5th bit of value l of sub-block k in bit k of qh[l].
    private static void q5_K(MemorySegment s, long bo, float[] y, int o) {
        float d = f16(s, bo), dmin = f16(s, bo + 2);
        long scales = bo + 4, qh = bo + 16, qs = bo + 48;
        for (int i = 0; i < 4; i++) {
            int sm1 = scaleMinK4(2 * i, s, scales), sm2 = scaleMinK4(2 * i + 1, s, scales);
            float d1 = d * (sm1 & 0xFF), m1 = dmin * (sm1 >> 8);
            float d2 = d * (sm2 & 0xFF), m2 = dmin * (sm2 >> 8);
            for (int l = 0; l < 32; l++) {
                int q = u8(s, qs + 32 * i + l);
                int h = u8(s, qh + l);
                int q1 = (q & 0xF) | (((h >> (2 * i)) & 1) << 4);
                int q2 = (q >> 4) | (((h >> (2 * i + 1)) & 1) << 4);
                y[o + 64 * i + l] = d1 * q1 - m1;
                y[o + 64 * i + 32 + l] = d2 * q2 - m2;
            }
        }
    }

    // block_q6_K { u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d; }  256 values, 16 sub-blocks of 16.
    // Two halves of 128 values; in half n, value l+32k (k = 0..3, l = 0..31) has low 4 bits from
    // ql[64n + l + 32(k&1)] (low nibble for k < 2, high for k >= 2) and high 2 bits from
    // qh[32n + l] >> 2k; its scale is scales[8n + l/16 + 2k]. y = (d * scale) * (q - 32).
    private static void q6_K(MemorySegment s, long bo, float[] y, int o) {
        long ql = bo, qh = bo + 128, sc = bo + 192;
        float d = f16(s, bo + 208);
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int lo0 = u8(s, ql + 64 * n + l), lo1 = u8(s, ql + 64 * n + l + 32);
                int h = u8(s, qh + 32 * n + l);
                int q1 = ((lo0 & 0xF) | (((h >> 0) & 3) << 4)) - 32;
                int q2 = ((lo1 & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32;
                long scn = sc + 8 * n;
                y[o + 128 * n + l] = d * s.get(ValueLayout.JAVA_BYTE, scn + is) * q1;
                y[o + 128 * n + l + 32] = d * s.get(ValueLayout.JAVA_BYTE, scn + is + 2) * q2;
                y[o + 128 * n + l + 64] = d * s.get(ValueLayout.JAVA_BYTE, scn + is + 4) * q3;
                y[o + 128 * n + l + 96] = d * s.get(ValueLayout.JAVA_BYTE, scn + is + 6) * q4;
            }
        }
    }
}
