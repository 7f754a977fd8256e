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
