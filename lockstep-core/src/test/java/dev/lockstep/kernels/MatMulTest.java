package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import dev.lockstep.quant.DequantTestData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The batched matrix product (any number of tokens, any number of threads, every path: the row kernels
 * for up to three tokens, the in-register dequantizing kernel for four to sixteen, 4x4 tiles beyond, odd
 * row and token tails) gives every output the bits of the reference: the row dequantized, then the
 * canonical scalar dot product.
 */
class MatMulTest {

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q5_0", "Q4_K", "Q6_K"})
    void everyTokenCountAndThreadCountGivesTheReferenceBits(GgmlType type) {
        Random r = new Random(type.id);
        for (int n : new int[]{256, 1024 + 256, 172 * (type.blockSize == 1 ? 1 : 0) + (type.blockSize == 1 ? 0 : 512)}) {
            if (n % type.blockSize != 0) continue;
            int rows = 21;
            byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), n);
            Matrix m = new Matrix("w", type, MemorySegment.ofArray(bytes), rows, n);
            float[][] deq = new float[rows][n];
            for (int i = 0; i < rows; i++) Dequant.dequantizeRow(type, m.data(), i, n, deq[i], 0);
            for (int tokens : new int[]{1, 2, 3, 4, 5, 8, 9, 16, 17}) {
                float[] x = new float[tokens * n];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                for (int threads : new int[]{1, 2, 3}) {
                    try (WorkerPool pool = new WorkerPool(threads)) {
                        float[] y = new float[tokens * rows];
                        new MatMul(pool).apply(m, x, 0, n, tokens, y, 0, rows);
                        for (int t = 0; t < tokens; t++)
                            for (int i = 0; i < rows; i++) {
                                float want = Canonical.dotScalar(deq[i], 0, x, t * n, n);
                                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(y[t * rows + i]),
                                        type + " n=" + n + " tokens=" + tokens + " threads=" + threads + " row " + i + " token " + t);
                            }
                    }
                }
            }
        }
    }
}
