package dev.lockstep.model;

import dev.lockstep.kernels.Dot;
import dev.lockstep.kernels.Exp;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.Scan;
import dev.lockstep.kernels.WorkerPool;

/**
 * The Mamba-1 block (Gu and Dao 2023) for one token, with its recurrent state: a rolling window of
 * the last {@code dConv - 1} conv inputs and the selective-scan state. Because the state is all a
 * sequence carries, feeding a prompt in any chunking, or token by token, gives the same bits: every
 * token is processed by this one function in position order.
 *
 * <pre>
 * h = rmsnorm(x) ; [u0; z] = W_in h ; c = conv_bias + sum_i w[:, i] * u0[t-dConv+1+i] ; u = silu(c)
 * [dt_raw; B; C] = W_x u ; delta = softplus(W_dt dt_raw + dt_bias) ; A = ssm_a (= -exp(A_log))
 * s[d, n] = exp(delta[d] A[d, n]) s[d, n] + delta[d] u[d] B[n] ; y = s C + D u ; y = y * silu(z)
 * x += W_out y
 * </pre>
 *
 * This is the reference-grade kernel (dense float weights, canonical-order dot products); the state
 * layout is llama.cpp's ({@code conv}: [dInner][dConv-1], oldest first; {@code ssm}: [dInner][dState]).
 */
public final class MambaMixer implements RecurrentMixer {
    public final int dModel, dInner, dState, dConv, dtRank;
    final float[] norm, inProj, convW, convB, xProj, dtW, dtB, a, d, outProj;
    final float eps;
    private final float[] h, xz, u, xdbc, delta, y;

    /**
     * Weights in row-major [out][in] order ({@code convW}: [dInner][dConv]; {@code a}: [dInner][dState],
     * already -exp(A_log)).
     */
    public MambaMixer(int dModel, int dInner, int dState, int dConv, int dtRank, float eps, float[] norm, float[] inProj,
                      float[] convW, float[] convB, float[] xProj, float[] dtW, float[] dtB, float[] a, float[] d,
                      float[] outProj) {
        this.dModel = dModel;
        this.dInner = dInner;
        this.dState = dState;
        this.dConv = dConv;
        this.dtRank = dtRank;
        this.eps = eps;
        this.norm = norm;
        this.inProj = inProj;
        this.convW = convW;
        this.convB = convB;
        this.xProj = xProj;
        this.dtW = dtW;
        this.dtB = dtB;
        this.a = a;
        this.d = d;
        this.outProj = outProj;
        this.h = new float[dModel];
        this.xz = new float[2 * dInner];
        this.u = new float[dInner];
        this.xdbc = new float[dtRank + 2 * dState];
        this.delta = new float[dInner];
        this.y = new float[dInner];
    }

    @Override
    public int stateSize() {
        return convStateSize() + ssmStateSize();
    }

    @Override
    public void step(float[] x, int xo, int pos, float[] state, int so) {
        step(x, xo, state, so, state, so + convStateSize());
    }

    @Override
    public MambaMixer copy() {
        return new MambaMixer(dModel, dInner, dState, dConv, dtRank, eps, norm, inProj, convW, convB, xProj, dtW, dtB, a, d,
                outProj);
    }

    public int convStateSize() {
        return dInner * (dConv - 1);
    }

    public int ssmStateSize() {
        return dInner * dState;
    }

    /** x[xo .. xo+dModel) += mixer(rmsnorm(x)); the states advance by one token. */
    public void step(float[] x, int xo, float[] conv, int co, float[] ssm, int so) {
        Ops.rmsNorm(h, 0, x, xo, norm, dModel, eps);
        for (int r = 0; r < 2 * dInner; r++) xz[r] = Dot.dot(inProj, r * dModel, h, 0, dModel);
        recurrence(xz, 0, conv, co, ssm, so, y, 0);
        for (int r = 0; r < dModel; r++) x[xo + r] += Dot.dot(outProj, r * dInner, y, 0, dInner);
    }

    private float[] hs = new float[0], xzs = new float[0], ys = new float[0];

    /** The step's tokens at once: norms, then the in-projection for all, the recurrence token by token, the out-projection for all. */
    @Override
    public void steps(float[] x, int dModel, int n, int[] positions, float[] state, int[] so, WorkerPool pool) {
        if (n == 1) {
            step(x, 0, positions[0], state, so[0]);
            return;
        }
        if (hs.length < n * dModel) {
            hs = new float[n * dModel];
            xzs = new float[n * 2 * dInner];
            ys = new float[n * dInner];
        }
        for (int t = 0; t < n; t++) Ops.rmsNorm(hs, t * dModel, x, t * dModel, norm, dModel, eps);
        Projections.apply(pool, inProj, 2 * dInner, dModel, hs, n, xzs, false);
        for (int t = 0; t < n; t++) recurrence(xzs, t * 2 * dInner, state, so[t], state, so[t] + convStateSize(), ys, t * dInner);
        Projections.apply(pool, outProj, dModel, dInner, ys, n, x, true);
    }

    /** Conv, selective scan and gate for one token: xz (its in-projection) to y. */
    private void recurrence(float[] xz, int xzo, float[] conv, int co, float[] ssm, int so, float[] y, int yo) {
        int w = dConv - 1;
        for (int c = 0; c < dInner; c++) {
            // conv over the window (oldest first) and the new input, then roll the window
            int base = co + c * w;
            float acc = convB[c];
            for (int i = 0; i < w; i++) acc = Math.fma(convW[c * dConv + i], conv[base + i], acc);
            acc = Math.fma(convW[c * dConv + w], xz[xzo + c], acc);
            for (int i = 0; i + 1 < w; i++) conv[base + i] = conv[base + i + 1];
            if (w > 0) conv[base + w - 1] = xz[xzo + c];
            u[c] = Exp.silu(acc);
        }
        for (int r = 0; r < xdbc.length; r++) xdbc[r] = Dot.dot(xProj, r * dInner, u, 0, dInner);
        for (int c = 0; c < dInner; c++) {
            float v = Dot.dot(dtW, c * dtRank, xdbc, 0, dtRank) + dtB[c];
            delta[c] = v > 20f ? v : (float) StrictMath.log1p(Exp.exp(v));
        }
        int bOff = dtRank, cOff = dtRank + dState;
        for (int c = 0; c < dInner; c++) {
            float dc = delta[c], du = dc * u[c];
            float acc = Scan.selective(ssm, so + c * dState, dc, a, c * dState, du, xdbc, bOff, xdbc, cOff, dState);
            y[yo + c] = Math.fma(d[c], u[c], acc) * Exp.silu(xz[xzo + dInner + c]);
        }
    }
}
