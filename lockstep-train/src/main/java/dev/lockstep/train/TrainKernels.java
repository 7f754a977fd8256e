package dev.lockstep.train;

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

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final boolean SIMD = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 && !Boolean.getBoolean("lockstep.scalar");
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
                for (int t = t0; t < t1; t++) {
                    int k = 0;
                    if (SIMD) {
                        for (; k + 64 <= cols; k += 64) {
                            int o = t * cols + k;
                            FloatVector a0 = FloatVector.fromArray(F, dx, o), a1 = FloatVector.fromArray(F, dx, o + 16);
                            FloatVector a2 = FloatVector.fromArray(F, dx, o + 32), a3 = FloatVector.fromArray(F, dx, o + 48);
                            for (int r = r0; r < r1; r++) {
                                FloatVector g = FloatVector.broadcast(F, dy[t * rows + r]);
                                int wo = wOff + r * cols + k;
                                a0 = FloatVector.fromArray(F, w, wo).fma(g, a0);
                                a1 = FloatVector.fromArray(F, w, wo + 16).fma(g, a1);
                                a2 = FloatVector.fromArray(F, w, wo + 32).fma(g, a2);
                                a3 = FloatVector.fromArray(F, w, wo + 48).fma(g, a3);
                            }
                            a0.intoArray(dx, o);
                            a1.intoArray(dx, o + 16);
                            a2.intoArray(dx, o + 32);
                            a3.intoArray(dx, o + 48);
                        }
                    }
                    for (; k < cols; k++) {
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
                for (int r = r0; r < r1; r++) {
                    int k = 0;
                    if (SIMD) {
                        for (; k + 64 <= cols; k += 64) {
                            int o = dwOff + r * cols + k;
                            FloatVector a0 = FloatVector.fromArray(F, dw, o), a1 = FloatVector.fromArray(F, dw, o + 16);
                            FloatVector a2 = FloatVector.fromArray(F, dw, o + 32), a3 = FloatVector.fromArray(F, dw, o + 48);
                            for (int t = n0; t < n1; t++) {
                                FloatVector g = FloatVector.broadcast(F, dy[t * rows + r]);
                                int xo = t * cols + k;
                                a0 = FloatVector.fromArray(F, x, xo).fma(g, a0);
                                a1 = FloatVector.fromArray(F, x, xo + 16).fma(g, a1);
                                a2 = FloatVector.fromArray(F, x, xo + 32).fma(g, a2);
                                a3 = FloatVector.fromArray(F, x, xo + 48).fma(g, a3);
                            }
                            a0.intoArray(dw, o);
                            a1.intoArray(dw, o + 16);
                            a2.intoArray(dw, o + 32);
                            a3.intoArray(dw, o + 48);
                        }
                    }
                    for (; k < cols; k++) {
                        float acc = dw[dwOff + r * cols + k];
                        for (int t = n0; t < n1; t++) acc = Math.fma(x[t * cols + k], dy[t * rows + r], acc);
                        dw[dwOff + r * cols + k] = acc;
                    }
                }
            }
        });
    }
}
