package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;

import static dev.lockstep.kernels.Canonical.F512;

/**
 * The register-tiled micro-kernel of the batched matrix product: 2 weight rows x 2 tokens, each of the
 * four outputs a canonical 64-lane dot product held in four registers. Weights come dequantized
 * (exactly the reference floats) from a scratch tile, so every output has the same bits as the
 * single-row kernels of {@link Dot}: same values, same lanes, same order, same tree.
 *
 * <p>Measured here (one core, operands in L1/L2): 2x2 ~60 GFLOP/s, 2x3 ~45 (24 accumulators spill),
 * against ~108 for a pure FMA loop.
 */
final class Gemm {
    private Gemm() {}

    /**
     * Two weight rows {@code w[w0..w0+k)}, {@code w[w1..)} against two tokens {@code x[x0..)},
     * {@code x[x1..)}: four outputs, four registers each (16 accumulators: more spill on x86-64's 32
     * vector registers, measured). Results: {@code y[y00]} (row 0, token 0), {@code y[y00 + yTok]},
     * {@code y[y00 + yRow]}, {@code y[y00 + yRow + yTok]}. {@code k} is a multiple of 64.
     */
    static void kernel2x2(float[] w, int w0, int w1, float[] x, int x0, int x1, int k,
                          float[] y, int y00, int yRow, int yTok, float[] lanes) {
        FloatVector z = FloatVector.zero(F512);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z, d0 = z, d1 = z, d2 = z, d3 = z;
        for (int i = 0; i < k; i += 64) {
            FloatVector p = FloatVector.fromArray(F512, w, w0 + i), q = FloatVector.fromArray(F512, w, w1 + i);
            FloatVector u = FloatVector.fromArray(F512, x, x0 + i), v = FloatVector.fromArray(F512, x, x1 + i);
            a0 = p.fma(u, a0);
            b0 = p.fma(v, b0);
            c0 = q.fma(u, c0);
            d0 = q.fma(v, d0);
            p = FloatVector.fromArray(F512, w, w0 + i + 16);
            q = FloatVector.fromArray(F512, w, w1 + i + 16);
            u = FloatVector.fromArray(F512, x, x0 + i + 16);
            v = FloatVector.fromArray(F512, x, x1 + i + 16);
            a1 = p.fma(u, a1);
            b1 = p.fma(v, b1);
            c1 = q.fma(u, c1);
            d1 = q.fma(v, d1);
            p = FloatVector.fromArray(F512, w, w0 + i + 32);
            q = FloatVector.fromArray(F512, w, w1 + i + 32);
            u = FloatVector.fromArray(F512, x, x0 + i + 32);
            v = FloatVector.fromArray(F512, x, x1 + i + 32);
            a2 = p.fma(u, a2);
            b2 = p.fma(v, b2);
            c2 = q.fma(u, c2);
            d2 = q.fma(v, d2);
            p = FloatVector.fromArray(F512, w, w0 + i + 48);
            q = FloatVector.fromArray(F512, w, w1 + i + 48);
            u = FloatVector.fromArray(F512, x, x0 + i + 48);
            v = FloatVector.fromArray(F512, x, x1 + i + 48);
            a3 = p.fma(u, a3);
            b3 = p.fma(v, b3);
            c3 = q.fma(u, c3);
            d3 = q.fma(v, d3);
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, 16); a2.intoArray(lanes, 32); a3.intoArray(lanes, 48);
        b0.intoArray(lanes, 64); b1.intoArray(lanes, 80); b2.intoArray(lanes, 96); b3.intoArray(lanes, 112);
        c0.intoArray(lanes, 128); c1.intoArray(lanes, 144); c2.intoArray(lanes, 160); c3.intoArray(lanes, 176);
        d0.intoArray(lanes, 192); d1.intoArray(lanes, 208); d2.intoArray(lanes, 224); d3.intoArray(lanes, 240);
        y[y00] = Canonical.treeOf(lanes, 0);
        y[y00 + yTok] = Canonical.treeOf(lanes, 64);
        y[y00 + yRow] = Canonical.treeOf(lanes, 128);
        y[y00 + yRow + yTok] = Canonical.treeOf(lanes, 192);
    }

    /**
     * {@link #kernel2x2} over {@code [k0, k1)} only, continuing the four outputs' accumulators stored at
     * {@code acc[ao .. ao+256)} (output j's 64 lanes at {@code ao + 64j}: row 0 token 0, row 0 token 1,
     * row 1 token 0, row 1 token 1). Pausing and resuming a lane's chain does not change its order, so
     * blocking over K gives the same bits (this is not split-K: no partial sums are ever added together).
     */
    static void kernel2x2acc(float[] w, int w0, int w1, float[] x, int x0, int x1, int k0, int k1, float[] acc, int ao) {
        FloatVector a0 = FloatVector.fromArray(F512, acc, ao), a1 = FloatVector.fromArray(F512, acc, ao + 16);
        FloatVector a2 = FloatVector.fromArray(F512, acc, ao + 32), a3 = FloatVector.fromArray(F512, acc, ao + 48);
        FloatVector b0 = FloatVector.fromArray(F512, acc, ao + 64), b1 = FloatVector.fromArray(F512, acc, ao + 80);
        FloatVector b2 = FloatVector.fromArray(F512, acc, ao + 96), b3 = FloatVector.fromArray(F512, acc, ao + 112);
        FloatVector c0 = FloatVector.fromArray(F512, acc, ao + 128), c1 = FloatVector.fromArray(F512, acc, ao + 144);
        FloatVector c2 = FloatVector.fromArray(F512, acc, ao + 160), c3 = FloatVector.fromArray(F512, acc, ao + 176);
        FloatVector d0 = FloatVector.fromArray(F512, acc, ao + 192), d1 = FloatVector.fromArray(F512, acc, ao + 208);
        FloatVector d2 = FloatVector.fromArray(F512, acc, ao + 224), d3 = FloatVector.fromArray(F512, acc, ao + 240);
        for (int i = k0; i < k1; i += 64) {
            FloatVector p = FloatVector.fromArray(F512, w, w0 + i), q = FloatVector.fromArray(F512, w, w1 + i);
            FloatVector u = FloatVector.fromArray(F512, x, x0 + i), v = FloatVector.fromArray(F512, x, x1 + i);
            a0 = p.fma(u, a0);
            b0 = p.fma(v, b0);
            c0 = q.fma(u, c0);
            d0 = q.fma(v, d0);
            p = FloatVector.fromArray(F512, w, w0 + i + 16);
            q = FloatVector.fromArray(F512, w, w1 + i + 16);
            u = FloatVector.fromArray(F512, x, x0 + i + 16);
            v = FloatVector.fromArray(F512, x, x1 + i + 16);
            a1 = p.fma(u, a1);
            b1 = p.fma(v, b1);
            c1 = q.fma(u, c1);
            d1 = q.fma(v, d1);
            p = FloatVector.fromArray(F512, w, w0 + i + 32);
            q = FloatVector.fromArray(F512, w, w1 + i + 32);
            u = FloatVector.fromArray(F512, x, x0 + i + 32);
            v = FloatVector.fromArray(F512, x, x1 + i + 32);
            a2 = p.fma(u, a2);
            b2 = p.fma(v, b2);
            c2 = q.fma(u, c2);
            d2 = q.fma(v, d2);
            p = FloatVector.fromArray(F512, w, w0 + i + 48);
            q = FloatVector.fromArray(F512, w, w1 + i + 48);
            u = FloatVector.fromArray(F512, x, x0 + i + 48);
            v = FloatVector.fromArray(F512, x, x1 + i + 48);
            a3 = p.fma(u, a3);
            b3 = p.fma(v, b3);
            c3 = q.fma(u, c3);
            d3 = q.fma(v, d3);
        }
        a0.intoArray(acc, ao); a1.intoArray(acc, ao + 16); a2.intoArray(acc, ao + 32); a3.intoArray(acc, ao + 48);
        b0.intoArray(acc, ao + 64); b1.intoArray(acc, ao + 80); b2.intoArray(acc, ao + 96); b3.intoArray(acc, ao + 112);
        c0.intoArray(acc, ao + 128); c1.intoArray(acc, ao + 144); c2.intoArray(acc, ao + 160); c3.intoArray(acc, ao + 176);
        d0.intoArray(acc, ao + 192); d1.intoArray(acc, ao + 208); d2.intoArray(acc, ao + 224); d3.intoArray(acc, ao + 240);
    }
}
