package dev.lockstep.model;

import dev.lockstep.kernels.Dot;
import dev.lockstep.kernels.WorkerPool;

/**
 * A recurrent block's dense projection for all the tokens of a step: each output is the canonical
 * {@link Dot#dot} of a weight row and a token's input, exactly as token by token, but every weight row
 * is read once for all the tokens (a prompt chunk reads the weights once, not once per token), and the
 * pool's workers split the output rows (independent outputs: the bits do not depend on the workers).
 */
final class Projections {
    private Projections() {}

    /**
     * {@code out[t*rows + r] = W[r] . in[t*cols ..]} for {@code t < n} ({@code +=} when {@code accumulate});
     * {@code w} is row-major [rows][cols].
     */
    static void apply(WorkerPool pool, float[] w, int rows, int cols, float[] in, int n, float[] out, boolean accumulate) {
        pool.execute((worker, workers) -> {
            float[] four = new float[4];
            for (int r = WorkerPool.rangeStart(rows, worker, workers), end = WorkerPool.rangeStart(rows, worker + 1, workers); r < end; r++) {
                int wo = r * cols, t = 0;
                for (; t + 4 <= n; t += 4) { // four tokens per pass over the row: four fma chains
                    Dot.dot4(w, wo, in, t * cols, (t + 1) * cols, (t + 2) * cols, (t + 3) * cols, cols, four, 0);
                    for (int j = 0; j < 4; j++) put(out, (t + j) * rows + r, four[j], accumulate);
                }
                for (; t < n; t++) put(out, t * rows + r, Dot.dot(w, wo, in, t * cols, cols), accumulate);
            }
        });
    }

    private static void put(float[] out, int i, float v, boolean accumulate) {
        if (accumulate) out[i] += v;
        else out[i] = v;
    }
}
