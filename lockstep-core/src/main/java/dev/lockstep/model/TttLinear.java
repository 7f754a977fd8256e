package dev.lockstep.model;

import dev.lockstep.kernels.Canonical;

/**
 * The TTT-Linear layer (Sun et al. 2024, "Learning to (Learn at Test Time)") in its primal, one token
 * at a time form. Each head's hidden state is a linear model (W, b) trained while reading: every token
 * adds the gradient of a reconstruction loss, taken at the parameters of its mini-batch's start, and is
 * answered by those parameters minus the accumulated gradient. Mini-batches are the absolute positions
 * [16m, 16m+16), so chunking a prompt can never move a boundary.
 *
 * <pre>
 * q, k = W_q x, W_k x            (share_qk: s = W_q x ; q, k = conv_q(s), conv_k(s))
 * v = W_v x ; RoPE(q, k) at p = t mod 16 ; eta_h = base_lr sigmoid(w_h x + beta_h) / d ; tau_p = max(0, 1/(p+1) + idx_p)
 * per head:  Z = k W0 + b0 ; dZ = d/dZ 1/2 |LN(Z) - (v - k)|^2 ; G += eta (k^T dZ, dZ)
 *            z = q + LN(q (W0 - tau_p G_W) + (b0 - tau_p G_b)) ; at p = 15: W0 -= tau_15 G, G = 0
 * o = LayerNorm(z) [ * gelu_tanh(W_g x) ] ; y = W_o o
 * </pre>
 *
 * State layout per sequence: per head W0 (d x d, row-vector convention u W), b0 (d), G_W, G_b; then,
 * with share_qk, the window of the last K-1 shared projections (oldest first).
 */
public final class TttLinear {
    public final int hidden, heads, d, convK;
    public final boolean shareQk, gate;
    final float[] wq, wk, wv, wo, wg, convQW, convQB, convKW, convKB, tokenIdx, lrW, lrB, lnW, lnB, w1, b1, postW, postB;
    final float baseLr, eps;
    final double ropeTheta;
    private final float[] s, q, k, v, z, zr, dz, eta, o, xhat, ghat;

    public TttLinear(int hidden, int heads, int convK, boolean shareQk, boolean gate, float baseLr, float eps, double ropeTheta,
                     float[] wq, float[] wk, float[] wv, float[] wo, float[] wg, float[] convQW, float[] convQB,
                     float[] convKW, float[] convKB, float[] tokenIdx, float[] lrW, float[] lrB, float[] lnW, float[] lnB,
                     float[] w1, float[] b1, float[] postW, float[] postB) {
        this.hidden = hidden;
        this.heads = heads;
        this.d = hidden / heads;
        this.convK = convK;
        this.shareQk = shareQk;
        this.gate = gate;
        this.baseLr = baseLr;
        this.eps = eps;
        this.ropeTheta = ropeTheta;
        this.wq = wq; this.wk = wk; this.wv = wv; this.wo = wo; this.wg = wg;
        this.convQW = convQW; this.convQB = convQB; this.convKW = convKW; this.convKB = convKB;
        this.tokenIdx = tokenIdx; this.lrW = lrW; this.lrB = lrB; this.lnW = lnW; this.lnB = lnB;
        this.w1 = w1; this.b1 = b1; this.postW = postW; this.postB = postB;
        s = new float[hidden];
        q = new float[hidden];
        k = new float[hidden];
        v = new float[hidden];
        z = new float[hidden];
        zr = new float[d];
        dz = new float[d];
        eta = new float[heads];
        o = new float[hidden];
        xhat = new float[d];
        ghat = new float[d];
    }

    private int perHead() {
        return 2 * d * d + 2 * d;
    }

    public int stateSize() {
        return heads * perHead() + (shareQk ? hidden * (convK - 1) : 0);
    }

    /** A fresh sequence: the inner models start from the trained W1, b1; no gradient; empty windows. */
    public void initState(float[] st, int so) {
        java.util.Arrays.fill(st, so, so + stateSize(), 0f);
        for (int h = 0; h < heads; h++) {
            int base = so + h * perHead();
            System.arraycopy(w1, h * d * d, st, base, d * d);
            System.arraycopy(b1, h * d, st, base + d * d, d);
        }
    }

    /** y[yo ..] = layer(x[xo ..]) for the token at absolute position {@code t}; the state advances. */
    public void step(float[] x, int xo, int t, float[] st, int so, float[] y, int yo) {
        int p = t % 16;
        if (shareQk) {
            for (int c = 0; c < hidden; c++) s[c] = Canonical.dotScalar(wq, c * hidden, x, xo, hidden);
            int win = so + heads * perHead(), w = convK - 1;
            for (int c = 0; c < hidden; c++) {
                float aq = convQB[c], ak = convKB[c];
                for (int i = 0; i < w; i++) {
                    float sv = st[win + c * w + i];
                    aq = Math.fma(convQW[c * convK + i], sv, aq);
                    ak = Math.fma(convKW[c * convK + i], sv, ak);
                }
                q[c] = Math.fma(convQW[c * convK + w], s[c], aq);
                k[c] = Math.fma(convKW[c * convK + w], s[c], ak);
                for (int i = 0; i + 1 < w; i++) st[win + c * w + i] = st[win + c * w + i + 1];
                if (w > 0) st[win + c * w + w - 1] = s[c];
            }
        } else {
            for (int c = 0; c < hidden; c++) {
                q[c] = Canonical.dotScalar(wq, c * hidden, x, xo, hidden);
                k[c] = Canonical.dotScalar(wk, c * hidden, x, xo, hidden);
            }
        }
        for (int c = 0; c < hidden; c++) v[c] = Canonical.dotScalar(wv, c * hidden, x, xo, hidden);
        for (int h = 0; h < heads; h++) {
            rope(q, h * d, p);
            rope(k, h * d, p);
            float a = Canonical.dotScalar(lrW, h * hidden, x, xo, hidden) + lrB[h];
            eta[h] = baseLr * (float) (1.0 / (1.0 + StrictMath.exp(-a))) / d;
        }
        float tau = Math.max(0f, 1f / (p + 1) + tokenIdx[p]);
        for (int h = 0; h < heads; h++) {
            int base = so + h * perHead(), wOff = base, bOff = base + d * d, gw = bOff + d, gb = gw + d * d;
            int ho = h * d;
            // gradient of this token's loss at the mini-batch's starting parameters
            for (int j = 0; j < d; j++) {
                float acc = st[bOff + j];
                for (int i = 0; i < d; i++) acc = Math.fma(k[ho + i], st[wOff + i * d + j], acc);
                zr[j] = acc;
            }
            lnGrad(zr, h, k, v, ho, dz);
            float e = eta[h];
            for (int i = 0; i < d; i++) {
                float ek = e * k[ho + i];
                for (int j = 0; j < d; j++) st[gw + i * d + j] = Math.fma(ek, dz[j], st[gw + i * d + j]);
            }
            for (int j = 0; j < d; j++) st[gb + j] = Math.fma(e, dz[j], st[gb + j]);
            // answer with W0 - tau G
            for (int j = 0; j < d; j++) {
                float acc = st[bOff + j] - tau * st[gb + j];
                for (int i = 0; i < d; i++) acc = Math.fma(q[ho + i], st[wOff + i * d + j] - tau * st[gw + i * d + j], acc);
                zr[j] = acc;
            }
            layerNorm(zr, 0, d, lnW, lnB, h * d, z, ho);
            for (int j = 0; j < d; j++) z[ho + j] += q[ho + j];
            if (p == 15) { // the mini-batch is complete: its last parameters start the next one
                for (int i = 0; i < d * d; i++) {
                    st[wOff + i] -= tau * st[gw + i];
                    st[gw + i] = 0f;
                }
                for (int j = 0; j < d; j++) {
                    st[bOff + j] -= tau * st[gb + j];
                    st[gb + j] = 0f;
                }
            }
        }
        layerNorm(z, 0, hidden, postW, postB, 0, o, 0);
        if (gate)
            for (int c = 0; c < hidden; c++) o[c] *= geluTanh(Canonical.dotScalar(wg, c * hidden, x, xo, hidden));
        for (int c = 0; c < hidden; c++) y[yo + c] = Canonical.dotScalar(wo, c * hidden, o, 0, hidden);
    }

    /** Adjacent pairs rotated by p * theta^(-2i/d); angles in double. */
    private void rope(float[] a, int off, int p) {
        for (int i = 0; i < d / 2; i++) {
            double ang = p * StrictMath.pow(ropeTheta, -2.0 * i / d);
            float c = (float) StrictMath.cos(ang), sn = (float) StrictMath.sin(ang);
            float x0 = a[off + 2 * i], x1 = a[off + 2 * i + 1];
            a[off + 2 * i] = x0 * c - x1 * sn;
            a[off + 2 * i + 1] = x0 * sn + x1 * c;
        }
    }

    /** dZ of 1/2 |LN(Z) - (v - k)|^2 for head h (LayerNorm with gamma/beta of the head). */
    private void lnGrad(float[] zv, int h, float[] kk, float[] vv, int ho, float[] out) {
        float mu = Canonical.sumScalar(zv, 0, d) / d;
        float var = 0f;
        for (int j = 0; j < d; j++) var = Math.fma(zv[j] - mu, zv[j] - mu, var);
        var /= d;
        float sigma = (float) Math.sqrt(var + eps);
        float sg = 0f, sgx = 0f;
        float[] xh = this.xhat, g = this.ghat;
        for (int j = 0; j < d; j++) {
            xh[j] = (zv[j] - mu) / sigma;
            float ln = lnW[h * d + j] * xh[j] + lnB[h * d + j];
            g[j] = (ln - (vv[ho + j] - kk[ho + j])) * lnW[h * d + j];
            sg += g[j];
            sgx = Math.fma(g[j], xh[j], sgx);
        }
        for (int j = 0; j < d; j++) out[j] = (d * g[j] - sg - xh[j] * sgx) / (d * sigma);
    }

    private void layerNorm(float[] a, int ao, int n, float[] w, float[] b, int wo, float[] out, int oo) {
        float mu = Canonical.sumScalar(a, ao, n) / n;
        float var = 0f;
        for (int j = 0; j < n; j++) var = Math.fma(a[ao + j] - mu, a[ao + j] - mu, var);
        var /= n;
        float inv = 1f / (float) Math.sqrt(var + eps);
        for (int j = 0; j < n; j++) out[oo + j] = (a[ao + j] - mu) * inv * w[wo + j] + b[wo + j];
    }

    static float geluTanh(float x) {
        double xd = x;
        return (float) (0.5 * xd * (1 + StrictMath.tanh(0.7978845608028654 * (xd + 0.044715 * xd * xd * xd))));
    }
}
