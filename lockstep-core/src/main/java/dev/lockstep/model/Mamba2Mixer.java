package dev.lockstep.model;

import dev.lockstep.kernels.Dot;
import dev.lockstep.kernels.Exp;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.Scan;
import dev.lockstep.kernels.WorkerPool;

/**
 * The Mamba-2 block (Dao and Gu 2024) for one token: scalar decay per head, B and C shared by groups
 * of heads, a gated RMSNorm per group before the output projection.
 *
 * <pre>
 * h = rmsnorm(x) ; [z | xBC | dt] = W_in h ; xBC = silu(conv(xBC) + bias)     (conv over the window)
 * per head h (group g = h / (H/G)):  delta = softplus(dt_h + dt_bias_h) ; a = exp(delta A_h)
 *     S_h = a S_h + delta x_h (outer) B_g ;  y_h = S_h C_g + D_h x_h
 * y = y * silu(z) ; y_g = rmsnorm(y_g) * norm_g per group ; x += W_out y
 * </pre>
 *
 * The state is the conv window ([convDim][dConv-1], oldest first) then S ([H][P][N]). The sequential
 * per-token recurrence is also what any chunking reduces to here, so chunk boundaries change nothing.
 */
public final class Mamba2Mixer implements RecurrentMixer {
    final int dModel, dInner, dState, dConv, heads, groups, headDim, convDim;
    final float[] norm, inProj, convW, convB, dtB, a, d, gnorm, outProj;
    final float eps;
    private final float[] h, zxbcdt, xbc, y, dxs, acc4; // dxs, acc4: one head's rows (headDim)

    public Mamba2Mixer(int dModel, int dInner, int dState, int dConv, int heads, int groups, float eps, float[] norm,
                       float[] inProj, float[] convW, float[] convB, float[] dtB, float[] a, float[] d, float[] gnorm,
                       float[] outProj) {
        this.dModel = dModel;
        this.dInner = dInner;
        this.dState = dState;
        this.dConv = dConv;
        this.heads = heads;
        this.groups = groups;
        this.headDim = dInner / heads;
        this.convDim = dInner + 2 * groups * dState;
        this.eps = eps;
        this.norm = norm;
        this.inProj = inProj;
        this.convW = convW;
        this.convB = convB;
        this.dtB = dtB;
        this.a = a;
        this.d = d;
        this.gnorm = gnorm;
        this.outProj = outProj;
        this.h = new float[dModel];
        this.zxbcdt = new float[dInner + convDim + heads];
        this.xbc = new float[convDim];
        this.dxs = new float[headDim];
        this.acc4 = new float[headDim];
        this.y = new float[dInner];
    }

    @Override
    public int stateSize() {
        return convDim * (dConv - 1) + heads * headDim * dState;
    }

    @Override
    public Mamba2Mixer copy() {
        return new Mamba2Mixer(dModel, dInner, dState, dConv, heads, groups, eps, norm, inProj, convW, convB, dtB, a, d, gnorm,
                outProj);
    }

    @Override
    public void step(float[] x, int xo, int pos, float[] st, int so) {
        Ops.rmsNorm(h, 0, x, xo, norm, dModel, eps);
        for (int r = 0; r < zxbcdt.length; r++) zxbcdt[r] = Dot.dot(inProj, r * dModel, h, 0, dModel);
        recurrence(zxbcdt, 0, st, so, y, 0);
        for (int r = 0; r < dModel; r++) x[xo + r] += Dot.dot(outProj, r * dInner, y, 0, dInner);
    }

    private float[] hs = new float[0], zs = new float[0], ys = new float[0];

    /** The step's tokens at once: norms, the in-projection for all, the recurrence token by token, the out-projection for all. */
    @Override
    public void steps(float[] x, int dModel, int n, int[] positions, float[] st, int[] so, WorkerPool pool) {
        if (n == 1) {
            step(x, 0, positions[0], st, so[0]);
            return;
        }
        int width = zxbcdt.length;
        if (hs.length < n * dModel) {
            hs = new float[n * dModel];
            zs = new float[n * width];
            ys = new float[n * dInner];
        }
        for (int t = 0; t < n; t++) Ops.rmsNorm(hs, t * dModel, x, t * dModel, norm, dModel, eps);
        Projections.apply(pool, inProj, width, dModel, hs, n, zs, false);
        for (int t = 0; t < n; t++) recurrence(zs, t * width, st, so[t], ys, t * dInner);
        Projections.apply(pool, outProj, dModel, dInner, ys, n, x, true);
    }

    /** Conv, SSD scan, gate and group norm for one token: its in-projection z to y. */
    private void recurrence(float[] z, int zo, float[] st, int so, float[] y, int yo) {
        int w = dConv - 1;
        for (int c = 0; c < convDim; c++) {
            int base = so + c * w;
            float acc = convB[c];
            for (int i = 0; i < w; i++) acc = Math.fma(convW[c * dConv + i], st[base + i], acc);
            float in = z[zo + dInner + c];
            acc = Math.fma(convW[c * dConv + w], in, acc);
            for (int i = 0; i + 1 < w; i++) st[base + i] = st[base + i + 1];
            if (w > 0) st[base + w - 1] = in;
            xbc[c] = Exp.silu(acc);
        }
        int ssm = so + convDim * w, perGroup = heads / groups;
        for (int hh = 0; hh < heads; hh++) {
            int g = hh / perGroup, bOff = dInner + g * dState, cOff = dInner + groups * dState + g * dState;
            float v = z[zo + dInner + convDim + hh] + dtB[hh];
            float delta = v > 20f ? v : (float) StrictMath.log1p(Exp.exp(v));
            float decay = Exp.exp(delta * a[hh]);
            int p = 0;
            for (int q = 0; q < headDim; q++) dxs[q] = delta * xbc[hh * headDim + q];
            for (; p + 4 <= headDim; p += 4) // four rows of the head at once (the same bits as one by one)
                Scan.ssd4(st, ssm + (hh * headDim + p) * dState, decay, dxs, p, xbc, bOff, xbc, cOff, dState, acc4, p);
            for (; p < headDim; p++)
                acc4[p] = Scan.ssd(st, ssm + (hh * headDim + p) * dState, decay, dxs[p], xbc, bOff, xbc, cOff, dState);
            for (int q = 0; q < headDim; q++) {
                float xv = xbc[hh * headDim + q];
                y[yo + hh * headDim + q] = Math.fma(d[hh], xv, acc4[q]) * Exp.silu(z[zo + hh * headDim + q]);
            }
        }
        int gs = dInner / groups;
        for (int g = 0; g < groups; g++) rmsNormSlice(y, yo + g * gs, g * gs, gs);
    }

    /** v[o .. o+n) = v / sqrt(mean(v^2) + eps) * gnorm[go ..], the sum of squares in canonical order. */
    private void rmsNormSlice(float[] v, int o, int go, int n) {
        float ss = Dot.dot(v, o, v, o, n);
        float inv = 1f / (float) Math.sqrt(ss / n + eps); // as Ops.rmsNorm: sqrt is exactly rounded
        for (int i = 0; i < n; i++) v[o + i] = v[o + i] * inv * gnorm[go + i];
    }
}
