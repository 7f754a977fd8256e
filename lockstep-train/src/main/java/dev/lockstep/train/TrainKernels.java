package dev.lockstep.train;

import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.WorkerPool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The two products of a linear layer's backward pass, deterministic and thread-count independent:
 * every output element is one fma chain in a fixed order (over the rows of W for the input gradient,
 * over the tokens for the weight gradient); workers split independent outputs only. Chains are blocked
 * (paused and resumed in memory) so that tiles stay in cache; that changes no operation.
 *
 * <p>Layouts: W is [rows][cols] (out x in), activations X are [N][cols], output gradients dY [N][rows].
 */
final class TrainKernels {
    private TrainKernels() {}

    /**
     * The machine's native width (512 or 256 bits). Every lane is its own output's chain, so the width
     * changes no operation; a block is two vectors of columns (32 or 16).
     */
    private static final VectorSpecies<Float> F = Canonical.SIMD512 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final boolean SIMD = Canonical.SIMD;
    private static final int L = F.length(), BLOCK = 2 * L;
    private static final int ROW_BLOCK = 64, TOKEN_BLOCK = 256;

    /**
     * dX[n][k] = (accumulate ? dX[n][k] : 0) + sum over r ascending of W[r][k] * dY[n][r], for n in [0, N).
     * Parallel over tokens.
     */
    static void inputGrad(WorkerPool pool, float[] w, int wOff, int rows, int cols, float[] dy, int n, float[] dx,
                          boolean accumulate) {
        pool.execute((worker, workers) -> {
            int t0 = WorkerPool.rangeStart(n, worker, workers), t1 = WorkerPool.rangeStart(n, worker + 1, workers);
            if (!accumulate) java.util.Arrays.fill(dx, t0 * cols, t1 * cols, 0f);
            for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
                int r1 = Math.min(rows, r0 + ROW_BLOCK);
                int t = t0;
                if (SIMD && cols % BLOCK == 0) {
                    // four tokens x two vectors of columns: 8 independent chains sharing the loads of W
                    for (; t + 4 <= t1; t += 4) {
                        for (int k = 0; k < cols; k += BLOCK) {
                            int o0 = t * cols + k, o1 = o0 + cols, o2 = o1 + cols, o3 = o2 + cols;
                            FloatVector a0 = FloatVector.fromArray(F, dx, o0), b0 = FloatVector.fromArray(F, dx, o0 + L);
                            FloatVector a1 = FloatVector.fromArray(F, dx, o1), b1 = FloatVector.fromArray(F, dx, o1 + L);
                            FloatVector a2 = FloatVector.fromArray(F, dx, o2), b2 = FloatVector.fromArray(F, dx, o2 + L);
                            FloatVector a3 = FloatVector.fromArray(F, dx, o3), b3 = FloatVector.fromArray(F, dx, o3 + L);
                            for (int r = r0; r < r1; r++) {
                                int wo = wOff + r * cols + k;
                                FloatVector p = FloatVector.fromArray(F, w, wo), q = FloatVector.fromArray(F, w, wo + L);
                                FloatVector g0 = FloatVector.broadcast(F, dy[t * rows + r]);
                                FloatVector g1 = FloatVector.broadcast(F, dy[(t + 1) * rows + r]);
                                FloatVector g2 = FloatVector.broadcast(F, dy[(t + 2) * rows + r]);
                                FloatVector g3 = FloatVector.broadcast(F, dy[(t + 3) * rows + r]);
                                a0 = p.fma(g0, a0);
                                b0 = q.fma(g0, b0);
                                a1 = p.fma(g1, a1);
                                b1 = q.fma(g1, b1);
                                a2 = p.fma(g2, a2);
                                b2 = q.fma(g2, b2);
                                a3 = p.fma(g3, a3);
                                b3 = q.fma(g3, b3);
                            }
                            a0.intoArray(dx, o0);
                            b0.intoArray(dx, o0 + L);
                            a1.intoArray(dx, o1);
                            b1.intoArray(dx, o1 + L);
                            a2.intoArray(dx, o2);
                            b2.intoArray(dx, o2 + L);
                            a3.intoArray(dx, o3);
                            b3.intoArray(dx, o3 + L);
                        }
                    }
                }
                for (; t < t1; t++) {
                    for (int k = 0; k < cols; k++) {
                        float acc = dx[t * cols + k];
                        for (int r = r0; r < r1; r++) acc = Math.fma(w[wOff + r * cols + k], dy[t * rows + r], acc);
                        dx[t * cols + k] = acc;
                    }
                }
            }
        });
    }

    /** dW[r][k] += sum over n ascending of dY[n][r] * X[n][k]. Parallel over rows. */
    static void weightGrad(WorkerPool pool, float[] dy, int rows, float[] x, int cols, int n, float[] dw, int dwOff) {
        pool.execute((worker, workers) -> {
            int r0 = WorkerPool.rangeStart(rows, worker, workers), r1 = WorkerPool.rangeStart(rows, worker + 1, workers);
            for (int n0 = 0; n0 < n; n0 += TOKEN_BLOCK) {
                int n1 = Math.min(n, n0 + TOKEN_BLOCK);
                int r = r0;
                if (SIMD && cols % BLOCK == 0) {
                    // four rows x two vectors of columns: 8 independent chains sharing the loads of X
                    for (; r + 4 <= r1; r += 4) {
                        for (int k = 0; k < cols; k += BLOCK) {
                            int o0 = dwOff + r * cols + k, o1 = o0 + cols, o2 = o1 + cols, o3 = o2 + cols;
                            FloatVector a0 = FloatVector.fromArray(F, dw, o0), b0 = FloatVector.fromArray(F, dw, o0 + L);
                            FloatVector a1 = FloatVector.fromArray(F, dw, o1), b1 = FloatVector.fromArray(F, dw, o1 + L);
                            FloatVector a2 = FloatVector.fromArray(F, dw, o2), b2 = FloatVector.fromArray(F, dw, o2 + L);
                            FloatVector a3 = FloatVector.fromArray(F, dw, o3), b3 = FloatVector.fromArray(F, dw, o3 + L);
                            for (int t = n0; t < n1; t++) {
                                int xo = t * cols + k;
                                FloatVector p = FloatVector.fromArray(F, x, xo), q = FloatVector.fromArray(F, x, xo + L);
                                FloatVector g0 = FloatVector.broadcast(F, dy[t * rows + r]);
                                FloatVector g1 = FloatVector.broadcast(F, dy[t * rows + r + 1]);
                                FloatVector g2 = FloatVector.broadcast(F, dy[t * rows + r + 2]);
                                FloatVector g3 = FloatVector.broadcast(F, dy[t * rows + r + 3]);
                                a0 = p.fma(g0, a0);
                                b0 = q.fma(g0, b0);
                                a1 = p.fma(g1, a1);
                                b1 = q.fma(g1, b1);
                                a2 = p.fma(g2, a2);
                                b2 = q.fma(g2, b2);
                                a3 = p.fma(g3, a3);
                                b3 = q.fma(g3, b3);
                            }
                            a0.intoArray(dw, o0);
                            b0.intoArray(dw, o0 + L);
                            a1.intoArray(dw, o1);
                            b1.intoArray(dw, o1 + L);
                            a2.intoArray(dw, o2);
                            b2.intoArray(dw, o2 + L);
                            a3.intoArray(dw, o3);
                            b3.intoArray(dw, o3 + L);
                        }
                    }
                }
                for (; r < r1; r++) {
                    for (int k = 0; k < cols; k++) {
                        float acc = dw[dwOff + r * cols + k];
                        for (int t = n0; t < n1; t++) acc = Math.fma(x[t * cols + k], dy[t * rows + r], acc);
                        dw[dwOff + r * cols + k] = acc;
                    }
                }
            }
        });
    }
}
