package dev.lockstep.kernels;

import dev.lockstep.cache.KvCache;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Attention over the paged KV cache against its specification written one value at a time (the order
 * of the class comment of {@link Attention}): every output bit for bit, with head sizes that leave
 * dimensions over after the vectors, positions that end inside a block, grouped-query heads (2, 3, 4
 * and 1 query heads per KV head: the kernel pairs the heads of a group), and
 * sequences whose blocks are not in order in the pool.
 */
class AttentionTest {

    @Test
    void everyOutputHasTheSpecificationsBits() {
        // query heads per KV head: 2, 3 (the last of each group paired with itself), 4 and 1
        for (int[] heads : new int[][]{{4, 2}, {6, 2}, {8, 2}, {2, 2}})
        for (int headDim : new int[]{64, 20, 8}) {
            int nHead = heads[0], nKvHead = heads[1], kvDim = nKvHead * headDim, bs = 16, blocks = 8;
            Random r = new Random(headDim);
            try (KvCache cache = new KvCache(1, kvDim, headDim, bs, blocks); WorkerPool pool = new WorkerPool(2)) {
                int[][] tables = {{5, 1, 6}, {2, 0, 3, 7}};
                int[] lengths = {37, 50};
                for (int sq = 0; sq < 2; sq++)
                    for (int pos = 0; pos < lengths[sq]; pos++) {
                        float[] k = new float[kvDim], v = new float[kvDim];
                        for (int i = 0; i < kvDim; i++) {
                            k[i] = (float) r.nextGaussian();
                            v[i] = (float) r.nextGaussian();
                        }
                        cache.write(0, tables[sq], pos, k, 0, v, 0);
                    }
                int[] positions = {0, 15, 16, 36, 49, 31}, seqOf = {0, 0, 1, 0, 1, 1};
                int tokens = positions.length, qDim = nHead * headDim;
                float[] q = new float[tokens * qDim], out = new float[tokens * qDim];
                for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
                float scale = (float) (1 / Math.sqrt(headDim));
                new Attention(pool).apply(cache, 0, q, out, tokens, positions, seqOf, tables, nHead, nKvHead, headDim, scale);
                for (int t = 0; t < tokens; t++)
                    for (int h = 0; h < nHead; h++) {
                        float[] want = specification(cache, tables[seqOf[t]], positions[t] + 1, q, (t * nHead + h) * headDim,
                                h / (nHead / nKvHead), headDim, scale);
                        for (int d = 0; d < headDim; d++)
                            assertEquals(Float.floatToIntBits(want[d]), Float.floatToIntBits(out[(t * nHead + h) * headDim + d]),
                                    nHead + "/" + nKvHead + " heads, head size " + headDim + ", token " + t + ", head " + h + ", dimension " + d);
                    }
            }
        }
    }

    private static float[] specification(KvCache cache, int[] table, int n, float[] q, int qo, int g, int headDim, float scale) {
        float[] sc = new float[n], out = new float[headDim];
        for (int j = 0; j < n; j++) {
            float acc = 0f;
            for (int d = 0; d < headDim; d++) acc = Math.fma(q[qo + d], key(cache, table, j, g * headDim + d), acc);
            sc[j] = acc * scale;
        }
        float z = Ops.expShiftSum(sc, 0, n, Ops.max(sc, 0, n), new float[Canonical.LANES]);
        Ops.scale(sc, 0, n, 1f / z);
        for (int d = 0; d < headDim; d++) {
            float acc = 0f;
            for (int j = 0; j < n; j++)
                acc = Math.fma(sc[j], cache.values(0).get(KvCache.FLOAT, cache.offset(table, j) + 4L * (g * headDim + d)), acc);
            out[d] = acc;
        }
        return out;
    }

    /** Dimension i of position j's K (stored transposed within its block). */
    private static float key(KvCache cache, int[] table, int j, int i) {
        int bs = cache.blockSize();
        return cache.keys(0).get(KvCache.FLOAT, cache.keyOffset(table[j / bs], 0, i) + 4L * (j % bs));
    }
}
