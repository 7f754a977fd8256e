package dev.lockstep.model;

import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.Dot;

/**
 * The TTT-Linear and TTT-MLP layers (Sun et al. 2024, "Learning to (Learn at Test Time)") in their
 * primal, one token at a time form. Each head's hidden state is a small model — linear (W1, b1) or a
 * 2-layer GELU MLP (W1, b1, W2, b2) — trained while reading: every token
 * adds the gradient of a reconstruction loss, taken at the parameters of its mini-batch's start, and is
 * answered by those parameters minus the accumulated gradient. Mini-batches are the absolute positions
 * [16m, 16m+16), so chunking a prompt can never move a boundary.
 *
 * <pre>
 * q, k = W_q x, W_k x            (share_qk: s = W_q x ; q, k = conv_q(s), conv_k(s))
 * v = W_v x ; RoPE(q, k) at p = t mod 16 ; eta_h = base_lr sigmoid(w_h x + beta_h) / d ; tau_p = max(0, 1/(p+1) + idx_p)
 * per head:  Z = f(k; P0) ; dZ = d/dZ 1/2 |LN(Z) - (v - k)|^2 ; G += eta grad_P (backprop of dZ)
 *            z = q + LN(f(q; P0 - tau_p G)) ; at p = 15: P0 -= tau_15 G, G = 0
 *            (linear: f(u) = u W1 + b1 ; MLP: f(u) = gelu_tanh(u W1 + b1) W2 + b2, hidden 4d)
 * o = LayerNorm(z) [ * gelu_tanh(W_g x) ] ; y = W_o o
 * </pre>
 *
 * State layout per sequence: per head the parameters P0 (W1 [d][f] in the row-vector convention u W,
 * b1 [f], and for the MLP W2 [f][d], b2 [d]; f = d for linear, 4d for MLP), then the gradient G in the
 * same layout; then, with share_qk, the window of the last K-1 shared projections (oldest first).
 */
public final class TttLayer {
    public final int hidden, heads, d, f, convK, miniBatch;
    public final boolean shareQk, gate, mlp;
    final float[] wq, wk, wv, wo, wg, convQW, convQB, convKW, convKB, tokenIdx, lrW, lrB, lnW, lnB, w1, b1, w2, b2, postW,
            postB;
    final float baseLr, eps;
    final double ropeTheta;
    private final float[] s, q, k, v, z, zr, dz, eta, o, xhat, ghat, z1, x2, g1;

    /** {@code w2}, {@code b2} null: TTT-Linear; else TTT-MLP. */
    public TttLayer(int hidden, int heads, int convK, boolean shareQk, boolean gate, float baseLr, float eps, double ropeTheta,
                    float[] wq, float[] wk, float[] wv, float[] wo, float[] wg, float[] convQW, float[] convQB,
                    float[] convKW, float[] convKB, float[] tokenIdx, float[] lrW, float[] lrB, float[] lnW, float[] lnB,
                    float[] w1, float[] b1, float[] w2, float[] b2, float[] postW, float[] postB) {
        this.hidden = hidden;
        this.heads = heads;
        this.d = hidden / heads;
        this.mlp = w2 != null;
        this.miniBatch = tokenIdx.length; // one learnable token offset per position in a mini-batch
        this.f = mlp ? 4 * d : d;
        this.w2 = w2;
        this.b2 = b2;
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
        z1 = new float[f];
        x2 = new float[f];
        g1 = new float[f];
    }

    /** The same weights with scratch buffers of its own. */
    public TttLayer copy() {
        return new TttLayer(hidden, heads, convK, shareQk, gate, baseLr, eps, ropeTheta, wq, wk, wv, wo, wg, convQW, convQB,
                convKW, convKB, tokenIdx, lrW, lrB, lnW, lnB, w1, b1, w2, b2, postW, postB);
    }

    /** Floats of one head's parameters (and again of its gradient). */
    int params() {
        return d * f + f + (mlp ? f * d + d : 0);
    }

    private int perHead() {
        return 2 * params();
    }

    public int stateSize() {
        return heads * perHead() + (shareQk ? hidden * (convK - 1) : 0);
    }

    /** A fresh sequence: the inner models start from the trained W1, b1; no gradient; empty windows. */
    public void initState(float[] st, int so) {
        java.util.Arrays.fill(st, so, so + stateSize(), 0f);
        for (int h = 0; h < heads; h++) {
            int base = so + h * perHead();
            System.arraycopy(w1, h * d * f, st, base, d * f);
            System.arraycopy(b1, h * f, st, base + d * f, f);
            if (mlp) {
                System.arraycopy(w2, h * f * d, st, base + d * f + f, f * d);
                System.arraycopy(b2, h * d, st, base + d * f + f + f * d, d);
            }
        }
    }

    /** y[yo ..] = layer(x[xo ..]) for the token at absolute position {@code t}; the state advances. */
    public void step(float[] x, int xo, int t, float[] st, int so, float[] y, int yo) {
        int p = t % miniBatch;
        if (shareQk) {
            for (int c = 0; c < hidden; c++) s[c] = Dot.dot(wq, c * hidden, x, xo, hidden);
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
                q[c] = Dot.dot(wq, c * hidden, x, xo, hidden);
                k[c] = Dot.dot(wk, c * hidden, x, xo, hidden);
            }
        }
        for (int c = 0; c < hidden; c++) v[c] = Dot.dot(wv, c * hidden, x, xo, hidden);
        for (int h = 0; h < heads; h++) {
            rope(q, h * d, p);
            rope(k, h * d, p);
            float a = Dot.dot(lrW, h * hidden, x, xo, hidden) + lrB[h];
            eta[h] = baseLr * (float) (1.0 / (1.0 + StrictMath.exp(-a))) / d;
        }
        float tau = Math.max(0f, 1f / (p + 1) + tokenIdx[p]);
        int np = params(), w1o = 0, b1o = d * f, w2o = b1o + f, b2o = w2o + f * d;
        for (int h = 0; h < heads; h++) {
            int P = so + h * perHead(), G = P + np, ho = h * d;
            // this token's gradient at the mini-batch's starting parameters P0
            forward(st, P, 0f, st, G, k, ho); // leaves Z (=f(k)) in zr and, for the MLP, Z1 / X2
            lnGrad(zr, h, k, v, ho, dz);
            float e = eta[h];
            if (!mlp) {
                accumulateOuter(st, G + w1o, k, ho, d, dz, d, e);
                for (int j = 0; j < d; j++) st[G + b1o + j] = Math.fma(e, dz[j], st[G + b1o + j]);
            } else {
                // g1 = (dz W2^T) * gelu'(Z1)
                for (int i = 0; i < f; i++) {
                    float acc = 0f;
                    for (int j = 0; j < d; j++) acc = Math.fma(dz[j], st[P + w2o + i * d + j], acc);
                    g1[i] = acc * geluTanhGrad(z1[i]);
                }
                accumulateOuter(st, G + w1o, k, ho, d, g1, f, e);
                for (int i = 0; i < f; i++) st[G + b1o + i] = Math.fma(e, g1[i], st[G + b1o + i]);
                accumulateOuter(st, G + w2o, x2, 0, f, dz, d, e);
                for (int j = 0; j < d; j++) st[G + b2o + j] = Math.fma(e, dz[j], st[G + b2o + j]);
            }
            // answer with P0 - tau G
            forward(st, P, tau, st, G, q, ho);
            layerNorm(zr, 0, d, lnW, lnB, h * d, z, ho);
            for (int j = 0; j < d; j++) z[ho + j] += q[ho + j];
            if (p == miniBatch - 1) { // the mini-batch is complete: its last parameters start the next one
                for (int i = 0; i < np; i++) {
                    st[P + i] -= tau * st[G + i];
                    st[G + i] = 0f;
                }
            }
        }
        layerNorm(z, 0, hidden, postW, postB, 0, o, 0);
        if (gate)
            for (int c = 0; c < hidden; c++) o[c] *= geluTanh(Dot.dot(wg, c * hidden, x, xo, hidden));
        for (int c = 0; c < hidden; c++) y[yo + c] = Dot.dot(wo, c * hidden, o, 0, hidden);
    }

    /**
     * zr = f(u; P - tau G) for the head's input u = in[io .. io+d); for the MLP also z1 (pre-activation)
     * and x2 (hidden activation).
     */
    private void forward(float[] st, int P, float tau, float[] gs, int G, float[] in, int io) {
        int b1o = d * f;
        float[] first = mlp ? z1 : zr;
        for (int j = 0; j < f; j++) {
            float acc = st[P + b1o + j] - tau * gs[G + b1o + j];
            for (int i = 0; i < d; i++) acc = Math.fma(in[io + i], st[P + i * f + j] - tau * gs[G + i * f + j], acc);
            first[j] = acc;
        }
        if (!mlp) return;
        int w2o = b1o + f, b2o = w2o + f * d;
        for (int i = 0; i < f; i++) x2[i] = geluTanh(z1[i]);
        for (int j = 0; j < d; j++) {
            float acc = st[P + b2o + j] - tau * gs[G + b2o + j];
            for (int i = 0; i < f; i++) acc = Math.fma(x2[i], st[P + w2o + i * d + j] - tau * gs[G + w2o + i * d + j], acc);
            zr[j] = acc;
        }
    }

    /** G[i][j] += e * a[ao + i] * b[j] for a [n] and b [m]. */
    private static void accumulateOuter(float[] g, int go, float[] a, int ao, int n, float[] b, int m, float e) {
        for (int i = 0; i < n; i++) {
            float ea = e * a[ao + i];
            for (int j = 0; j < m; j++) g[go + i * m + j] = Math.fma(ea, b[j], g[go + i * m + j]);
        }
    }

    static float geluTanhGrad(float x) {
        double xd = x, c = 0.7978845608028654, u = c * (xd + 0.044715 * xd * xd * xd), th = StrictMath.tanh(u);
        return (float) (0.5 * (1 + th) + 0.5 * xd * (1 - th * th) * c * (1 + 3 * 0.044715 * xd * xd));
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
