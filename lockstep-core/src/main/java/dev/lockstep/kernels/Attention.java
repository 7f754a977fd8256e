package dev.lockstep.kernels;

import dev.lockstep.cache.KvCache;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.lockstep.kernels.Canonical.FV;

/**
 * Causal multi-head attention of a ragged batch over the paged KV cache, parallel over (token, head)
 * pairs. Every token attends to positions 0..pos of its own sequence, read through the sequence's
 * block table; the current batch's K/V were written into their pages before this runs, so cached and
 * fresh K/V are read the same way.
 *
 * <p>Per (token, head), in the same order for any batch: scores s_j = (q . k_j) * scale where the dot is
 * one fma chain over the head dimension (d = 0, 1, ...; 8 or 16 positions side by side in a vector, which
 * is why K is stored transposed within a block), m = max s_j, e_j = exp(s_j - m), Z = canonical sum of
 * e_j, p_j = e_j * (1/Z), out = sum over j in increasing position of p_j * v_j (one fma chain per
 * output dimension). No split of the positions at all: each (token, pair of heads) is one worker's job.
 * Every reduction's order depends only on the head size and the position: not on the chunking of the
 * prompt, the batch, or whether a position came from the prefix cache.
 */
public final class Attention implements WorkerPool.Task {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final WorkerPool pool;
    private long nanos; // wall time spent in attention (for the step profile)
    private float[][] scores, scoresB; // per worker: the two heads' scores, then probabilities
    private final float[][] lanes; // per worker: the softmax sum's 16 lanes

    private KvCache cache;
    private int layer, tokens, nHead, nKvHead, headDim;
    private float[] q, out;
    private int[] positions, seqOf;
    private int[][] tables;
    private float scale;
    private long rowBytes;

    public Attention(WorkerPool pool) {
        this.pool = pool;
        this.scores = new float[pool.size()][0];
        this.scoresB = new float[pool.size()][0];
        this.lanes = new float[pool.size()][Canonical.LANES];
    }

    /** Wall time spent in this instance's calls since it was made. */
    public long nanos() {
        return nanos;
    }

    /**
     * @param q         [tokens][nHead*headDim] queries (after RoPE)
     * @param out       [tokens][nHead*headDim] results
     * @param positions position of each token in its sequence
     * @param seqOf     index of each token's sequence in {@code tables}
     * @param tables    block table of each sequence
     */
    public void apply(KvCache cache, int layer, float[] q, float[] out, int tokens, int[] positions, int[] seqOf,
                      int[][] tables, int nHead, int nKvHead, int headDim, float scale) {
        int maxPos = 0;
        for (int t = 0; t < tokens; t++) maxPos = Math.max(maxPos, positions[t]);
        if (scores[0].length < maxPos + 1) {
            int cap = Math.max(maxPos + 1, 2 * scores[0].length);
            for (int w = 0; w < scores.length; w++) {
                scores[w] = new float[cap];
                scoresB[w] = new float[cap];
            }
        }
        this.cache = cache;
        this.layer = layer;
        this.q = q;
        this.out = out;
        this.tokens = tokens;
        this.positions = positions;
        this.seqOf = seqOf;
        this.tables = tables;
        this.nHead = nHead;
        this.nKvHead = nKvHead;
        this.headDim = headDim;
        this.scale = scale;
        this.rowBytes = (long) cache.kvDim() * Float.BYTES;
        long t0 = System.nanoTime();
        pool.execute(this);
        nanos += System.nanoTime() - t0;
        this.q = this.out = null;
        this.tables = null;
        this.cache = null;
    }

    /**
     * Work items are pairs of query heads that share a KV head (the two heads' dot products run side by
     * side on each key and value vector loaded: twice the independent FMA chains per load); with an
     * odd number of query heads per KV head, the last one is paired with itself (its outputs computed
     * twice, the same bits). Each head keeps its own chains in its own order, so pairing changes no bit.
     */
    @Override
    public void run(int worker, int workers) {
        int perGroup = nHead / nKvHead, pairsPerGroup = (perGroup + 1) / 2, perToken = nKvHead * pairsPerGroup;
        int items = tokens * perToken;
        int i0 = WorkerPool.rangeStart(items, worker, workers), i1 = WorkerPool.rangeStart(items, worker + 1, workers);
        float[] sa = scores[worker], sb = scoresB[worker], l = lanes[worker];
        for (int it = i0; it < i1; it++) {
            int t = it / perToken, u = it % perToken, g = u / pairsPerGroup;
            int ha = g * perGroup + 2 * (u % pairsPerGroup), hb = Math.min(ha + 1, (g + 1) * perGroup - 1);
            headPair(t, g, ha, hb, sa, sb, l);
        }
    }

    private void headPair(int t, int g, int ha, int hb, float[] sa, float[] sb, float[] lanes) {
        int n = positions[t] + 1;
        int[] table = tables[seqOf[t]];
        int qa = (t * nHead + ha) * headDim, qb = (t * nHead + hb) * headDim;
        scores(table, n, g, qa, qb, sa, sb);
        Ops.scale(sa, 0, n, 1f / Ops.expShiftSum(sa, 0, n, Ops.max(sa, 0, n), lanes));
        Ops.scale(sb, 0, n, 1f / Ops.expShiftSum(sb, 0, n, Ops.max(sb, 0, n), lanes));
        weightedValues(table, n, g, qa, qb, sa, sb);
    }

    /*
     * The two loops live in methods of their own: inside one big method C2 stopped inlining the Vector
     * API's bounds checks (they showed up as calls in a profile of a 512-token prefill).
     * No masked loads either: on AVX2 they ran as the Vector API's Java fallback (blendTemplate and
     * checkBounds in the profile). Together attention was 14% of that prefill.
     */

    /**
     * Scores of heads a and b (queries at {@code qa}, {@code qb}; into {@code sa}, {@code sb}):
     * s_j = (q . k_j) * scale, each dot a single fma chain over the head dimension, d = 0, 1, ...
     * K is transposed within a block, so one vector load brings dimension d of 8 or 16 positions, for
     * both heads; the positions left over take the same chains one at a time. Two vectors of positions
     * run side by side: four chains in all (one chain alone waits on the FMA latency; the chains are
     * independent, so the bits are the same).
     */
    private void scores(int[] table, int n, int g, int qa, int qb, float[] sa, float[] sb) {
        int bs = cache.blockSize();
        MemorySegment keys = cache.keys(layer);
        for (int b = 0, j0 = 0; j0 < n; b++, j0 += bs) {
            int cnt = Math.min(bs, n - j0), s = 0;
            long kBase = cache.keyOffset(table[b], g, 0);
            if (Canonical.SIMD) {
                int step = FV.length();
                for (; s + 2 * step <= cnt; s += 2 * step) {
                    FloatVector a0 = FloatVector.zero(FV), a1 = a0, b0 = a0, b1 = a0;
                    long ko = kBase + 4L * s;
                    for (int d = 0; d < headDim; d++) {
                        FloatVector xa = FloatVector.broadcast(FV, q[qa + d]), xb = FloatVector.broadcast(FV, q[qb + d]);
                        long kd = ko + 4L * d * bs;
                        FloatVector k0 = FloatVector.fromMemorySegment(FV, keys, kd, LE), k1 = FloatVector.fromMemorySegment(FV, keys, kd + 4L * step, LE);
                        a0 = xa.fma(k0, a0);
                        a1 = xa.fma(k1, a1);
                        b0 = xb.fma(k0, b0);
                        b1 = xb.fma(k1, b1);
                    }
                    a0.mul(scale).intoArray(sa, j0 + s);
                    a1.mul(scale).intoArray(sa, j0 + s + step);
                    b0.mul(scale).intoArray(sb, j0 + s);
                    b1.mul(scale).intoArray(sb, j0 + s + step);
                }
                for (; s + step <= cnt; s += step) {
                    FloatVector a0 = FloatVector.zero(FV), b0 = a0;
                    long ko = kBase + 4L * s;
                    for (int d = 0; d < headDim; d++) {
                        FloatVector k0 = FloatVector.fromMemorySegment(FV, keys, ko + 4L * d * bs, LE);
                        a0 = FloatVector.broadcast(FV, q[qa + d]).fma(k0, a0);
                        b0 = FloatVector.broadcast(FV, q[qb + d]).fma(k0, b0);
                    }
                    a0.mul(scale).intoArray(sa, j0 + s);
                    b0.mul(scale).intoArray(sb, j0 + s);
                }
            }
            for (; s < cnt; s++) {
                float a = 0f, c = 0f;
                for (int d = 0; d < headDim; d++) {
                    float k = keys.get(KvCache.FLOAT, kBase + 4L * ((long) d * bs + s));
                    a = Math.fma(q[qa + d], k, a);
                    c = Math.fma(q[qb + d], k, c);
                }
                sa[j0 + s] = a * scale;
                sb[j0 + s] = c * scale;
            }
        }
    }

    /**
     * out = sum over positions, in order, of p_j v_j, for heads a and b (probabilities {@code sa},
     * {@code sb}): one fma chain per output dimension and head, four vectors of dimensions at a time
     * (eight chains hide the FMA latency), then one vector, then the dimensions left over one at a time.
     */
    private void weightedValues(int[] table, int n, int g, int qa, int qb, float[] sa, float[] sb) {
        int bs = cache.blockSize(), d0 = 0;
        long headOff = (long) g * headDim * Float.BYTES;
        MemorySegment vals = cache.values(layer);
        if (Canonical.SIMD) {
            int step = FV.length();
            for (; d0 + 4 * step <= headDim; d0 += 4 * step) {
                FloatVector a0 = FloatVector.zero(FV), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int b = 0, j0 = 0; j0 < n; b++, j0 += bs) {
                    long vo = cache.offset(table[b], 0) + headOff + 4L * d0;
                    int cnt = Math.min(bs, n - j0);
                    for (int s = 0; s < cnt; s++) {
                        FloatVector pa = FloatVector.broadcast(FV, sa[j0 + s]), pb = FloatVector.broadcast(FV, sb[j0 + s]);
                        long v = vo + (long) s * rowBytes;
                        FloatVector v0 = FloatVector.fromMemorySegment(FV, vals, v, LE), v1 = FloatVector.fromMemorySegment(FV, vals, v + 4L * step, LE);
                        a0 = pa.fma(v0, a0);
                        b0 = pb.fma(v0, b0);
                        a1 = pa.fma(v1, a1);
                        b1 = pb.fma(v1, b1);
                        FloatVector v2 = FloatVector.fromMemorySegment(FV, vals, v + 8L * step, LE), v3 = FloatVector.fromMemorySegment(FV, vals, v + 12L * step, LE);
                        a2 = pa.fma(v2, a2);
                        b2 = pb.fma(v2, b2);
                        a3 = pa.fma(v3, a3);
                        b3 = pb.fma(v3, b3);
                    }
                }
                a0.intoArray(out, qa + d0);
                a1.intoArray(out, qa + d0 + step);
                a2.intoArray(out, qa + d0 + 2 * step);
                a3.intoArray(out, qa + d0 + 3 * step);
                b0.intoArray(out, qb + d0);
                b1.intoArray(out, qb + d0 + step);
                b2.intoArray(out, qb + d0 + 2 * step);
                b3.intoArray(out, qb + d0 + 3 * step);
            }
            for (; d0 + step <= headDim; d0 += step) {
                FloatVector a0 = FloatVector.zero(FV), b0 = a0;
                for (int b = 0, j0 = 0; j0 < n; b++, j0 += bs) {
                    long vo = cache.offset(table[b], 0) + headOff + 4L * d0;
                    int cnt = Math.min(bs, n - j0);
                    for (int s = 0; s < cnt; s++) {
                        FloatVector v = FloatVector.fromMemorySegment(FV, vals, vo + (long) s * rowBytes, LE);
                        a0 = FloatVector.broadcast(FV, sa[j0 + s]).fma(v, a0);
                        b0 = FloatVector.broadcast(FV, sb[j0 + s]).fma(v, b0);
                    }
                }
                a0.intoArray(out, qa + d0);
                b0.intoArray(out, qb + d0);
            }
        }
        for (int d = d0; d < headDim; d++) {
            float a = 0f, c = 0f;
            for (int j = 0; j < n; j++) {
                float v = vals.get(KvCache.FLOAT, cache.offset(table, j) + headOff + 4L * d);
                a = Math.fma(sa[j], v, a);
                c = Math.fma(sb[j], v, c);
            }
            out[qa + d] = a;
            out[qb + d] = c;
        }
    }
}
