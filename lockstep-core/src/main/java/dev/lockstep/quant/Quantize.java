package dev.lockstep.quant;

import dev.lockstep.gguf.GgmlType;

/**
 * Weight quantization into GGML block formats, following llama.cpp's reference quantizers (the ones
 * {@code llama-quantize} uses without an importance matrix): Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 give the
 * same bytes as llama.cpp for the same input (tested against the fixture files it wrote); the K-quants
 * use the same search for scales and mins (weighted least squares over a grid of candidate scales).
 *
 * <p>Rounding notes: {@code roundf} rounds half away from zero (not Java's half-up); the quantizers
 * divide by the f32 scale but store it as f16 (round to nearest even, like F16C's vcvtps2ph).
 */
public final class Quantize {
    private Quantize() {}

    private static final float GROUP_MAX_EPS = 1e-15f;

    /** Quantizes {@code n} values (whole blocks) of {@code x} from {@code off} into {@code out} at {@code outOff}. */
    public static void quantize(GgmlType type, float[] x, int off, int n, byte[] out, int outOff) {
        if (n % type.blockSize != 0) throw new IllegalArgumentException(n + " values: not whole " + type + " blocks");
        int blocks = n / type.blockSize;
        for (int b = 0; b < blocks; b++) {
            int xo = off + b * type.blockSize, o = outOff + b * type.typeSize;
            switch (type) {
                case F32 -> putInt(out, o, Float.floatToRawIntBits(x[xo]));
                case F16 -> putShort(out, o, Float.floatToFloat16(x[xo]));
                case BF16 -> putShort(out, o, bf16(x[xo]));
                case Q8_0 -> q8_0(x, xo, out, o);
                case Q4_0 -> q4_0(x, xo, out, o);
                case Q4_1 -> q4_1(x, xo, out, o);
                case Q5_0 -> q5_0(x, xo, out, o);
                case Q5_1 -> q5_1(x, xo, out, o);
                case Q4_K -> qK(x, xo, out, o, false);
                case Q5_K -> qK(x, xo, out, o, true);
                case Q6_K -> q6_K(x, xo, out, o);
                default -> throw new UnsupportedOperationException("cannot quantize to " + type);
            }
        }
    }

    /** Quantizes a whole array, returning the bytes. */
    public static byte[] quantize(GgmlType type, float[] x) {
        byte[] out = new byte[(int) type.byteSize(x.length)];
        quantize(type, x, 0, x.length, out, 0);
        return out;
    }

    static short bf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 64); // quiet NaN
        return (short) ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16); // round to nearest even
    }

    private static void putShort(byte[] b, int o, short v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >> 8);
    }

    private static void putInt(byte[] b, int o, int v) {
        for (int i = 0; i < 4; i++) b[o + i] = (byte) (v >>> (8 * i));
    }

    /** C's roundf: to nearest, halves away from zero (computed exactly in double). */
    static int roundf(float v) {
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -a : a);
    }

    /** C's (int8_t) cast of a float in range: truncation toward zero. */
    private static int trunc(float v) {
        return (int) v;
    }

    /** llama.cpp's nearest_int: round half to even through the 1.5 * 2^23 trick. */
    static int nearestInt(float v) {
        float t = v + 12582912.f;
        return (Float.floatToRawIntBits(t) & 0x007fffff) - 0x00400000;
    }

    private static void q8_0(float[] x, int xo, byte[] out, int o) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0f;
        putShort(out, o, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) out[o + 2 + j] = (byte) roundf(x[xo + j] * id);
    }

    /** The value of largest magnitude (first one on ties), as Q4_0/Q5_0 pick it. */
    private static float signedAbsMax(float[] x, int xo) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    private static void q4_0(float[] x, int xo, byte[] out, int o) {
        float d = signedAbsMax(x, xo) / -8;
        float id = d != 0 ? 1.0f / d : 0f;
        putShort(out, o, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, trunc(x[xo + j] * id + 8.5f));
            int q1 = Math.min(15, trunc(x[xo + 16 + j] * id + 8.5f));
            out[o + 2 + j] = (byte) (q0 | q1 << 4);
        }
    }

    private static void q4_1(float[] x, int xo, byte[] out, int o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[xo + j]);
            max = Math.max(max, x[xo + j]);
        }
        float d = (max - min) / 15;
        float id = d != 0 ? 1.0f / d : 0f;
        putShort(out, o, Float.floatToFloat16(d));
        putShort(out, o + 2, Float.floatToFloat16(min));
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, trunc((x[xo + j] - min) * id + 0.5f));
            int q1 = Math.min(15, trunc((x[xo + 16 + j] - min) * id + 0.5f));
            out[o + 4 + j] = (byte) (q0 | q1 << 4);
        }
    }

    private static void q5_0(float[] x, int xo, byte[] out, int o) {
        float d = signedAbsMax(x, xo) / -16;
        float id = d != 0 ? 1.0f / d : 0f;
        putShort(out, o, Float.floatToFloat16(d));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(31, trunc(x[xo + j] * id + 16.5f));
            int q1 = Math.min(31, trunc(x[xo + 16 + j] * id + 16.5f));
            out[o + 6 + j] = (byte) ((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= ((q0 & 0x10) >> 4) << j;
            qh |= ((q1 & 0x10) >> 4) << (j + 16);
        }
        putInt(out, o + 2, qh);
    }

    private static void q5_1(float[] x, int xo, byte[] out, int o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[xo + j]);
            max = Math.max(max, x[xo + j]);
        }
        float d = (max - min) / 31;
        float id = d != 0 ? 1.0f / d : 0f;
        putShort(out, o, Float.floatToFloat16(d));
        putShort(out, o + 2, Float.floatToFloat16(min));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = trunc((x[xo + j] - min) * id + 0.5f) & 0xFF;
            int q1 = trunc((x[xo + 16 + j] - min) * id + 0.5f) & 0xFF;
            out[o + 8 + j] = (byte) ((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= ((q0 & 0x10) >> 4) << j;
            qh |= ((q1 & 0x10) >> 4) << (j + 16);
        }
        putInt(out, o + 4, qh);
    }

    /**
     * Scale and (negated) min for 32 values quantized to [0, nmax], minimising the weighted squared
     * error over a grid of candidate scales (llama.cpp's make_qkx2_quants). Returns {scale, min}.
     */
    static float[] scaleAndMin(float[] x, int xo, int n, int nmax, float[] w, int[] L, float rmin, float rdelta, int nstep) {
        float min = x[xo], max = x[xo];
        float sumW = w[0], sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            if (x[xo + i] < min) min = x[xo + i];
            if (x[xo + i] > max) max = x[xo + i];
            sumW += w[i];
            sumX += w[i] * x[xo + i];
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) L[i] = 0;
            return new float[]{0f, -min};
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
            L[i] = l;
            float diff = scale * l + min - x[xo + i];
            bestError += w[i] * diff * diff;
        }
        int[] aux = new int[n];
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                aux[i] = l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float err = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    err += w[i] * diff * diff;
                }
                if (err < bestError) {
                    System.arraycopy(aux, 0, L, 0, n);
                    bestError = err;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        return new float[]{scale, -min};
    }

    /** Q4_K (5 bits = false) or Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins. */
    private static void qK(float[] x, int xo, byte[] out, int o, boolean five) {
        int nmax = five ? 31 : 15;
        float[] scales = new float[8], mins = new float[8], w = new float[32];
        int[] L = new int[256], Ls = new int[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) w[l] = avX + Math.abs(x[xo + 32 * j + l]);
            float[] sm = five ? scaleAndMin(x, xo + 32 * j, 32, nmax, w, Ls, -0.5f, 0.1f, 15)
                    : scaleAndMin(x, xo + 32 * j, 32, nmax, w, Ls, -1f, 0.1f, 20);
            System.arraycopy(Ls, 0, L, 32 * j, 32);
            scales[j] = sm[0];
            mins[j] = sm[1];
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0f, invMin = maxMin > 0 ? 63.f / maxMin : 0f;
        int sc0 = o + 4;
        for (int j = 0; j < 12; j++) out[sc0 + j] = 0;
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                out[sc0 + j] = (byte) ls;
                out[sc0 + j + 4] = (byte) lm;
            } else {
                out[sc0 + j + 4] = (byte) ((ls & 0xF) | (lm & 0xF) << 4);
                out[sc0 + j - 4] |= (byte) ((ls >> 4) << 6);
                out[sc0 + j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dh = Float.floatToFloat16(maxScale / 63.f), dminh = Float.floatToFloat16(maxMin / 63.f);
        putShort(out, o, dh);
        putShort(out, o + 2, dminh);
        var seg = java.lang.foreign.MemorySegment.ofArray(out);
        for (int j = 0; j < 8; j++) {
            int smk = Dequant.scaleMinK4(j, seg, sc0);
            float d = Float.float16ToFloat(dh) * (smk & 0xFF);
            if (d == 0) continue;
            float dm = Float.float16ToFloat(dminh) * (smk >> 8);
            for (int ii = 0; ii < 32; ii++)
                L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt((x[xo + 32 * j + ii] + dm) / d)));
        }
        if (five) {
            int qh = o + 16, ql = o + 48;
            for (int j = 0; j < 32; j++) out[qh + j] = 0;
            int m1 = 1, m2 = 2;
            for (int n = 0; n < 256; n += 64) {
                for (int j = 0; j < 32; j++) {
                    int l1 = L[n + j], l2 = L[n + j + 32];
                    if (l1 > 15) {
                        l1 -= 16;
                        out[qh + j] |= (byte) m1;
                    }
                    if (l2 > 15) {
                        l2 -= 16;
                        out[qh + j] |= (byte) m2;
                    }
                    out[ql + n / 2 + j] = (byte) (l1 | l2 << 4);
                }
                m1 <<= 2;
                m2 <<= 2;
            }
        } else {
            int q = o + 16;
            for (int n = 0; n < 256; n += 64)
                for (int l = 0; l < 32; l++) out[q + n / 2 + l] = (byte) (L[n + l] | L[n + l + 32] << 4);
        }
    }

    /** Signed scale for 16 values quantized to [-nmax, nmax-1], weighted by x^2 (make_qx_quants, rmse type 1). */
    static float signedScale(float[] x, int xo, int n, int nmax, int[] L) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
            L[i] = l + nmax;
            float w = x[xo + i] * x[xo + i];
            sumLX += w * x[xo + i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                float w = x[xo + i] * x[xo + i];
                sumLX += w * x[xo + i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) L[i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    private static void q6_K(float[] x, int xo, byte[] out, int o) {
        float[] scales = new float[16];
        int[] L = new int[256], Ls = new int[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            float s = signedScale(x, xo + 16 * ib, 16, 32, Ls);
            System.arraycopy(Ls, 0, L, 16 * ib, 16);
            scales[ib] = s;
            if (Math.abs(s) > maxAbsScale) {
                maxAbsScale = Math.abs(s);
                maxScale = s;
            }
        }
        for (int i = 0; i < 210; i++) out[o + i] = 0;
        if (maxAbsScale < GROUP_MAX_EPS) return;
        float iscale = -128.f / maxScale;
        short dh = Float.floatToFloat16(1 / iscale);
        putShort(out, o + 208, dh);
        for (int ib = 0; ib < 16; ib++) out[o + 192 + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
        for (int j = 0; j < 16; j++) {
            float d = Float.float16ToFloat(dh) * out[o + 192 + j];
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(x[xo + 16 * j + ii] / d))) + 32;
        }
        int ql = o, qh = o + 128;
        for (int j = 0; j < 256; j += 128) {
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                out[ql + l] = (byte) (q1 | q3 << 4);
                out[ql + l + 32] = (byte) (q2 | q4 << 4);
                out[qh + l] = (byte) ((L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 | (L[j + l + 64] >> 4) << 4 | (L[j + l + 96] >> 4) << 6);
            }
            ql += 64;
            qh += 32;
        }
    }
}
