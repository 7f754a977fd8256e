package dev.lockstep.quant;

import dev.lockstep.gguf.GgmlType;

import java.util.Random;

/** Random but valid blocks of every format, for kernel and dequantization tests. */
public final class DequantTestData {
    private DequantTestData() {}

    /** Random blocks whose f16 scales are finite and moderate. */
    public static byte[] randomBlocks(GgmlType t, int blocks, long seed) {
        Random r = new Random(seed);
        byte[] b = new byte[blocks * t.typeSize];
        r.nextBytes(b);
        for (int i = 0; i < blocks; i++) {
            int o = i * t.typeSize;
            switch (t) {
                case F16, BF16, F32 -> { }
                case Q6_K -> putHalf(b, o + 208, r);
                case Q4_1, Q5_1, Q4_K, Q5_K -> {
                    putHalf(b, o, r);
                    putHalf(b, o + 2, r);
                }
                default -> putHalf(b, o, r);
            }
        }
        if (t == GgmlType.F16 || t == GgmlType.BF16 || t == GgmlType.F32) {
            // avoid NaN/Inf patterns: random finite values
            for (int i = 0; i < b.length; i += t.typeSize) {
                float v = (float) r.nextGaussian();
                int bits = t == GgmlType.F32 ? Float.floatToIntBits(v) : t == GgmlType.F16 ? Float.floatToFloat16(v)
                        : Float.floatToIntBits(v) >>> 16;
                for (int k = 0; k < t.typeSize; k++) b[i + k] = (byte) (bits >>> (8 * k));
            }
        }
        return b;
    }

    private static void putHalf(byte[] b, int o, Random r) {
        short h = Float.floatToFloat16((float) (r.nextGaussian() * 0.05));
        b[o] = (byte) h;
        b[o + 1] = (byte) (h >> 8);
    }

}
