package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The GGUF block formats of {@link Int8Weights} read as integers, and the INT8-activation product of
 * one row and one token written one value at a time: the executable specification every kernel of
 * {@link Int8Gemm} is tested against, bit for bit. It reads the file's own blocks, not the
 * rearranged copy, so a test of a kernel is a test of the rearrangement too.
 */
final class Int8Formats {
    private Int8Formats() {}

    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /**
     * The block at {@code off} as integers: its values into {@code q[qo..qo+blockSize)} (Q4_0 the
     * nibble, Q4_K/Q5_K/Q6_K the unsigned level before any offset), its f16
     * scale (and minimum scale) bits into {@code halves[2r]} (and {@code [2r+1]}), its 8-bit sub-block
     * scales into {@code scales[so + j]} and minimums into {@code scales[so + 16 + j]}.
     */
    static void unpack(GgmlType type, MemorySegment s, long off, int[] q, int qo, int[] scales, int so, short[] halves, int r) {
        switch (type) {
            case Q4_0 -> {
                halves[2 * r] = s.get(F16, off);
                for (int k = 0; k < 16; k++) {
                    int b = u8(s, off + 2 + k);
                    q[qo + k] = b & 15;
                    q[qo + k + 16] = b >> 4;
                }
            }
            case Q4_K, Q5_K -> {
                halves[2 * r] = s.get(F16, off);
                halves[2 * r + 1] = s.get(F16, off + 2);
                for (int j = 0; j < 8; j++) {
                    int sm = dev.lockstep.quant.Dequant.scaleMinK4Public(j, s, off + 4);
                    scales[so + j] = sm & 0xFF;
                    scales[so + 16 + j] = sm >> 8;
                }
                boolean five = type == GgmlType.Q5_K;
                long qs = off + (five ? 48 : 16), qh = off + 16;
                for (int i = 0; i < 4; i++)
                    for (int l = 0; l < 32; l++) {
                        int b = u8(s, qs + 32 * i + l), h = five ? u8(s, qh + l) : 0;
                        q[qo + 64 * i + l] = (b & 15) | ((h >> (2 * i)) & 1) << 4;
                        q[qo + 64 * i + 32 + l] = (b >> 4) | ((h >> (2 * i + 1)) & 1) << 4;
                    }
            }
            case Q6_K -> {
                long ql = off, qh = off + 128, sc = off + 192;
                halves[2 * r] = s.get(F16, off + 208);
                for (int j = 0; j < 16; j++) scales[so + j] = s.get(ValueLayout.JAVA_BYTE, sc + j);
                for (int n = 0; n < 2; n++)
                    for (int l = 0; l < 32; l++) {
                        int lo0 = u8(s, ql + 64 * n + l), lo1 = u8(s, ql + 64 * n + l + 32), h = u8(s, qh + 32 * n + l);
                        q[qo + 128 * n + l] = (lo0 & 15) | (h & 3) << 4;
                        q[qo + 128 * n + l + 32] = (lo1 & 15) | ((h >> 2) & 3) << 4;
                        q[qo + 128 * n + l + 64] = (lo0 >> 4) | ((h >> 4) & 3) << 4;
                        q[qo + 128 * n + l + 96] = (lo1 >> 4) | ((h >> 6) & 3) << 4;
                    }
            }
            default -> throw new IllegalArgumentException("no INT8 layout for " + type);
        }
    }

    /**
     * The specification of {@link Int8Weights}: the row at byte {@code rowOff} of {@code w} (the
     * file's blocks), {@code n} values, times token {@code t} of {@code a}.
     */
    static float dot(GgmlType type, MemorySegment w, long rowOff, int n, Int8Activations a, int t) {
        int[] pairs = a.pairs(), sums = a.sums(), q = new int[256], scales = new int[32];
        float[] da = a.scales();
        int po = a.pairsOffset(t), bo = a.blockOffset(t), bs = type.blockSize;
        short[] halves = new short[2];
        float acc = 0;
        for (int u = 0; u < n / bs; u++) {
            unpack(type, w, rowOff + (long) u * type.typeSize, q, 0, scales, 0, halves, 0);
            int k0 = u * bs;
            float d = Float.float16ToFloat(halves[0]), dmin = Float.float16ToFloat(halves[1]);
            switch (type) {
                case Q4_0 -> acc = Math.fma((float) sum(q, 0, pairs, po, k0, 32, 8), d * da[bo + k0 / 32], acc);
                case Q4_K, Q5_K -> {
                    for (int j = 0; j < 8; j++) {
                        int blk = bo + (k0 + 32 * j) / 32;
                        float c1 = d * scales[j], c2 = dmin * scales[16 + j];
                        acc = Math.fma((float) sum(q, 32 * j, pairs, po, k0 + 32 * j, 32, 0), c1 * da[blk], acc);
                        acc = Math.fma((float) sums[blk], -(c2 * da[blk]), acc);
                    }
                }
                case Q6_K -> {
                    for (int j = 0; j < 16; j++) {
                        int blk = bo + (k0 + 16 * j) / 32;
                        acc = Math.fma((float) sum(q, 16 * j, pairs, po, k0 + 16 * j, 16, 32), d * scales[j] * da[blk], acc);
                    }
                }
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return acc;
    }

    /** The exact integer {@code sum (q[qo+i] - offset) * a[k0+i]} over {@code len} values. */
    private static long sum(int[] q, int qo, int[] pairs, int po, int k0, int len, int offset) {
        long s = 0;
        for (int i = 0; i < len; i++) s += (long) (q[qo + i] - offset) * Int8Activations.value(pairs, po, k0 + i);
        return s;
    }
}
