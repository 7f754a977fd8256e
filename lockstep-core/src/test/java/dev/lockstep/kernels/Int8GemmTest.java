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
 * The INT8-activation products: the activation quantizer's rounding, every kernel of both widths
 * (512-bit and 256-bit, one and four tokens, each weight type) against the specification
 * ({@link Int8Formats#dot}, on the file's own blocks, so the rearrangement is tested too) bit for bit
 * on any machine (a width the hardware lacks runs as the Vector API's Java fallback), the 16-bit
 * sums at the ends of their ranges, the specification against float64, and the accuracy of the mode
 * against the f32 path.
 */
class Int8GemmTest {
    private static final GgmlType[] TYPES = {GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};

    @Test
    void quantizedActivationsRoundToTheNearestStepOfTheirBlock() {
        Random r = new Random(3);
        int n = 96;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * (i < 32 ? 1e-3 : 10));
        for (int i = 64; i < 96; i++) x[i] = 0; // an all-zero block: scale 0, values 0
        Int8Activations a = new Int8Activations();
        a.quantize(x, 0, n, 1, n);
        for (int b = 0; b < 2; b++) {
            int extreme = 0, sum = 0;
            for (int j = 0; j < 32; j++) {
                int k = 32 * b + j, q = a.value(0, k);
                assertTrue(Math.abs(q) <= 127, "value " + k);
                assertTrue(Math.abs(x[k] - a.scale(0, b) * q) <= a.scale(0, b) * 0.5f * (1 + 1e-6f), "value " + k + " off by more than half a step");
                extreme = Math.max(extreme, Math.abs(q));
                sum += q;
            }
            assertEquals(127, extreme, "block " + b + ": its largest value maps to +-127");
            assertEquals(sum, a.sums()[b], "block " + b + "'s sum");
        }
        assertEquals(0f, a.scale(0, 2));
        for (int k = 64; k < 96; k++) assertEquals(0, a.value(0, k));
    }

    /** Every kernel, both widths, one and four tokens (and the repeated-token padding), against the specification. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void kernelsOfBothWidthsGiveTheSpecificationsBits(GgmlType type) {
        Random r = new Random(type.id);
        int[] lengths = type.blockSize == 256 ? new int[]{256, 768} : new int[]{32, 96, 512};
        for (int n : lengths) {
            int rows = 37; // three groups, the last one short
            Matrix m = matrix(type, rows, n, type.id * 31L + n);
            float[] x = new float[5 * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * (i % 7 == 0 ? 4 : 1));
            Int8Activations a = new Int8Activations();
            a.quantize(x, 0, n, 5, n);
            float[][] want = new float[rows][5];
            for (int row = 0; row < rows; row++)
                for (int t = 0; t < 5; t++) want[row][t] = Int8Formats.dot(type, m.data(), row * m.rowBytes(), n, a, t);
            for (int width : new int[]{512, 256})
                for (int g = 0; g < m.int8().groups(); g++) {
                    for (int t = 0; t < 5; t++) check(type, n, width, m, g, a, new int[]{t}, want);
                    check(type, n, width, m, g, a, new int[]{4, 0, 2, 1}, want);
                    check(type, n, width, m, g, a, new int[]{3, 3, 3, 3}, want);
                }
        }
    }

    private static void check(GgmlType type, int n, int width, Matrix m, int g, Int8Activations a, int[] tokens, float[][] want) {
        float[] out = new float[64];
        run(width, m.int8(), g, a, tokens, out);
        for (int j = 0; j < tokens.length; j++)
            for (int r = 0; r < 16 && 16 * g + r < m.rows(); r++)
                assertEquals(Float.floatToIntBits(want[16 * g + r][tokens[j]]), Float.floatToIntBits(out[16 * j + r]),
                        type + " n=" + n + " " + width + "-bit, " + tokens.length + " token(s), row " + (16 * g + r) + " token " + tokens[j]);
    }

    /** One group through the kernels of one width (the dispatch of {@link Int8Gemm#group}, with the width chosen). */
    static void run(int width, Int8Weights w, int g, Int8Activations a, int[] tokens, float[] out) {
        MemorySegment d = w.data();
        long off = w.groupOffset(g);
        int units = Int8Weights.units(w.type(), w.cols());
        int[] qp = a.pairs(), sm = a.sums();
        float[] da = a.scales();
        if (tokens.length == 1) {
            int po = a.pairsOffset(tokens[0]), bo = a.blockOffset(tokens[0]);
            if (width == 512) {
                switch (w.type()) {
                    case Q4_0 -> Int8Kernels512.q4_0x1(d, off, units, qp, po, da, sm, bo, out, 0);
                    case Q4_K -> Int8Kernels512.q4Kx1(d, off, units, qp, po, da, sm, bo, out, 0);
                    case Q5_K -> Int8Kernels512.q5Kx1(d, off, units, qp, po, da, sm, bo, out, 0);
                    default -> Int8Kernels512.q6Kx1(d, off, units, qp, po, da, sm, bo, out, 0);
                }
            } else {
                for (int h = 0; h < 2; h++)
                    switch (w.type()) {
                        case Q4_0 -> Int8Kernels256.q4_0x1(d, off, units, h, qp, po, da, sm, bo, out, 8 * h);
                        case Q4_K -> Int8Kernels256.q4Kx1(d, off, units, h, qp, po, da, sm, bo, out, 8 * h);
                        case Q5_K -> Int8Kernels256.q5Kx1(d, off, units, h, qp, po, da, sm, bo, out, 8 * h);
                        default -> Int8Kernels256.q6Kx1(d, off, units, h, qp, po, da, sm, bo, out, 8 * h);
                    }
            }
            return;
        }
        int[] to = new int[Int8Gemm.SCRATCH];
        for (int j = 0; j < 4; j++) {
            to[j] = a.pairsOffset(tokens[j]);
            to[4 + j] = a.blockOffset(tokens[j]);
        }
        if (width == 512) {
            switch (w.type()) {
                case Q4_0 -> Int8Kernels512.q4_0x4(d, off, units, qp, to, da, sm, out, 0);
                case Q4_K -> Int8Kernels512.q4Kx4(d, off, units, qp, to, da, sm, out, 0);
                case Q5_K -> Int8Kernels512.q5Kx4(d, off, units, qp, to, da, sm, out, 0);
                default -> Int8Kernels512.q6Kx4(d, off, units, qp, to, da, sm, out, 0);
            }
        } else {
            for (int h = 0; h < 2; h++)
                switch (w.type()) {
                    case Q4_0 -> Int8Kernels256.q4_0x4(d, off, units, h, qp, to, da, sm, out, 8 * h);
                    case Q4_K -> Int8Kernels256.q4Kx4(d, off, units, h, qp, to, da, sm, out, 8 * h);
                    case Q5_K -> Int8Kernels256.q5Kx4(d, off, units, h, qp, to, da, sm, out, 8 * h);
                    default -> Int8Kernels256.q6Kx4(d, off, units, h, qp, to, da, sm, out, 8 * h);
                }
        }
    }

    private static Matrix matrix(GgmlType type, int rows, int n, long seed) {
        byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), seed);
        return new Matrix("w", type, MemorySegment.ofArray(bytes), rows, n);
    }

    /**
     * The 16-bit sums at their limits: every weight at one end of its range (all-zero and all-one
     * bit patterns of the quantized values, and alternations), every activation at +-127 in every
     * value. A lane bound off by one would show as a sum off by 65536 times a scale, which the
     * float64 check catches; the kernels must then still equal the specification.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void extremeBlocksKeepExactSums(GgmlType type) {
        int n = type.blockSize == 256 ? 256 : 64, rows = 16;
        byte[][] fills = {{0}, {-1}, {0x7F}, {(byte) 0x80}, {0, -1}, {(byte) 0x88, 0x77}};
        float[][] xs = {new float[n], new float[n], new float[n]};
        for (int i = 0; i < n; i++) {
            xs[0][i] = 1;
            xs[1][i] = -1;
            xs[2][i] = i % 2 == 0 ? 1 : -1;
        }
        for (byte[] fill : fills)
            for (float[] x : xs) {
                byte[] bytes = new byte[(int) type.byteSize((long) rows * n)];
                for (int i = 0; i < bytes.length; i++) bytes[i] = fill[i % fill.length];
                for (int b = 0; b < bytes.length / type.typeSize; b++) setScales(type, bytes, b * type.typeSize);
                Matrix m = new Matrix("w", type, MemorySegment.ofArray(bytes), rows, n);
                Int8Activations a = new Int8Activations();
                a.quantize(x, 0, n, 1, n);
                float[] row = new float[n], out = new float[64];
                for (int width : new int[]{512, 256}) {
                    run(width, m.int8(), 0, a, new int[]{0}, out);
                    for (int r = 0; r < rows; r++) {
                        float want = Int8Formats.dot(type, m.data(), r * m.rowBytes(), n, a, 0);
                        Dequant.dequantizeRow(type, m.data(), r, n, row, 0);
                        double exact = 0;
                        for (int k = 0; k < n; k++) exact += (double) row[k] * a.scale(0, k / 32) * a.value(0, k);
                        assertEquals(exact, want, 1e-5 * Math.abs(exact) + 1e-3, type + " specification, fill " + fill[0]);
                        assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(out[r]), type + " " + width + "-bit kernel, fill " + fill[0] + " row " + r);
                    }
                }
            }
    }

    /** Scales of 1 (f16 0x3c00) and, for the K-quants, 8-bit scales and minimums as the fill left them. */
    private static void setScales(GgmlType type, byte[] b, int o) {
        switch (type) {
            case Q6_K -> {
                b[o + 208] = 0x00;
                b[o + 209] = 0x3c;
            }
            case Q4_K, Q5_K -> {
                b[o] = 0x00;
                b[o + 1] = 0x3c;
                b[o + 2] = 0x00;
                b[o + 3] = 0x3c;
            }
            default -> {
                b[o] = 0x00;
                b[o + 1] = 0x3c;
            }
        }
    }

    /**
     * The specification is the exact product of the integer weights and activations with their
     * scales, up to f32 accumulation: against the same sum in float64 its error is a few units of
     * the f32 rounding of the sum of magnitudes.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void specificationIsTheQuantizedProductUpToF32Accumulation(GgmlType type) {
        Random r = new Random(11);
        int n = 2048, rows = 16;
        Matrix m = matrix(type, rows, n, 7);
        float[] x = new float[n], row = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        Int8Activations a = new Int8Activations();
        a.quantize(x, 0, n, 1, n);
        for (int i = 0; i < rows; i++) {
            Dequant.dequantizeRow(type, m.data(), i, n, row, 0);
            double exact = 0, magnitude = 0;
            for (int k = 0; k < n; k++) {
                double term = (double) row[k] * a.scale(0, k / 32) * a.value(0, k);
                exact += term;
                magnitude += Math.abs(term);
            }
            float got = Int8Formats.dot(type, m.data(), i * m.rowBytes(), n, a, 0);
            assertTrue(Math.abs(got - exact) <= 1e-5 * magnitude, type + " row " + i + ": " + got + " vs " + exact);
        }
    }

    /**
     * What the mode costs in accuracy, against float64 products of the same weights and the
     * unquantized activations: the f32 path's relative RMS error is at f32 rounding level (about
     * 1e-7), the INT8 path's is that of 8-bit activations (measured here: about 5e-3 to 6e-3 for rows
     * of 2048 Gaussian values, every type). Both bounds fail if a kernel computes something else.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void int8ErrorIsThatOfEightBitActivations(GgmlType type) {
        Random r = new Random(13);
        int n = 2048, rows = 64;
        Matrix m = matrix(type, rows, n, 9);
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

    /** The rearranged copy is made once and shared, and it has the size of its layout. */
    @Test
    void rearrangementIsMadeOnceWithTheLayoutsSize() {
        for (GgmlType type : TYPES) {
            int n = type.blockSize == 256 ? 512 : 64;
            Matrix m = matrix(type, 20, n, 5);
            Int8Weights w = m.int8();
            assertTrue(w == m.int8(), type + ": one copy");
            assertEquals(2L * (n / type.blockSize) * Int8Weights.unitBytes(type), w.byteSize(), type + ": two groups of units");
        }
    }
}
