package dev.lockstep.kernels;

/**
 * y[t][r] = W[r] . x[t] for every row r of W and token t of a batch: the matrix product of a ragged
 * batch, parallel over output rows only (no split-K). Every output is one canonical dot product, so
 * a token's result is the same whatever else is in the batch and however many threads run.
 *
 * <p>One instance per model runner; it reuses its per-worker scratch and holds the current call's
 * arguments in fields, so a call allocates nothing.
 */
public final class MatMul implements WorkerPool.Task {
    /** Tokens handled together while a slice of weight rows is hot in cache. */
    private static final int TOKEN_TILE = 8;

    /**
     * Test-only negative control: when set, batches of at most 2 tokens use a split-K dot product
     * (two halves summed), which breaks batch invariance on purpose. The invariance tests switch it on to
     * prove that they can fail.
     */
    private static volatile boolean splitKNegativeControl;

    public static void setSplitKNegativeControl(boolean on) {
        splitKNegativeControl = on;
    }

    private final WorkerPool pool;
    private final float[][] scratch;

    private Matrix w;
    private float[] x, y;
    private int xOff, xStride, yOff, yStride, tokens;

    public MatMul(WorkerPool pool) {
        this.pool = pool;
        this.scratch = new float[pool.size()][256];
    }

    /**
     * For t in [0, tokens): {@code y[yOff + t*yStride + r] = W[r] . x[xOff + t*xStride ..]}.
     */
    public void apply(Matrix w, float[] x, int xOff, int xStride, int tokens, float[] y, int yOff, int yStride) {
        this.w = w;
        this.x = x;
        this.xOff = xOff;
        this.xStride = xStride;
        this.tokens = tokens;
        this.y = y;
        this.yOff = yOff;
        this.yStride = yStride;
        pool.execute(this);
        this.x = this.y = null;
        this.w = null;
    }

    /** The rule-breaking variant: two half-length canonical dots, added. Never used outside tests. */
    private static float splitK(Matrix m, int r, float[] x, int xo, float[] scratch) {
        int n = m.cols(), half = n / 2 / m.type().blockSize * m.type().blockSize;
        float[] w = new float[n];
        m.dequantizeRow(r, w, 0);
        return Canonical.dotScalar(w, 0, x, xo, half) + Canonical.dotScalar(w, half, x, xo + half, n - half);
    }

    @Override
    public void run(int worker, int workers) {
        Matrix m = w;
        int r0 = WorkerPool.rangeStart(m.rows(), worker, workers);
        int r1 = WorkerPool.rangeStart(m.rows(), worker + 1, workers);
        float[] s = scratch[worker];
        int n = m.cols();
        boolean splitK = splitKNegativeControl && tokens <= 2;
        for (int t0 = 0; t0 < tokens; t0 += TOKEN_TILE) {
            int t1 = Math.min(tokens, t0 + TOKEN_TILE);
            for (int r = r0; r < r1; r++) {
                for (int t = t0; t < t1; t++) {
                    y[yOff + t * yStride + r] = splitK ? splitK(m, r, x, xOff + t * xStride, s)
                            : Dot.row(m.type(), m.data(), r, n, x, xOff + t * xStride, s);
                }
            }
        }
    }
}
