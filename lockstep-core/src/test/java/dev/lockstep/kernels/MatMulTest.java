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

/**
 * The batched matrix product (any number of tokens, any number of threads, every path: the row kernels
 * for one token, and with 256-bit vectors the two-token kernel, the in-register dequantizing kernels
 * (two rows by four tokens up to four, one row by eight tokens from five to sixteen), tiles beyond, odd
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
            for (int tokens : new int[]{1, 2, 3, 4, 5, 7, 8, 9, 16, 17}) {
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

    /**
     * More rows than one tile holds ({@link MatMul#rowBlock}): full blocks, a partial last block and
     * each worker's range starting inside a block all give the reference bits.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "Q8_0", "Q4_0"})
    void rowBlocksAndTheirBoundariesGiveTheReferenceBits(GgmlType type) {
        Random r = new Random(31 + type.id);
        int n = 4096, rows = 2 * MatMul.rowBlock(n) + 5;
        byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), n);
        Matrix m = new Matrix("w", type, MemorySegment.ofArray(bytes), rows, n);
        float[][] deq = new float[rows][n];
        for (int i = 0; i < rows; i++) Dequant.dequantizeRow(type, m.data(), i, n, deq[i], 0);
        for (int tokens : new int[]{17, 20}) {
            float[] x = new float[tokens * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int threads : new int[]{1, 2}) {
                try (WorkerPool pool = new WorkerPool(threads)) {
                    float[] y = new float[tokens * rows];
                    new MatMul(pool).apply(m, x, 0, n, tokens, y, 0, rows);
                    for (int t = 0; t < tokens; t++)
                        for (int i = 0; i < rows; i++)
                            assertEquals(Float.floatToIntBits(Canonical.dotScalar(deq[i], 0, x, t * n, n)), Float.floatToIntBits(y[t * rows + i]),
                                    type + " rows=" + rows + " tokens=" + tokens + " threads=" + threads + " row " + i + " token " + t);
                }
            }
        }
    }

    /**
     * One parallel step over matrices of different types with the same input (Q, K and V of a mixed
     * quantization): each may take another path (row kernels, in-register dequantization, tiles), and
     * every output still has the reference bits.
     */
    @Test
    void sharedProductsOfMixedTypesGiveTheReferenceBits() {
        GgmlType[] types = {GgmlType.Q8_0, GgmlType.Q6_K, GgmlType.Q4_0};
        int n = 512, rows = 13;
        Random r = new Random(5);
        Matrix[] m = new Matrix[3];
        float[][][] deq = new float[3][rows][n];
        for (int k = 0; k < 3; k++) {
            GgmlType type = types[k];
            byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), n + k);
            m[k] = new Matrix("w" + k, type, MemorySegment.ofArray(bytes), rows, n);
            for (int i = 0; i < rows; i++) Dequant.dequantizeRow(type, m[k].data(), i, n, deq[k][i], 0);
        }
        for (int tokens : new int[]{1, 2, 3, 5, 16, 17, 40}) {
            float[] x = new float[tokens * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            try (WorkerPool pool = new WorkerPool(2)) {
                float[][] y = {new float[tokens * rows], new float[tokens * rows], new float[tokens * rows]};
                new MatMul(pool).applyShared(x, 0, n, tokens, m[0], y[0], m[1], y[1], m[2], y[2]);
                for (int k = 0; k < 3; k++)
                    for (int t = 0; t < tokens; t++)
                        for (int i = 0; i < rows; i++)
                            assertEquals(Float.floatToIntBits(Canonical.dotScalar(deq[k][i], 0, x, t * n, n)), Float.floatToIntBits(y[k][t * rows + i]),
                                    types[k] + " tokens=" + tokens + " row " + i + " token " + t);
            }
        }
    }

    /**
     * The workers take a call's rows in units (64 rows, or a tile's row block) across all its matrices,
     * in whatever order they get to them: matrices of several units each, with partial last units,
     * give the reference bits for every path's token count and thread count, and every output is
     * written (a unit taken twice or skipped fails it: the outputs start as NaN).
     */
    @Test
    void unitsOfRowsAcrossTheMatricesOfACallGiveTheReferenceBits() {
        GgmlType[] types = {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.F16};
        int n = 256;
        int[] rows = {200, 131, 65};
        Random r = new Random(43);
        Matrix[] m = new Matrix[3];
        float[][][] deq = new float[3][][];
        for (int k = 0; k < 3; k++) {
            GgmlType type = types[k];
            byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows[k] * n) / type.typeSize), 50 + k);
            m[k] = new Matrix("w" + k, type, MemorySegment.ofArray(bytes), rows[k], n);
            deq[k] = new float[rows[k]][n];
            for (int i = 0; i < rows[k]; i++) Dequant.dequantizeRow(type, m[k].data(), i, n, deq[k][i], 0);
        }
        for (int tokens : new int[]{1, 2, 7, 12, 20}) {
            float[] x = new float[tokens * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int threads : new int[]{1, 2, 3}) {
                try (WorkerPool pool = new WorkerPool(threads)) {
                    float[][] y = new float[3][];
                    for (int k = 0; k < 3; k++) {
                        y[k] = new float[tokens * rows[k]];
                        java.util.Arrays.fill(y[k], Float.NaN);
                    }
                    new MatMul(pool).applyShared(x, 0, n, tokens, m[0], y[0], m[1], y[1], m[2], y[2]);
                    for (int k = 0; k < 3; k++)
                        for (int t = 0; t < tokens; t++)
                            for (int i = 0; i < rows[k]; i++)
                                assertEquals(Float.floatToIntBits(Canonical.dotScalar(deq[k][i], 0, x, t * n, n)),
                                        Float.floatToIntBits(y[k][t * rows[k] + i]),
                                        types[k] + " tokens=" + tokens + " threads=" + threads + " row " + i + " token " + t);
                }
            }
        }
    }

    /**
     * INT8 activations: every token count (one, a part-filled and full four-token kernel, several),
     * thread count, row count (a short last group of 16) and block count (even, odd), alone or in a
     * shared call beside types without INT8 kernels (F16 and Q8_0, which keep the f32 path), gives
     * every output the bits of {@link Int8Formats#dot} on the token's own quantized activations (or
     * of the canonical f32 dot product, for the types that keep the f32 path).
     */
    @Test
    void int8ActivationsGiveTheSpecificationsBitsForEveryBatch() {
        int8Case(1056, GgmlType.Q8_0, GgmlType.Q4_0, 7); // an odd block count (33)
        int8Case(512, GgmlType.Q4_K, GgmlType.Q6_K, 37);
        int8Case(256, GgmlType.Q5_K, GgmlType.Q4_0, 70);
    }

    private static void int8Case(int n, GgmlType first, GgmlType third, int rows) {
        GgmlType other = GgmlType.F16; // keeps the f32 path
        GgmlType[] types = {first, other, third};
        Random r = new Random(17 + n);
        Matrix[] m = new Matrix[3];
        float[][][] deq = new float[3][rows][n];
        for (int k = 0; k < 3; k++) {
            GgmlType type = types[k];
            byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), 40 + k);
            m[k] = new Matrix("w" + k, type, MemorySegment.ofArray(bytes), rows, n);
            for (int i = 0; i < rows; i++) Dequant.dequantizeRow(type, m[k].data(), i, n, deq[k][i], 0);
        }
        for (int tokens : new int[]{1, 2, 4, 5, 9}) {
            float[] x = new float[tokens * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            Int8Activations acts = new Int8Activations();
            acts.quantize(x, 0, n, tokens, n);
            for (int threads : new int[]{1, 2, 3}) {
                try (WorkerPool pool = new WorkerPool(threads)) {
                    MatMul mm = new MatMul(pool, Activations.INT8);
                    float[] alone = new float[tokens * rows];
                    mm.apply(m[0], x, 0, n, tokens, alone, 0, rows);
                    float[][] y = {new float[tokens * rows], new float[tokens * rows], new float[tokens * rows]};
                    mm.applyShared(x, 0, n, tokens, m[0], y[0], m[1], y[1], m[2], y[2]);
                    for (int t = 0; t < tokens; t++) {
                        for (int k = 0; k < 3; k++)
                            for (int i = 0; i < rows; i++) {
                                float want = !m[k].hasInt8() ? Canonical.dotScalar(deq[k][i], 0, x, t * n, n)
                                        : Int8Formats.dot(types[k], m[k].data(), i * m[k].rowBytes(), n, acts, t);
                                String where = types[k] + " tokens=" + tokens + " threads=" + threads + " row " + i + " token " + t;
                                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(y[k][t * rows + i]), where);
                                if (k == 0) assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(alone[t * rows + i]), where + " (alone)");
                            }
                    }
                }
            }
        }
    }
}
