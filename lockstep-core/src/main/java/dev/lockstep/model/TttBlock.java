package dev.lockstep.model;

import dev.lockstep.kernels.Dot;
import dev.lockstep.kernels.Exp;
import dev.lockstep.kernels.Ops;

/**
 * One block of the TTT language model ({@code ttt.py}'s {@code Block}):
 * <pre>
 * [pre_conv:] h += conv(rmsnorm_conv(h))      (depthwise causal conv with bias, window in the state)
 * h += TTT(rmsnorm_seq(h))                    ({@link TttLayer})
 * h += W_down (silu(W_gate g) * W_up g), g = rmsnorm_ffn(h)
 * </pre>
 * State: the TTT layer's, then (pre_conv) the window of the last K-1 normalized inputs.
 */
final class TttBlock implements RecurrentMixer {
    final TttLayer ttt;
    final int hidden, ff, convK;
    final float eps;
    final float[] seqNorm, ffnNorm, convNorm, convW, convB, gateW, upW, downW;
    private final float[] a, b, g, u;

    TttBlock(TttLayer ttt, int ff, float eps, float[] seqNorm, float[] ffnNorm, float[] convNorm, float[] convW, float[] convB,
             float[] gateW, float[] upW, float[] downW) {
        this.ttt = ttt;
        this.hidden = ttt.hidden;
        this.ff = ff;
        this.convK = ttt.convK;
        this.eps = eps;
        this.seqNorm = seqNorm;
        this.ffnNorm = ffnNorm;
        this.convNorm = convNorm;
        this.convW = convW;
        this.convB = convB;
        this.gateW = gateW;
        this.upW = upW;
        this.downW = downW;
        a = new float[hidden];
        b = new float[hidden];
        g = new float[ff];
        u = new float[ff];
    }

    @Override
    public int stateSize() {
        return ttt.stateSize() + (convW != null ? hidden * (convK - 1) : 0);
    }

    @Override
    public void initState(float[] st, int so) {
        java.util.Arrays.fill(st, so, so + stateSize(), 0f);
        ttt.initState(st, so);
    }

    @Override
    public void step(float[] x, int xo, int pos, float[] st, int so) {
        if (convW != null) {
            Ops.rmsNorm(a, 0, x, xo, convNorm, hidden, eps);
            int win = so + ttt.stateSize(), w = convK - 1;
            for (int c = 0; c < hidden; c++) {
                float acc = convB[c];
                for (int i = 0; i < w; i++) acc = Math.fma(convW[c * convK + i], st[win + c * w + i], acc);
                acc = Math.fma(convW[c * convK + w], a[c], acc);
                for (int i = 0; i + 1 < w; i++) st[win + c * w + i] = st[win + c * w + i + 1];
                if (w > 0) st[win + c * w + w - 1] = a[c];
                x[xo + c] += acc;
            }
        }
        Ops.rmsNorm(a, 0, x, xo, seqNorm, hidden, eps);
        ttt.step(a, 0, pos, st, so, b, 0);
        Ops.addInPlace(x, xo, b, 0, hidden);
        Ops.rmsNorm(a, 0, x, xo, ffnNorm, hidden, eps);
        for (int i = 0; i < ff; i++) {
            g[i] = Dot.dot(gateW, i * hidden, a, 0, hidden);
            u[i] = Dot.dot(upW, i * hidden, a, 0, hidden);
        }
        for (int i = 0; i < ff; i++) g[i] = Exp.silu(g[i]) * u[i];
        for (int c = 0; c < hidden; c++) x[xo + c] += Dot.dot(downW, c * ff, g, 0, ff);
    }

    @Override
    public TttBlock copy() {
        return new TttBlock(ttt.copy(), ff, eps, seqNorm, ffnNorm, convNorm, convW, convB, gateW, upW, downW);
    }
}
