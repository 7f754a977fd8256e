package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import dev.lockstep.quant.DequantTestData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every fast row kernel equals the executable specification bit for bit: dequantize the row with the
 * reference, then the canonical scalar dot product. Each kernel family is checked on every machine:
 * the one this JVM dispatches to, the 512-bit and the 256-bit kernels called directly (a family wider
 * than the hardware runs as the Vector API's Java fallback: slow, same operations), and the scalar path.
 */
class DotTest {

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void rowKernelsMatchReferenceBitForBit(GgmlType t) {
        assertTrue(Canonical.SIMD, "this machine should run a vector kernel family, not " + Canonical.PATH);
        int[] lengths = t.blockSize == 1 ? new int[]{1, 7, 15, 16, 17, 31, 64, 100, 172, 2048}
                : t.blockSize == 32 ? new int[]{32, 64, 96, 2048} : new int[]{256, 512, 2048};
        Random r = new Random(t.id);
        float[] scratch = new float[256];
        for (int n : lengths) {
            int rows = 5;
            byte[] w = DequantTestData.randomBlocks(t, (int) (t.byteSize((long) rows * n) / t.typeSize), n + t.id);
            MemorySegment seg = MemorySegment.ofArray(w);
            float[] x = new float[n + 3];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int row = 0; row < rows; row++) {
                float[] deq = new float[n];
                Dequant.dequantizeRow(t, seg, row, n, deq, 0);
                float want = Canonical.dotScalar(deq, 0, x, 3, n);
                float fast = Dot.row(t, seg, row, n, x, 3, scratch);
                long off = row * t.byteSize(n);
                float scalar = Dot.rowScalar(t, seg, off, n, x, 3, scratch);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(fast), t + " n=" + n + " row " + row);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(scalar), t + " scalar n=" + n + " row " + row);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Dot.row512(t, seg, off, n, x, 3, scratch)),
                        t + " 512-bit n=" + n + " row " + row);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Dot256.row(t, seg, off, n, x, 3, scratch)),
                        t + " 256-bit n=" + n + " row " + row);
                if (Dot.hasRows2(t, n) && row + 1 < rows) {
                    float[] deqB = new float[n];
                    Dequant.dequantizeRow(t, seg, row + 1, n, deqB, 0);
                    float wantB = Canonical.dotScalar(deqB, 0, x, 3, n);
                    long offB = (row + 1) * t.byteSize(n);
                    float[] out = new float[4];
                    Dot.rows2x512(t, seg, off, offB, n, x, 3, out, 0, 1, new float[32]);
                    Dot256.rows2(t, seg, off, offB, n, x, 3, out, 2, 3, scratch);
                    float[] dispatched = new float[2];
                    assertTrue(Dot.rows2(t, seg, row, row + 1, n, x, 3, dispatched, 0, 1, scratch));
                    for (float[] pair : new float[][]{{out[0], out[1]}, {out[2], out[3]}, dispatched}) {
                        assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(pair[0]), t + " rows2 n=" + n + " row " + row);
                        assertEquals(Float.floatToIntBits(wantB), Float.floatToIntBits(pair[1]), t + " rows2 n=" + n + " row " + (row + 1));
                    }
                }
            }
        }
    }

    /** The two-rows-by-two-tokens kernel of the 256-bit family: each output has {@link Dot#row}'s bits. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void twoRowsTimesTwoTokensMatchReferenceBitForBit(GgmlType t) {
        assertTrue(Dot256.hasRows2Tokens2(t));
        Random r = new Random(t.id + 5);
        for (int n : new int[]{32, 96, 2048}) {
            int rows = 4;
            byte[] w = DequantTestData.randomBlocks(t, (int) (t.byteSize((long) rows * n) / t.typeSize), n + 3);
            MemorySegment seg = MemorySegment.ofArray(w);
            float[] x = new float[2 * n + 5], lanes = new float[64];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            int xa = 5 + n, xb = 1; // token b before token a: any offsets
            for (int row = 0; row + 1 < rows; row++) {
                Dot256.rows2tokens2(t, seg, row * t.byteSize(n), (rows - 1 - row) * t.byteSize(n), n, x, xa, xb, lanes);
                int[] rowsOf = {row, row, rows - 1 - row, rows - 1 - row};
                int[] tokensOf = {xa, xb, xa, xb};
                for (int o = 0; o < 4; o++) {
                    float[] deq = new float[n];
                    Dequant.dequantizeRow(t, seg, rowsOf[o], n, deq, 0);
                    float want = Canonical.dotScalar(deq, 0, x, tokensOf[o], n);
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Canonical.treeOf(lanes, 16 * o)),
                            t + " n=" + n + " output " + o + " (row " + rowsOf[o] + ")");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32"})
    void floatDotAndSegmentDotMatchReference(GgmlType unused) {
        Random r = new Random(1);
        for (int n = 1; n <= 300; n += 7) {
            float[] a = new float[n], b = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) r.nextGaussian();
                b[i] = (float) r.nextGaussian();
            }
            float want = Canonical.dotScalar(a, 0, b, 0, n);
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Dot.dot(a, 0, b, 0, n)), "n=" + n);
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Dot.segment(MemorySegment.ofArray(a), 0, n, b, 0)), "n=" + n);
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Dot256.dot(a, 0, b, 0, n)), "256-bit n=" + n);
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(Dot256.f32(MemorySegment.ofArray(a), 0, n, b, 0)), "256-bit n=" + n);
        }
    }
}
