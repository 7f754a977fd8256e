package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import dev.lockstep.quant.DequantTestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The INT8-activation products: the activation quantizer's rounding, the 256-bit kernels against the
 * scalar specification (bit for bit, on any machine: without native vectors the Vector API runs them
 * in Java), the specification against float64, and the accuracy of the mode against the f32 path.
 */
class Int8DotTest {

    @Test
    void quantizedActivationsRoundToTheNearestStepOfTheirBlock() {
        Random r = new Random(3);
        int n = 96;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * (i < 32 ? 1e-3 : 10));
        for (int i = 64; i < 96; i++) x[i] = 0; // an all-zero block: scale 0, values 0
        short[] q = new short[n];
        float[] d = new float[3];
        Int8Activations.quantizeRow(x, 0, n, q, 0, d, 0);
        for (int b = 0; b < 2; b++) {
            int extreme = 0;
            for (int j = 0; j < 32; j++) {
                int k = 32 * b + j;
                assertTrue(Math.abs(q[k]) <= 127, "value " + k);
                assertTrue(Math.abs(x[k] - d[b] * q[k]) <= d[b] * 0.5f * (1 + 1e-6f), "value " + k + " off by more than half a step");
                extreme = Math.max(extreme, Math.abs(q[k]));
            }
            assertEquals(127, extreme, "block " + b + ": its largest value maps to +-127");
        }
        assertEquals(0f, d[2]);
        for (int k = 64; k < 96; k++) assertEquals(0, q[k]);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void vectorKernelsGiveTheSpecificationsBits(GgmlType type) {
        Random r = new Random(type.id);
        for (int n : new int[]{32, 64, 96, 160, 2048}) {
            int rows = 5;
            byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), n);
            MemorySegment w = MemorySegment.ofArray(bytes);
            long rowBytes = type.byteSize(n);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
            short[] q = new short[n], c = new short[n / 2];
            float[] d = new float[n / 32], out = new float[2], lanes = new float[32];
            Int8Activations.quantizeRow(x, 0, n, q, 0, d, 0);
            Int8Activations.corrections(q, 0, n, c, 0);
            for (int a = 0; a < rows; a++) {
                int b = (a + 2) % rows;
                float wantA = Int8Dot.rowScalar(type, w, a * rowBytes, n, q, 0, d, 0);
                float wantB = Int8Dot.rowScalar(type, w, b * rowBytes, n, q, 0, d, 0);
                if (type == GgmlType.Q8_0) Int8Dot.q8_0x2(w, a * rowBytes, b * rowBytes, n, q, 0, d, 0, out, 0, 1, lanes);
                else Int8Dot.q4_0x2(w, a * rowBytes, b * rowBytes, n, q, 0, c, 0, d, 0, out, 0, 1, lanes);
                assertEquals(Float.floatToIntBits(wantA), Float.floatToIntBits(out[0]), type + " n=" + n + " row " + a);
                assertEquals(Float.floatToIntBits(wantB), Float.floatToIntBits(out[1]), type + " n=" + n + " row " + b);
            }
        }
    }

    /** The two-token kernels: every output of two rows times two tokens has the specification's bits. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void twoTokenKernelsGiveTheSpecificationsBits(GgmlType type) {
        Random r = new Random(type.id + 1);
        for (int n : new int[]{32, 64, 96, 2048}) {
            int rows = 4;
            MemorySegment w = MemorySegment.ofArray(DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), n + 1));
            long rowBytes = type.byteSize(n);
            float[] x = new float[3 * n], out = new float[4], lanes = new float[64];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            Int8Activations acts = new Int8Activations();
            acts.quantize(x, 0, n, 3, n);
            for (int a = 0; a + 1 < rows; a++) {
                int b = rows - 1 - a;
                Int8Dot.rows2tokens2(type, w, a * rowBytes, b * rowBytes, n, acts, 2, 0, out, 0, 1, 2, 3, lanes);
                int[] rowOf = {a, a, b, b}, tokOf = {2, 0, 2, 0};
                for (int o = 0; o < 4; o++) {
                    float want = Int8Dot.rowScalar(type, w, rowOf[o] * rowBytes, n, acts.values(), acts.valuesOffset(tokOf[o]),
                            acts.scales(), acts.scalesOffset(tokOf[o]));
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[o]), type + " n=" + n + " output " + o);
                }
            }
        }
    }

    /**
     * The 16-bit steps at their limits: weights at the ends of their range (Q4_0 nibbles 0 and 15, Q8_0
     * bytes -128 and 127) times activations at +-127 in every value. The kernels pair 16-bit halves,
     * Q4_0's in the shorter form that is exact only while a lane pair stays within 16 bits; a wrong
     * bound would show here as a sum off by 65536 times a scale.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void extremeBlocksKeepExactSums(GgmlType type) {
        int n = 96, bb = type == GgmlType.Q8_0 ? 34 : 18;
        byte[][] fills = type == GgmlType.Q8_0 ? new byte[][]{{127}, {-128}, {127, -128}} : new byte[][]{{0}, {-1}, {0x0F}, {(byte) 0xF0}};
        float[][] xs = {new float[n], new float[n], new float[n]};
        for (int i = 0; i < n; i++) {
            xs[0][i] = 1;
            xs[1][i] = -1;
            xs[2][i] = i % 2 == 0 ? 1 : -1;
        }
        for (byte[] fill : fills)
            for (float[] x : xs) {
                byte[] bytes = new byte[2 * bb * n / 32];
                for (int b = 0; b < 2 * n / 32; b++) {
                    bytes[b * bb] = 0x00;
                    bytes[b * bb + 1] = 0x3c; // f16 1.0
                    for (int e = 2; e < bb; e++) bytes[b * bb + e] = fill[e % fill.length];
                }
                MemorySegment w = MemorySegment.ofArray(bytes);
                short[] q = new short[n], c = new short[n / 2];
                float[] d = new float[n / 32], out = new float[2], lanes = new float[32];
                Int8Activations.quantizeRow(x, 0, n, q, 0, d, 0);
                Int8Activations.corrections(q, 0, n, c, 0);
                long exact = 0;
                for (int b = 0; b < n / 32; b++)
                    for (int e = 0; e < 32; e++) {
                        int v = type == GgmlType.Q8_0 ? bytes[b * bb + 2 + e] : ((bytes[b * bb + 2 + e % 16] & 0xFF) >> (e < 16 ? 0 : 4) & 15) - 8;
                        exact += (long) v * q[32 * b + e];
                    }
                float want = Int8Dot.rowScalar(type, w, 0, n, q, 0, d, 0);
                assertEquals(exact * (1.0 / 127), want, 1e-4 * Math.abs(exact / 127.0) + 1e-6, type + " specification");
                if (type == GgmlType.Q8_0) Int8Dot.q8_0x2(w, 0, bb * n / 32, n, q, 0, d, 0, out, 0, 1, lanes);
                else Int8Dot.q4_0x2(w, 0, bb * n / 32, n, q, 0, c, 0, d, 0, out, 0, 1, lanes);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[0]), type + " kernel, fill " + fill[0]);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[1]), type + " kernel, second row");
            }
    }

    /**
     * The specification is the exact product of the integer weights and activations with their
     * scales, up to f32 accumulation: against the same sum in float64 its error is a few units of
     * the f32 rounding of the sum of magnitudes.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void specificationIsTheQuantizedProductUpToF32Accumulation(GgmlType type) {
        Random r = new Random(11);
        int n = 2048, rows = 16;
        byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), 7);
        MemorySegment w = MemorySegment.ofArray(bytes);
        float[] x = new float[n], row = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        short[] q = new short[n];
        float[] d = new float[n / 32];
        Int8Activations.quantizeRow(x, 0, n, q, 0, d, 0);
        for (int i = 0; i < rows; i++) {
            Dequant.dequantizeRow(type, w, i, n, row, 0);
            double exact = 0, magnitude = 0;
            for (int k = 0; k < n; k++) {
                double term = (double) row[k] * d[k / 32] * q[k]; // dequantized weight = d_w * integer weight, exactly
                exact += term;
                magnitude += Math.abs(term);
            }
            float got = Int8Dot.rowScalar(type, w, i * type.byteSize(n), n, q, 0, d, 0);
            assertTrue(Math.abs(got - exact) <= 1e-5 * magnitude, type + " row " + i + ": " + got + " vs " + exact);
        }
    }

    /**
     * What the mode costs in accuracy, against float64 products of the same weights and the
     * unquantized activations: the f32 path's relative RMS error is at f32 rounding level (about
     * 1e-7), the INT8 path's is that of 8-bit activations (measured here: 5.0e-3 for Q8_0 and 5.8e-3 for
     * Q4_0 rows of 2048 Gaussian values). Both bounds fail if a kernel computes something else.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void int8ErrorIsThatOfEightBitActivations(GgmlType type) {
        Random r = new Random(13);
        int n = 2048, rows = 64;
        byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), 9);
        Matrix m = new Matrix("w", type, MemorySegment.ofArray(bytes), rows, n);
        float[] x = new float[n], row = new float[n], y32 = new float[rows], y8 = new float[rows];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        try (WorkerPool pool = new WorkerPool(2)) {
            new MatMul(pool).apply(m, x, 0, n, 1, y32, 0, rows);
            new MatMul(pool, Activations.INT8).apply(m, x, 0, n, 1, y8, 0, rows);
        }
        double e32 = 0, e8 = 0, ref = 0;
        for (int i = 0; i < rows; i++) {
            Dequant.dequantizeRow(type, m.data(), i, n, row, 0);
            double exact = 0;
            for (int k = 0; k < n; k++) exact += (double) row[k] * x[k];
            e32 += (y32[i] - exact) * (y32[i] - exact);
            e8 += (y8[i] - exact) * (y8[i] - exact);
            ref += exact * exact;
        }
        double rel32 = Math.sqrt(e32 / ref), rel8 = Math.sqrt(e8 / ref);
        System.out.printf("%s relative RMS error against float64: f32 path %.2e, int8 path %.2e%n", type, rel32, rel8);
        assertTrue(rel32 < 1e-6, type + " f32 path: " + rel32);
        assertTrue(rel8 > 1e-4 && rel8 < 2e-2, type + " int8 path: " + rel8);
    }
}
