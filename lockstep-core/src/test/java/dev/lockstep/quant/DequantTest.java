package dev.lockstep.quant;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.TensorInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each block format decoded by an independent implementation written from the format description
 * (ggml-common.h), computing in double: every product in these formats is exact in float32, so
 * rounding the exact double result once must give exactly the reference dequantizer's float.
 */
class DequantTest {

    private static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    private static double half(byte[] b, int o) {
        return Float.float16ToFloat((short) (u8(b, o) | u8(b, o + 1) << 8));
    }

    private static int bit(byte[] b, int byteOff, int bitIndex) {
        return (u8(b, byteOff + bitIndex / 8) >> (bitIndex % 8)) & 1;
    }

    /** Value {@code i} of the block at {@code o}, straight from the layout description, in double. */
    static double expected(GgmlType t, byte[] b, int o, int i) {
        switch (t) {
            case Q8_0:
                return half(b, o) * b[o + 2 + i];
            case Q4_0: {
                int q = i < 16 ? u8(b, o + 2 + i) & 15 : u8(b, o + 2 + i - 16) >> 4;
                return half(b, o) * (q - 8);
            }
            case Q4_1: {
                int q = i < 16 ? u8(b, o + 4 + i) & 15 : u8(b, o + 4 + i - 16) >> 4;
                return half(b, o) * q + half(b, o + 2);
            }
            case Q5_0: {
                int lo = i < 16 ? u8(b, o + 6 + i) & 15 : u8(b, o + 6 + i - 16) >> 4;
                return half(b, o) * ((lo | bit(b, o + 2, i) << 4) - 16);
            }
            case Q5_1: {
                int lo = i < 16 ? u8(b, o + 8 + i) & 15 : u8(b, o + 8 + i - 16) >> 4;
                return half(b, o) * (lo | bit(b, o + 4, i) << 4) + half(b, o + 2);
            }
            case Q4_K:
            case Q5_K: {
                int sub = i / 32, l = i % 32;
                int[] sc = new int[8], mn = new int[8];
                for (int j = 0; j < 8; j++) {
                    if (j < 4) {
                        sc[j] = u8(b, o + 4 + j) & 63;
                        mn[j] = u8(b, o + 4 + j + 4) & 63;
                    } else {
                        sc[j] = (u8(b, o + 4 + j + 4) & 15) | (u8(b, o + 4 + j - 4) >> 6) << 4;
                        mn[j] = (u8(b, o + 4 + j + 4) >> 4) | (u8(b, o + 4 + j) >> 6) << 4;
                    }
                }
                int qsOff = o + (t == GgmlType.Q4_K ? 16 : 48);
                int byteVal = u8(b, qsOff + 32 * (sub / 2) + l);
                int q = sub % 2 == 0 ? byteVal & 15 : byteVal >> 4;
                if (t == GgmlType.Q5_K) q |= ((u8(b, o + 16 + l) >> sub) & 1) << 4;
                return half(b, o) * sc[sub] * q - half(b, o + 2) * mn[sub];
            }
            case Q6_K: {
                int half128 = i / 128, j = i % 128, quarter = j / 32, l = j % 32;
                int low = u8(b, o + 64 * half128 + l + 32 * (quarter & 1));
                low = quarter < 2 ? low & 15 : low >> 4;
                int high = (u8(b, o + 128 + 32 * half128 + l) >> (2 * quarter)) & 3;
                int q = (low | high << 4) - 32;
                int scale = b[o + 192 + 8 * half128 + l / 16 + 2 * quarter];
                return half(b, o + 208) * scale * q;
            }
            default:
                throw new IllegalArgumentException(t.toString());
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void quantizedBlocksMatchTheFormatDescription(GgmlType t) {
        int blocks = 64;
        byte[] b = DequantTestData.randomBlocks(t, blocks, t.id);
        float[] out = new float[blocks * t.blockSize];
        Dequant.dequantize(t, MemorySegment.ofArray(b), 0, out, 0, out.length);
        for (int blk = 0; blk < blocks; blk++)
            for (int i = 0; i < t.blockSize; i++) {
                float want = (float) expected(t, b, blk * t.typeSize, i);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[blk * t.blockSize + i]),
                        t + " block " + blk + " value " + i + ": " + want + " vs " + out[blk * t.blockSize + i]);
            }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16"})
    void floatFormats(GgmlType t) {
        byte[] b = DequantTestData.randomBlocks(t, 100, 5);
        float[] out = new float[100];
        Dequant.dequantize(t, MemorySegment.ofArray(b), 0, out, 0, 100);
        for (int i = 0; i < 100; i++) {
            int o = i * t.typeSize;
            int bits = u8(b, o) | u8(b, o + 1) << 8;
            float want = switch (t) {
                case F32 -> Float.intBitsToFloat(bits | u8(b, o + 2) << 16 | u8(b, o + 3) << 24);
                case F16 -> Float.float16ToFloat((short) bits);
                default -> Float.intBitsToFloat(bits << 16);
            };
            assertEquals(want, out[i]);
        }
    }

    /**
     * llama.cpp quantized the fixtures' F32 weights into the Q8_0/Q4_0 files: dequantizing those must
     * land within one rounding step of the F32 original. Q8_0 rounds to the nearest multiple of
     * d = amax/127 (error <= d/2); Q4_0 uses d = max/-8, so the other sign clamps at 7d (error <= d).
     * Both quantizers divide by the f32 scale but store it as f16, adding |q| x 2^-11 x d at most.
     */
    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_0"})
    void fixtureQuantizedWeightsDequantizeNearTheirF32Originals(String q) {
        try (GgufFile f32 = GgufFile.open(Fixtures.file("models/tiny-llama-f32.gguf"));
             GgufFile fq = GgufFile.open(Fixtures.file("models/tiny-llama-" + q + ".gguf"))) {
            int checked = 0;
            for (TensorInfo tq : fq.tensors().values()) {
                if (!tq.type().isQuantized()) continue;
                TensorInfo tf = f32.tensor(tq.name());
                int n = (int) tq.elementCount();
                float[] orig = new float[n], deq = new float[n];
                Dequant.dequantize(GgmlType.F32, f32.tensorData(tf), 0, orig, 0, n);
                Dequant.dequantize(tq.type(), fq.tensorData(tq), 0, deq, 0, n);
                MemorySegment data = fq.tensorData(tq);
                float tolerance = q.equals("q8_0") ? 0.5f + 128f / 2048 : 1f + 8f / 2048;
                for (int blk = 0; blk < n / 32; blk++) {
                    float d = Math.abs(Dequant.f16(data, (long) blk * tq.type().typeSize));
                    for (int i = blk * 32; i < blk * 32 + 32; i++)
                        assertTrue(Math.abs(orig[i] - deq[i]) <= d * tolerance + 1e-6f,
                                tq.name() + "[" + i + "]: " + orig[i] + " vs " + deq[i] + " (d " + d + ")");
                }
                checked++;
            }
            assertTrue(checked >= 28, "quantized tensors checked: " + checked);
        }
    }
}
