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
 * reference, then the canonical scalar dot product. The scalar kernel path is checked the same way.
 */
class DotTest {

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void rowKernelsMatchReferenceBitForBit(GgmlType t) {
        assertTrue(Canonical.SIMD512, "this machine should run the 512-bit kernels");
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
                float scalar = Dot.rowScalar(t, seg, row * t.byteSize(n), n, x, 3, scratch);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(fast), t + " n=" + n + " row " + row);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(scalar), t + " scalar n=" + n + " row " + row);
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
        }
    }
}
