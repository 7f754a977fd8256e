package dev.lockstep.train;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.Exp;
import dev.lockstep.kernels.MatMul;
import dev.lockstep.kernels.Matrix;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.Rope;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.quant.Dequant;
import dev.lockstep.quant.Quantize;

import java.lang.foreign.MemorySegment;

/**
 * Forward and hand-written backward pass of the training model, for a batch of B sequences of T
 * tokens. The forward pass is the inference engine's, operation for operation: the same kernels
 * ({@link MatMul}, {@link Ops#rmsNorm}, {@link Rope}, {@link Ops#expShiftSum}, {@link Exp#silu}) in the
 * same order, and attention computed exactly as {@code Attention} does (scores one fma chain over the
 * head dimension, softmax, weighted V one fma chain over positions). Its logits therefore have the bits
 * the engine gives the same weights and tokens, which makes on-policy training exact.
 *
 * <p>The backward pass keeps every accumulation in a fixed order and splits only independent outputs
 * among threads, so a step's result is the same for any thread count.
 */
public final class TrainModel {
    final TrainConfig c;
    final int batch, seq, n; // n = batch * seq token rows
    private final WorkerPool pool;
    private final MatMul matmul;
    private final Rope rope;

    /** Weights the forward pass reads: the parameters, or their fake-quantized copy (QAT). */
    private float[] fwd;
    private Matrix emb;
    private Matrix[] wq, wk, wv, wo, wg, wu, wd;

    // activations, [layer][n * width]
    final float[][] xIn, xbA, q, k, v, att, xMid, xbF, g, u, h;
    final float[][] rmsA, rmsF; // the norm's scale s per token
    final float[][] prob;       // [layer][(b * heads + head) * seq * seq], row t holds p(t, j) for j <= t
    final float[] xOut, xn, rmsO, logits;
    final int[] positions;
    private final float[] cos, sin;
    private final float[][] lanes; // per worker (index 0 also for the single-threaded loss): the softmax sums' 16 lanes

    // gradient scratch
    private final float[] dx, dxb, dq, dk, dv, datt, dg, du, dh, dlogits, dxn;

    public TrainModel(TrainConfig c, int batch, int seq, WorkerPool pool) {
        if (seq > c.context()) throw new IllegalArgumentException("sequence " + seq + " > context " + c.context());
        this.c = c;
        this.batch = batch;
        this.seq = seq;
        this.n = batch * seq;
        this.pool = pool;
        this.lanes = new float[pool.size()][Canonical.LANES];
        this.matmul = new MatMul(pool);
        this.rope = new Rope(c.headDim(), c.ropeBase(), null, Rope.Layout.NORMAL, 1.0);
        int L = c.layers(), d = c.dim();
        xIn = new float[L][n * d];
        xbA = new float[L][n * d];
        q = new float[L][n * c.qDim()];
        k = new float[L][n * c.kvDim()];
        v = new float[L][n * c.kvDim()];
        att = new float[L][n * c.qDim()];
        xMid = new float[L][n * d];
        xbF = new float[L][n * d];
        g = new float[L][n * c.ff()];
        u = new float[L][n * c.ff()];
        h = new float[L][n * c.ff()];
        rmsA = new float[L][n];
        rmsF = new float[L][n];
        prob = new float[L][batch * c.heads() * seq * seq];
        xOut = new float[n * d];
        xn = new float[n * d];
        rmsO = new float[n];
        logits = new float[n * c.vocab()];
        positions = new int[n];
        for (int i = 0; i < n; i++) positions[i] = i % seq;
        cos = new float[n * c.headDim() / 2];
        sin = new float[n * c.headDim() / 2];
        rope.fillTables(positions, n, cos, sin);
        dx = new float[n * d];
        dxb = new float[n * d];
        dq = new float[n * c.qDim()];
        dk = new float[n * c.kvDim()];
        dv = new float[n * c.kvDim()];
        datt = new float[n * c.qDim()];
        dg = new float[n * c.ff()];
        du = new float[n * c.ff()];
        dh = new float[n * c.ff()];
        dlogits = new float[n * c.vocab()];
        dxn = new float[n * d];
    }

    /**
     * Chooses the weights of the next forward passes: {@code params} itself, or with {@code qat} set, a
     * copy whose matrices went through quantization to {@code qat} and back (fake quantization; the
     * backward pass then treats the rounding as identity: straight-through estimator).
     */
    public void useWeights(float[] params, GgmlType qat, float[] qatScratch) {
        if (qat == null) {
            fwd = params;
        } else {
            System.arraycopy(params, 0, qatScratch, 0, params.length);
            fakeQuantize(qatScratch, c.embOffset(), c.vocab(), c.dim(), qat);
            for (int l = 0; l < c.layers(); l++) {
                fakeQuantize(qatScratch, c.wq(l), c.qDim(), c.dim(), qat);
                fakeQuantize(qatScratch, c.wk(l), c.kvDim(), c.dim(), qat);
                fakeQuantize(qatScratch, c.wv(l), c.kvDim(), c.dim(), qat);
                fakeQuantize(qatScratch, c.wo(l), c.dim(), c.qDim(), qat);
                fakeQuantize(qatScratch, c.wGate(l), c.ff(), c.dim(), qat);
                fakeQuantize(qatScratch, c.wUp(l), c.ff(), c.dim(), qat);
                fakeQuantize(qatScratch, c.wDown(l), c.dim(), c.ff(), qat);
            }
            fwd = qatScratch;
        }
        MemorySegment seg = MemorySegment.ofArray(fwd);
        int L = c.layers();
        emb = matrix(seg, "token_embd", c.embOffset(), c.vocab(), c.dim());
        wq = new Matrix[L];
        wk = new Matrix[L];
        wv = new Matrix[L];
        wo = new Matrix[L];
        wg = new Matrix[L];
        wu = new Matrix[L];
        wd = new Matrix[L];
        for (int l = 0; l < L; l++) {
            wq[l] = matrix(seg, "wq", c.wq(l), c.qDim(), c.dim());
            wk[l] = matrix(seg, "wk", c.wk(l), c.kvDim(), c.dim());
            wv[l] = matrix(seg, "wv", c.wv(l), c.kvDim(), c.dim());
            wo[l] = matrix(seg, "wo", c.wo(l), c.dim(), c.qDim());
            wg[l] = matrix(seg, "wg", c.wGate(l), c.ff(), c.dim());
            wu[l] = matrix(seg, "wu", c.wUp(l), c.ff(), c.dim());
            wd[l] = matrix(seg, "wd", c.wDown(l), c.dim(), c.ff());
        }
    }

    static void fakeQuantize(float[] a, int off, int rows, int cols, GgmlType type) {
        float[] row = new float[cols];
        byte[] qb = new byte[(int) type.byteSize(cols)];
        MemorySegment qs = MemorySegment.ofArray(qb);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a, off + r * cols, row, 0, cols);
            Quantize.quantize(type, row, 0, cols, qb, 0);
            Dequant.dequantize(type, qs, 0, a, off + r * cols, cols);
        }
    }

    private static Matrix matrix(MemorySegment seg, String name, int off, int rows, int cols) {
        return new Matrix(name, GgmlType.F32, seg.asSlice((long) off * Float.BYTES, (long) rows * cols * Float.BYTES), rows, cols);
    }

    /** Forward pass over {@code tokens[0..n)} (B sequences of T); fills {@link #logits}. */
    public void forward(int[] tokens) {
        int d = c.dim(), L = c.layers(), qD = c.qDim(), kvD = c.kvDim(), ff = c.ff(), hd = c.headDim();
        float[] x = new float[n * d];
        for (int t = 0; t < n; t++) System.arraycopy(fwd, c.embOffset() + tokens[t] * d, x, t * d, d);
        float scale = 1f / (float) Math.sqrt(hd);
        for (int l = 0; l < L; l++) {
            System.arraycopy(x, 0, xIn[l], 0, n * d);
            for (int t = 0; t < n; t++) rmsA[l][t] = rmsNorm(xbA[l], x, t, c.attnNorm(l));
            matmul.applyShared(xbA[l], 0, d, n, wq[l], q[l], wk[l], k[l], wv[l], v[l]);
            for (int t = 0; t < n; t++) {
                rope.apply(q[l], t * qD, c.heads(), hd, cos, sin, t * hd / 2);
                rope.apply(k[l], t * kvD, c.kvHeads(), hd, cos, sin, t * hd / 2);
            }
            final int layer = l;
            pool.execute((w, ws) -> {
                int items = batch * c.heads();
                for (int it = WorkerPool.rangeStart(items, w, ws); it < WorkerPool.rangeStart(items, w + 1, ws); it++)
                    attentionForward(layer, it / c.heads(), it % c.heads(), scale, lanes[w]);
            });
            float[] y = new float[n * d];
            matmul.apply(wo[l], att[l], 0, qD, n, y, 0, d);
            for (int t = 0; t < n; t++) Ops.addInPlace(x, t * d, y, t * d, d);
            System.arraycopy(x, 0, xMid[l], 0, n * d);
            for (int t = 0; t < n; t++) rmsF[l][t] = rmsNorm(xbF[l], x, t, c.ffnNorm(l));
            matmul.applyShared(xbF[l], 0, d, n, wg[l], g[l], wu[l], u[l], null, null);
            System.arraycopy(g[l], 0, h[l], 0, n * ff);
            for (int t = 0; t < n; t++) Ops.swiglu(h[l], t * ff, u[l], t * ff, ff);
            matmul.apply(wd[l], h[l], 0, ff, n, y, 0, d);
            for (int t = 0; t < n; t++) Ops.addInPlace(x, t * d, y, t * d, d);
        }
        System.arraycopy(x, 0, xOut, 0, n * d);
        for (int t = 0; t < n; t++) rmsO[t] = rmsNorm(xn, x, t, c.outputNorm());
        matmul.apply(emb, xn, 0, d, n, logits, 0, c.vocab());
    }

    /** The engine's RMSNorm of token row t (same kernel); returns its scale s for the backward pass. */
    private float rmsNorm(float[] out, float[] x, int t, int wOff) {
        int d = c.dim();
        float[] w = new float[d];
        System.arraycopy(fwd, wOff, w, 0, d);
        Ops.rmsNorm(out, t * d, x, t * d, w, d, c.rmsEps());
        float ss = dev.lockstep.kernels.Dot.dot(x, t * d, x, t * d, d);
        return 1f / (float) Math.sqrt(ss / d + c.rmsEps());
    }

    /** Attention of sequence b, head hh: exactly the engine's arithmetic; keeps the probabilities. */
    private void attentionForward(int l, int b, int hh, float scale, float[] lanes) {
        int hd = c.headDim(), qD = c.qDim(), kvD = c.kvDim(), T = seq;
        int gq = hh / (c.heads() / c.kvHeads());
        float[] qs = q[l], ks = k[l], vs = v[l], p = prob[l], out = att[l];
        int pBase = (b * c.heads() + hh) * T * T;
        for (int t = 0; t < T; t++) {
            int row = b * T + t, qo = row * qD + hh * hd, po = pBase + t * T;
            for (int j = 0; j <= t; j++) {
                int ko = (b * T + j) * kvD + gq * hd;
                float acc = 0f;
                for (int e = 0; e < hd; e++) acc = Math.fma(qs[qo + e], ks[ko + e], acc);
                p[po + j] = acc * scale;
            }
            float z = Ops.expShiftSum(p, po, t + 1, Ops.max(p, po, t + 1), lanes);
            Ops.scale(p, po, t + 1, 1f / z);
            for (int e = 0; e < hd; e++) {
                float acc = 0f;
                for (int j = 0; j <= t; j++) acc = Math.fma(p[po + j], vs[(b * T + j) * kvD + gq * hd + e], acc);
                out[qo + e] = acc;
            }
        }
    }

    /**
     * Cross-entropy of {@link #logits} against {@code targets} (mean over tokens); fills the logit
     * gradient. With {@code soft} (teacher probabilities at temperature {@code temp}, [n][vocab]) the loss
     * is KL(teacher || student at temp) x temp^2 instead. Returns the mean loss.
     */
    public double loss(int[] targets, float[] soft, float temp) {
        int V = c.vocab();
        double total = 0;
        float[] row = new float[V];
        for (int t = 0; t < n; t++) {
            int o = t * V;
            if (soft == null) {
                System.arraycopy(logits, o, row, 0, V);
                float max = Ops.max(row, 0, V);
                float z = Ops.expShiftSum(row, 0, V, max, lanes[0]);
                total += Math.log(z) - (logits[o + targets[t]] - max);
                float inv = 1f / z;
                for (int i = 0; i < V; i++) dlogits[o + i] = row[i] * inv / n;
                dlogits[o + targets[t]] -= 1f / n;
            } else {
                for (int i = 0; i < V; i++) row[i] = logits[o + i] / temp;
                float max = Ops.max(row, 0, V);
                float z = Ops.expShiftSum(row, 0, V, max, lanes[0]);
                float inv = 1f / z;
                double kl = 0;
                for (int i = 0; i < V; i++) {
                    float ps = row[i] * inv, pt = soft[o + i];
                    if (pt > 0) kl += pt * (Math.log(pt) - Math.log(Math.max(ps, 1e-30f)));
                    // d(T^2 KL)/dlogit = T (ps - pt)
                    dlogits[o + i] = temp * (ps - pt) / n;
                }
                total += kl * temp * temp;
            }
        }
        return total / n;
    }

    /** Backward pass from the logit gradient of {@link #loss}; adds into {@code grad} (same layout as params). */
    public void backward(int[] tokens, float[] grad) {
        int d = c.dim(), L = c.layers(), qD = c.qDim(), kvD = c.kvDim(), ff = c.ff(), V = c.vocab();
        // output: logits = E xn (tied)
        TrainKernels.weightGrad(pool, dlogits, V, xn, d, n, grad, c.embOffset());
        TrainKernels.inputGrad(pool, fwd, c.embOffset(), V, d, dlogits, n, dxn, false);
        java.util.Arrays.fill(dx, 0f);
        for (int t = 0; t < n; t++) rmsNormBackward(dxn, xOut, rmsO[t], t, c.outputNorm(), dx, grad);
        for (int l = L - 1; l >= 0; l--) {
            // feed-forward: x_out = x_mid + Wd h, h = silu(g) * u
            TrainKernels.weightGrad(pool, dx, d, h[l], ff, n, grad, c.wDown(l));
            TrainKernels.inputGrad(pool, fwd, c.wDown(l), d, ff, dx, n, dh, false);
            for (int i = 0; i < n * ff; i++) {
                float gi = g[l][i], sg = 1f / (1f + Exp.exp(-gi)), silu = Exp.silu(gi);
                du[i] = dh[i] * silu;
                dg[i] = dh[i] * u[l][i] * (sg * (1f + gi * (1f - sg)));
            }
            TrainKernels.weightGrad(pool, dg, ff, xbF[l], d, n, grad, c.wGate(l));
            TrainKernels.weightGrad(pool, du, ff, xbF[l], d, n, grad, c.wUp(l));
            TrainKernels.inputGrad(pool, fwd, c.wGate(l), ff, d, dg, n, dxb, false);
            TrainKernels.inputGrad(pool, fwd, c.wUp(l), ff, d, du, n, dxb, true);
            for (int t = 0; t < n; t++) rmsNormBackward(dxb, xMid[l], rmsF[l][t], t, c.ffnNorm(l), dx, grad);
            // attention: x_mid = x_in + Wo att
            TrainKernels.weightGrad(pool, dx, d, att[l], qD, n, grad, c.wo(l));
            TrainKernels.inputGrad(pool, fwd, c.wo(l), d, qD, dx, n, datt, false);
            java.util.Arrays.fill(dq, 0f);
            java.util.Arrays.fill(dk, 0f);
            java.util.Arrays.fill(dv, 0f);
            final int layer = l;
            float scale = 1f / (float) Math.sqrt(c.headDim());
            pool.execute((w, ws) -> {
                int items = batch * c.kvHeads();
                for (int it = WorkerPool.rangeStart(items, w, ws); it < WorkerPool.rangeStart(items, w + 1, ws); it++)
                    attentionBackward(layer, it / c.kvHeads(), it % c.kvHeads(), scale);
            });
            // RoPE is a rotation: its gradient rotates back
            for (int t = 0; t < n; t++) {
                rotateBack(dq, t * qD, c.heads(), t);
                rotateBack(dk, t * kvD, c.kvHeads(), t);
            }
            TrainKernels.weightGrad(pool, dq, qD, xbA[l], d, n, grad, c.wq(l));
            TrainKernels.weightGrad(pool, dk, kvD, xbA[l], d, n, grad, c.wk(l));
            TrainKernels.weightGrad(pool, dv, kvD, xbA[l], d, n, grad, c.wv(l));
            TrainKernels.inputGrad(pool, fwd, c.wq(l), qD, d, dq, n, dxb, false);
            TrainKernels.inputGrad(pool, fwd, c.wk(l), kvD, d, dk, n, dxb, true);
            TrainKernels.inputGrad(pool, fwd, c.wv(l), kvD, d, dv, n, dxb, true);
            for (int t = 0; t < n; t++) rmsNormBackward(dxb, xIn[l], rmsA[l][t], t, c.attnNorm(l), dx, grad);
        }
        // input embedding, in token order
        for (int t = 0; t < n; t++) {
            int o = c.embOffset() + tokens[t] * d;
            for (int i = 0; i < d; i++) grad[o + i] += dx[t * d + i];
        }
    }

    /**
     * y = (x * s) * w with s = 1/sqrt(mean(x^2) + eps): adds dL/dx to {@code dxAcc} (the residual
     * stream's gradient) and dL/dw to {@code grad}. dx_j = s w_j dy_j - s^3 x_j/n * sum_i(dy_i w_i x_i).
     */
    private void rmsNormBackward(float[] dy, float[] x, float s, int t, int wOff, float[] dxAcc, float[] grad) {
        int d = c.dim(), o = t * d;
        double dot = 0;
        for (int i = 0; i < d; i++) dot += (double) dy[o + i] * fwd[wOff + i] * x[o + i];
        float coef = (float) (s * s * s * dot / d);
        for (int i = 0; i < d; i++) {
            dxAcc[o + i] += s * fwd[wOff + i] * dy[o + i] - coef * x[o + i];
            grad[wOff + i] += dy[o + i] * x[o + i] * s;
        }
    }

    private void rotateBack(float[] a, int off, int heads, int t) {
        int hd = c.headDim(), half = hd / 2;
        for (int hh = 0; hh < heads; hh++) {
            int base = off + hh * hd;
            for (int i = 0; i < half; i++) {
                float cs = cos[t * half + i], sn = sin[t * half + i];
                float p0 = a[base + 2 * i], p1 = a[base + 2 * i + 1];
                a[base + 2 * i] = p0 * cs + p1 * sn;
                a[base + 2 * i + 1] = -p0 * sn + p1 * cs;
            }
        }
    }

    /** Gradients of the heads sharing kv head gq in sequence b, in a fixed order. */
    private void attentionBackward(int l, int b, int gq, float scale) {
        int hd = c.headDim(), qD = c.qDim(), kvD = c.kvDim(), T = seq, group = c.heads() / c.kvHeads();
        float[] dp = new float[T];
        for (int hh = gq * group; hh < (gq + 1) * group; hh++) {
            int pBase = (b * c.heads() + hh) * T * T;
            for (int t = 0; t < T; t++) {
                int row = b * T + t, qo = row * qD + hh * hd, po = pBase + t * T;
                // dP = datt . v_j ; dv_j += p_tj datt
                double sum = 0;
                for (int j = 0; j <= t; j++) {
                    int vo = (b * T + j) * kvD + gq * hd;
                    float acc = 0f;
                    for (int e = 0; e < hd; e++) {
                        acc = Math.fma(datt[qo + e], v[l][vo + e], acc);
                        dv[vo + e] += prob[l][po + j] * datt[qo + e];
                    }
                    dp[j] = acc;
                    sum += (double) prob[l][po + j] * acc;
                }
                // softmax: dS = p (dP - sum p dP); S = scale q.k
                for (int j = 0; j <= t; j++) {
                    float ds = prob[l][po + j] * (dp[j] - (float) sum) * scale;
                    int ko = (b * T + j) * kvD + gq * hd;
                    for (int e = 0; e < hd; e++) {
                        dq[qo + e] += ds * k[l][ko + e];
                        dk[ko + e] += ds * q[l][qo + e];
                    }
                }
            }
        }
    }
}
