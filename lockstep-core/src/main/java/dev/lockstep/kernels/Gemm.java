package dev.lockstep.kernels;

import jdk.incubator.vector.FloatVector;

import static dev.lockstep.kernels.Canonical.F256;
import static dev.lockstep.kernels.Canonical.F512;

/**
 * The register-tiled micro-kernel of the batched matrix product: 4 weight rows x 4 tokens, each of the
 * sixteen outputs a canonical 16-lane dot product in one register. Per 16 values of K it loads 4
 * weight and 4 activation vectors for 16 FMAs. Weights come dequantized (exactly the reference floats)
 * from a scratch tile, so every output has the bits of the single-row kernels of {@link Dot}: same
 * values, same lanes, same order, same tree.
 *
 * <p>With 256-bit vectors (AVX2: sixteen registers) an output's 16 lanes need two registers, and a
 * 4 x 4 tile would need 32 accumulators. {@link #kernel3x3x256} therefore makes two passes over K:
 * lanes 0-7 of every output (values k with k % 16 &lt; 8), then lanes 8-15. The lanes are independent
 * sums, so the split changes no operation: 9 accumulators, 3 weight and 3 activation loads for 9 FMAs.
 * Its operands are stored with the two halves apart ({@link #splitHalves}).
 */
final class Gemm {
    private Gemm() {}

    /**
     * Outputs (row r, token t) = dot(w[wr..wr+k), x[xt..xt+k)) for the four row offsets and the four
     * token offsets, written to {@code y[yBase + r*yRow + t*yTok]} for r &lt; nRows, t &lt; nToks
     * (offsets beyond those may repeat a valid one; their results are dropped). {@code k} is a multiple
     * of 16. {@code lanes} (256 floats) receives the accumulators for the canonical tree.
     */
    static void kernel4x4(float[] w, int w0, int w1, int w2, int w3, float[] x, int x0, int x1, int x2, int x3, int k,
                          float[] y, int yBase, int yRow, int yTok, int nRows, int nToks, float[] lanes) {
        FloatVector z = FloatVector.zero(F512);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        for (int i = 0; i < k; i += 16) {
            FloatVector p0 = FloatVector.fromArray(F512, w, w0 + i), p1 = FloatVector.fromArray(F512, w, w1 + i);
            FloatVector p2 = FloatVector.fromArray(F512, w, w2 + i), p3 = FloatVector.fromArray(F512, w, w3 + i);
            FloatVector u = FloatVector.fromArray(F512, x, x0 + i);
            c00 = p0.fma(u, c00);
            c10 = p1.fma(u, c10);
            c20 = p2.fma(u, c20);
            c30 = p3.fma(u, c30);
            u = FloatVector.fromArray(F512, x, x1 + i);
            c01 = p0.fma(u, c01);
            c11 = p1.fma(u, c11);
            c21 = p2.fma(u, c21);
            c31 = p3.fma(u, c31);
            u = FloatVector.fromArray(F512, x, x2 + i);
            c02 = p0.fma(u, c02);
            c12 = p1.fma(u, c12);
            c22 = p2.fma(u, c22);
            c32 = p3.fma(u, c32);
            u = FloatVector.fromArray(F512, x, x3 + i);
            c03 = p0.fma(u, c03);
            c13 = p1.fma(u, c13);
            c23 = p2.fma(u, c23);
            c33 = p3.fma(u, c33);
        }
        // lanes[(r * 4 + t) * 16 ..]
        c00.intoArray(lanes, 0); c01.intoArray(lanes, 16); c02.intoArray(lanes, 32); c03.intoArray(lanes, 48);
        c10.intoArray(lanes, 64); c11.intoArray(lanes, 80); c12.intoArray(lanes, 96); c13.intoArray(lanes, 112);
        c20.intoArray(lanes, 128); c21.intoArray(lanes, 144); c22.intoArray(lanes, 160); c23.intoArray(lanes, 176);
        c30.intoArray(lanes, 192); c31.intoArray(lanes, 208); c32.intoArray(lanes, 224); c33.intoArray(lanes, 240);
        for (int r = 0; r < nRows; r++)
            for (int t = 0; t < nToks; t++) y[yBase + r * yRow + t * yTok] = Canonical.treeOf(lanes, (r * 4 + t) * 16);
    }

    /**
     * The 256-bit tile: outputs (row r &lt; 3, token t &lt; 3) as {@link #kernel4x4}, from operands in the
     * {@linkplain #splitHalves split layout}: one pass over the lanes-0-7 half of every operand, one over
     * the lanes-8-15 half, each streaming contiguous memory. {@code lanes} receives output (r, t)'s 16
     * lanes at {@code (r * 3 + t) * 16}. Why 3 x 3: nine accumulators, three activations and a weight
     * fit the sixteen registers with room to spare, and nine independent FMA chains cover the FMA
     * latency; a 4 x 3 tile (12 + 3 + 1 registers) made C2 spill two accumulators to the stack inside
     * the loop (seen in the compiled code; 31 GFLOP/s on one thread, 4 x 2: 45).
     */
    static void kernel3x3x256(float[] w, int w0, int w1, int w2, float[] x, int x0, int x1, int x2, int k,
                              float[] y, int yBase, int yRow, int yTok, int nRows, int nToks, float[] lanes) {
        int half = k / 2;
        for (int h = 0; h < 2; h++) {
            FloatVector z = FloatVector.zero(F256);
            FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z;
            for (int i = h * half, end = i + half; i < end; i += 8) {
                FloatVector u0 = FloatVector.fromArray(F256, x, x0 + i), u1 = FloatVector.fromArray(F256, x, x1 + i);
                FloatVector u2 = FloatVector.fromArray(F256, x, x2 + i);
                FloatVector p = FloatVector.fromArray(F256, w, w0 + i);
                c00 = p.fma(u0, c00);
                c01 = p.fma(u1, c01);
                c02 = p.fma(u2, c02);
                p = FloatVector.fromArray(F256, w, w1 + i);
                c10 = p.fma(u0, c10);
                c11 = p.fma(u1, c11);
                c12 = p.fma(u2, c12);
                p = FloatVector.fromArray(F256, w, w2 + i);
                c20 = p.fma(u0, c20);
                c21 = p.fma(u1, c21);
                c22 = p.fma(u2, c22);
            }
            int o = 8 * h;
            c00.intoArray(lanes, o); c01.intoArray(lanes, 16 + o); c02.intoArray(lanes, 32 + o);
            c10.intoArray(lanes, 48 + o); c11.intoArray(lanes, 64 + o); c12.intoArray(lanes, 80 + o);
            c20.intoArray(lanes, 96 + o); c21.intoArray(lanes, 112 + o); c22.intoArray(lanes, 128 + o);
        }
        for (int r = 0; r < nRows; r++)
            for (int t = 0; t < nToks; t++) y[yBase + r * yRow + t * yTok] = Canonical.treeOf(lanes, (r * 3 + t) * 16);
    }

    /**
     * Copies {@code src[so..so+n)} ({@code n} a multiple of 16) into {@code dst[d0..d0+n)} in the split
     * layout of {@link #kernel3x3x256}: the values k with {@code k % 16 < 8} first, in order, then the
     * others. So each 256-bit pass reads every cache line of its half once; interleaved, both passes
     * would read every line.
     */
    static void splitHalves(float[] src, int so, float[] dst, int d0, int n) {
        int half = n / 2;
        for (int c = 0, j = 0; c < n; c += 16, j += 8) {
            FloatVector.fromArray(F256, src, so + c).intoArray(dst, d0 + j);
            FloatVector.fromArray(F256, src, so + c + 8).intoArray(dst, d0 + half + j);
        }
    }
}
