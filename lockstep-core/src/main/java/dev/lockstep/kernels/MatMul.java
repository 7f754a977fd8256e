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

    private final float[][] tiles;
    private final float[][] lanes; // per worker: accumulators of a kernel, stored for the canonical tree
    private final float[][] accs;  // per worker: accumulators of a row block x token block between K passes

    public MatMul(WorkerPool pool) {
        this.pool = pool;
        this.scratch = new float[pool.size()][256];
        this.tiles = new float[pool.size()][];
        this.lanes = new float[pool.size()][4 * Canonical.LANES];
        this.accs = new float[pool.size()][RB * TB * Canonical.LANES];
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
        int n = m.cols();
        float[] s = scratch[worker];
        boolean splitK = splitKNegativeControl && tokens <= 2;
        if (splitK || !Canonical.SIMD512 || n % 64 != 0 || tokens == 1) {
            for (int t0 = 0; t0 < tokens; t0 += TOKEN_TILE) {
                int t1 = Math.min(tokens, t0 + TOKEN_TILE);
                for (int r = r0; r < r1; r++)
                    for (int t = t0; t < t1; t++)
                        y[yOff + t * yStride + r] = splitK ? splitK(m, r, x, xOff + t * xStride, s)
                                : Dot.row(m.type(), m.data(), r, n, x, xOff + t * xStride, s);
            }
        } else {
            blocked(m, r0, r1, worker);
        }
    }

    /** Blocking of the batched product: rows and tokens per block (even), K per pass. */
    static final int RB = 8, TB = 8, KB = 512;

    /**
     * Two or more tokens, GotoBLAS-style blocking: a block of {@link #RB} rows is dequantized once
     * (exact reference floats) into a tile; for each block of {@link #TB} tokens, passes over K in
     * slices of {@link #KB} keep the weights' and the activations' slices in L1 while 2x2 register tiles
     * run; accumulators live in a small buffer between passes. Each output remains one canonical dot
     * product: its lanes' chains are paused and resumed in order, never split and re-added.
     */
    private void blocked(Matrix m, int r0, int r1, int worker) {
        int n = m.cols();
        float[] tile = tiles[worker];
        if (tile == null || tile.length < RB * n) tile = tiles[worker] = new float[RB * n];
        float[] acc = accs[worker];
        for (int b0 = r0; b0 < r1; b0 += RB) {
            int rows = Math.min(RB, r1 - b0);
            for (int i = 0; i < rows; i++) DequantVec.row(m.type(), m.data(), b0 + i, n, tile, i * n);
            for (int t0 = 0; t0 < tokens; t0 += TB) {
                int toks = Math.min(TB, tokens - t0);
                java.util.Arrays.fill(acc, 0f);
                for (int k0 = 0; k0 < n; k0 += KB) {
                    int k1 = Math.min(n, k0 + KB);
                    for (int i = 0; i < rows; i += 2) {
                        int wa = i * n, wb = Math.min(i + 1, rows - 1) * n; // an odd last row is computed twice
                        for (int j = 0; j < toks; j += 2) {
                            int xa = xOff + (t0 + j) * xStride, xb = xOff + (t0 + Math.min(j + 1, toks - 1)) * xStride;
                            Gemm.kernel2x2acc(tile, wa, wb, x, xa, xb, k0, k1, acc, ((i / 2) * (TB / 2) + j / 2) * 256);
                        }
                    }
                }
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < toks; j++) {
                        int ao = ((i / 2) * (TB / 2) + j / 2) * 256 + ((i & 1) * 2 + (j & 1)) * 64;
                        y[yOff + (t0 + j) * yStride + b0 + i] = Canonical.treeOf(acc, ao);
                    }
            }
        }
    }
}
