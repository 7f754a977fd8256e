package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * One channel's step of the state-space scans (Mamba's selective scan, Mamba-2's SSD): the state row
 * advances element by element ({@code s[n] = decay[n] * s[n] + dx * B[n]}, one fma each, the same bits
 * at any vector width), then its read-out {@code y = s . C} is the canonical dot ({@link Dot#dot}: the
 * order of the sum depends on the state size only). Scalar twins run where no vector path does.
 */
public final class Scan {
    private Scan() {}

    private static final VectorSpecies<Float> FV = Canonical.FV;

    /**
     * Mamba-2: {@code st[s0+i] = fma(decay, st[s0+i], dx * b[bo+i])} for {@code i < n}; returns
     * {@code st[s0..) . c[co..)}.
     */
    public static float ssd(float[] st, int s0, float decay, float dx, float[] b, int bo, float[] c, int co, int n) {
        int i = 0;
        if (Canonical.SIMD) {
            FloatVector dv = FloatVector.broadcast(FV, decay);
            for (; i + FV.length() <= n; i += FV.length()) {
                FloatVector s = dv.fma(FloatVector.fromArray(FV, st, s0 + i), FloatVector.fromArray(FV, b, bo + i).mul(dx));
                s.intoArray(st, s0 + i);
            }
        }
        for (; i < n; i++) st[s0 + i] = Math.fma(decay, st[s0 + i], dx * b[bo + i]);
        return Dot.dot(st, s0, c, co, n);
    }

    /**
     * Four consecutive rows of one Mamba-2 head ({@code st[s0 + j*n ..]}, {@code dx[xo + j]}, the
     * same decay, B and C): each row and its read-out exactly as {@link #ssd}, the read-out summed as
     * the state is written (in {@link Dot#dot}'s lanes and order) and the four rows' chains side by side.
     */
    public static void ssd4(float[] st, int s0, float decay, float[] dx, int xo, float[] b, int bo, float[] c, int co, int n,
                            float[] out, int o) {
        if (Canonical.SIMD512 && n % 16 == 0) ssd4x512(st, s0, decay, dx, xo, b, bo, c, co, n, out, o);
        else for (int j = 0; j < 4; j++) out[o + j] = ssd(st, s0 + j * n, decay, dx[xo + j], b, bo, c, co, n);
    }

    private static void ssd4x512(float[] st, int s0, float decay, float[] dx, int xo, float[] b, int bo, float[] c, int co, int n,
                                 float[] out, int o) {
        VectorSpecies<Float> sp = Canonical.F512;
        FloatVector dv = FloatVector.broadcast(sp, decay);
        float x0 = dx[xo], x1 = dx[xo + 1], x2 = dx[xo + 2], x3 = dx[xo + 3];
        int r0 = s0, r1 = s0 + n, r2 = s0 + 2 * n, r3 = s0 + 3 * n;
        FloatVector a0 = FloatVector.zero(sp), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < n; k += 16) { // n is a multiple of 16 here
            FloatVector bv = FloatVector.fromArray(sp, b, bo + k), cv = FloatVector.fromArray(sp, c, co + k);
            FloatVector v0 = dv.fma(FloatVector.fromArray(sp, st, r0 + k), bv.mul(x0));
            FloatVector v1 = dv.fma(FloatVector.fromArray(sp, st, r1 + k), bv.mul(x1));
            FloatVector v2 = dv.fma(FloatVector.fromArray(sp, st, r2 + k), bv.mul(x2));
            FloatVector v3 = dv.fma(FloatVector.fromArray(sp, st, r3 + k), bv.mul(x3));
            v0.intoArray(st, r0 + k);
            v1.intoArray(st, r1 + k);
            v2.intoArray(st, r2 + k);
            v3.intoArray(st, r3 + k);
            a0 = v0.fma(cv, a0);
            a1 = v1.fma(cv, a1);
            a2 = v2.fma(cv, a2);
            a3 = v3.fma(cv, a3);
        }
        out[o] = Canonical.tree(a0);
        out[o + 1] = Canonical.tree(a1);
        out[o + 2] = Canonical.tree(a2);
        out[o + 3] = Canonical.tree(a3);
    }

    /**
     * Mamba-1: {@code st[s0+i] = fma(exp(dt * a[ao+i]), st[s0+i], dtu * b[bo+i])} for {@code i < n}
     * ({@link Exp#exp}, the same bits lane by lane); returns {@code st[s0..) . c[co..)}.
     */
    public static float selective(float[] st, int s0, float dt, float[] a, int ao, float dtu, float[] b, int bo, float[] c, int co, int n) {
        int i = 0;
        if (Canonical.SIMD) {
            for (; i + FV.length() <= n; i += FV.length()) {
                FloatVector decay = Exp.exp(FloatVector.fromArray(FV, a, ao + i).mul(dt));
                FloatVector s = decay.fma(FloatVector.fromArray(FV, st, s0 + i), FloatVector.fromArray(FV, b, bo + i).mul(dtu));
                s.intoArray(st, s0 + i);
            }
        }
        for (; i < n; i++) st[s0 + i] = Math.fma(Exp.exp(dt * a[ao + i]), st[s0 + i], dtu * b[bo + i]);
        return Dot.dot(st, s0, c, co, n);
    }
}
