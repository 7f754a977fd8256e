package dev.lockstep.kernels;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * y[t][r] = W[r] . x[t] for every row r of W and token t of a batch: the matrix product of a ragged
 * batch, parallel over output rows only (no split-K). Every output is one canonical dot product, so
 * a token's result is the same whatever else is in the batch and however many threads run.
 *
 * <p>One instance per model runner; it reuses its per-worker scratch and holds the current call's
 * arguments in fields, so a call allocates nothing.
 *
 * <p>With INT8 activations ({@link Activations#INT8}), every product with a matrix the INT8 kernels
 * take ({@link Int8Weights#supports}: Q4_0, Q4_K, Q5_K, Q6_K), whatever the token count, is
 * {@link Int8Gemm}'s (tokens quantized once per call); other types keep the f32 kernels. The choice
 * is per instance and matrix type, never per batch, so invariance holds in either mode.
 */
public final class MatMul implements WorkerPool.Task {
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
    private final boolean int8; // INT8 activations for the matrices Int8Gemm takes
    private final Int8Activations quantized = new Int8Activations(); // the call's tokens, when int8 products run

    private Matrix w;
    private float[] x, y;
    private int xOff, xStride, yOff, yStride, tokens;
    // further products of the same call (same input, own outputs): one barrier for all of them
    private final Matrix[] more = new Matrix[2];
    private final float[][] moreY = new float[2][];
    private int moreCount;

    private final AlignedFloats[] tiles; // per worker: dequantized weight rows
    private final AlignedFloats[] panels; // per worker: tokens packed for DequantGemm
    private final AlignedFloats[] tokens4; // per worker: four tokens' activations for the tile path
    private final float[][] rowBuffers; // per worker: one dequantized row, before it is split into the tile
    // the call's tokens for the 256-bit kernels, written before the workers run: in the split layout
    // (tiles) and in four-token panels (DequantGemm256); a call's matrices may need either or both
    private AlignedFloats packedSplit, packedPanels;
    private int splitStart, panelStart;
    private long nanos; // wall time spent in products (for the step profile)
    // the call's work as units of rows (run): per matrix (w, more[0], more[1]) its path, rows per unit
    // and the running count of units up to and including it; the next unit to take
    private final Path[] paths = new Path[3];
    private final int[] unitRows = new int[3], unitEnd = new int[3];
    private final AtomicInteger nextUnit = new AtomicInteger();
    private final float[][] lanes; // per worker: accumulators of a kernel, stored for the canonical tree
    private final int[][] tokenOffsets; // per worker: the INT8 kernels' token offsets and scratch

    public MatMul(WorkerPool pool) {
        this(pool, Activations.F32);
    }

    /** With {@link Activations#INT8}, products with the matrices {@link Int8Gemm} takes quantize the activations. */
    public MatMul(WorkerPool pool, Activations activations) {
        this.pool = pool;
        this.int8 = activations == Activations.INT8;
        this.scratch = new float[pool.size()][256];
        this.tiles = new AlignedFloats[pool.size()];
        this.panels = new AlignedFloats[pool.size()];
        this.tokens4 = new AlignedFloats[pool.size()];
        this.rowBuffers = new float[pool.size()][];
        this.lanes = new float[pool.size()][16 * Canonical.LANES];
        this.tokenOffsets = new int[pool.size()][Int8Gemm.SCRATCH];
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
        this.moreCount = 0;
        execute();
    }

    /**
     * Two or three products of the same input in one parallel step (e.g. Q, K and V): the workers share
     * the units of rows of all the matrices, so the threads meet once instead of three times. Outputs
     * are written like {@link #apply}, each with its own matrix's row count as stride.
     */
    public void applyShared(float[] x, int xOff, int xStride, int tokens, Matrix w0, float[] y0, Matrix w1, float[] y1,
                            Matrix w2, float[] y2) {
        this.x = x;
        this.xOff = xOff;
        this.xStride = xStride;
        this.tokens = tokens;
        this.w = w0;
        this.y = y0;
        this.yOff = 0;
        this.yStride = w0.rows();
        more[0] = w1;
        moreY[0] = y1;
        more[1] = w2;
        moreY[1] = y2;
        moreCount = w2 == null ? 1 : 2;
        execute();
    }

    /** Runs the call set up in the fields on the pool, timed, then drops its references. */
    private void execute() {
        long t0 = System.nanoTime();
        boolean int8Path = false, split = false, panel = false;
        for (int i = 0, units = 0; i <= moreCount; i++) { // all matrices of a call share x and n, not always their type
            Matrix m = i == 0 ? w : more[i - 1];
            Path p = paths[i] = path(m);
            if (p == Path.INT8) {
                int8Path = true;
                if (Canonical.SIMD) m.int8(); // rearranged here, once, if not yet: never by the workers
            }
            split |= p == Path.TILES;
            panel |= p == Path.FUSED;
            unitRows[i] = unitRows(p, m.cols());
            units += (m.rows() + unitRows[i] - 1) / unitRows[i];
            unitEnd[i] = units;
        }
        if (int8Path) quantized.quantize(x, xOff, xStride, tokens, w.cols());
        if (Canonical.SIMD256 && split) packSplit(w.cols());
        if (Canonical.SIMD256 && panel) packPanels(w.cols());
        nextUnit.set(0); // published to the workers by the pool's start of the task
        pool.execute(this);
        nanos += System.nanoTime() - t0;
        this.x = this.y = null;
        this.w = null;
        more[0] = more[1] = null;
        moreY[0] = moreY[1] = null;
    }

    /** Wall time spent in this instance's products since it was made (one clock read per call). */
    public long nanos() {
        return nanos;
    }

    /** The rule-breaking variant: two half-length canonical dots, added. Never used outside tests. */
    private static float splitK(Matrix m, int r, float[] x, int xo, float[] scratch) {
        int n = m.cols(), half = n / 2 / m.type().blockSize * m.type().blockSize;
        float[] w = new float[n];
        m.dequantizeRow(r, w, 0);
        return Canonical.dotScalar(w, 0, x, xo, half) + Canonical.dotScalar(w, half, x, xo + half, n - half);
    }

    /**
     * Each worker takes the call's units of rows in turn ({@link #nextUnit}) until none is left, rather
     * than a fixed share: on a shared machine the two cores' speeds drift apart (one vCPU's FMA peak
     * measured 48 to 66 GFLOP/s from one run to the next), and with fixed halves the faster one
     * waited at every product for the slower one. Measured on the Q8_0 1B, one build switched by a
     * property, three alternating rounds: tg64 6.75 / 6.35 / 6.23 with fixed halves against 7.27 / 7.44
     * / 7.70 tok/s, pp512 29.4 against 31.0 (means), 8 sequences 18.6 against 20.0. Which worker
     * computes a row never changes its bits (each output is one canonical dot product, its kernel
     * chosen by the call's token count alone).
     */
    @Override
    public void run(int worker, int workers) {
        int total = unitEnd[moreCount];
        for (int u; (u = nextUnit.getAndIncrement()) < total; ) {
            int i = 0;
            while (u >= unitEnd[i]) i++;
            Matrix m = i == 0 ? w : more[i - 1];
            int r0 = (u - (i == 0 ? 0 : unitEnd[i - 1])) * unitRows[i], r1 = Math.min(m.rows(), r0 + unitRows[i]);
            if (i == 0) runRange(m, paths[0], y, yOff, yStride, r0, r1, worker);
            else runRange(m, paths[i], moreY[i - 1], 0, m.rows(), r0, r1, worker);
        }
    }

    /**
     * Rows per unit of work ({@link #run}): one tile's row block for the tile path (each unit
     * dequantizes its rows once), else 64 rows, whose row pairs (32 apart) still stream contiguous
     * memory; a 2048-wide Q8_0 unit is 139 KB, some microseconds of work against one atomic increment.
     * The 512-bit in-register path ({@link #fused}) packs its token panels per unit, so it takes 256
     * rows, which keeps that copy near 1% of the unit's work.
     */
    private static int unitRows(Path p, int n) {
        if (p == Path.TILES) return rowBlock(n);
        if (p == Path.INT8) return 4 * Int8Weights.GROUP;
        return p == Path.FUSED && Canonical.SIMD512 ? 256 : 64;
    }

    private enum Path { SPLIT_K, INT8, MATVEC, FUSED, TILES }

    /** Which kernels compute this call's product with {@code m} (the same for every worker; asked once per call). */
    private Path path(Matrix m) {
        int n = m.cols();
        if (splitKNegativeControl && tokens <= 2) return Path.SPLIT_K;
        if (int8 && m.hasInt8()) return Path.INT8;
        int matvecMax = Canonical.SIMD256 && DequantGemm256.supports(m.type(), n) ? MATVEC256_MAX_TOKENS : MATVEC_MAX_TOKENS;
        if (tokens == 1 || !Canonical.SIMD || n % 16 != 0 || (tokens <= matvecMax && Dot.hasRows2(m.type(), n)))
            return Path.MATVEC;
        if (tokens <= FUSED_MAX_TOKENS && tokens >= FUSED_MIN_TOKENS && DequantGemm.supports(m.type(), n)) return Path.FUSED;
        if (tokens <= FUSED256_MAX_TOKENS && (tokens <= DequantGemm256.WIDE_TOKENS || tokens % DequantGemm256.WIDE_TOKENS == 0)
                && DequantGemm256.supports(m.type(), n)) return Path.FUSED;
        return Path.TILES;
    }

    /** Rows {@code [r0, r1)} of this call's product with {@code m} (on its path {@code p}), by worker {@code worker}. */
    private void runRange(Matrix m, Path p, float[] y, int yOff, int yStride, int r0, int r1, int worker) {
        float[] s = scratch[worker];
        switch (p) {
            case SPLIT_K -> {
                for (int r = r0; r < r1; r++)
                    for (int t = 0; t < tokens; t++) y[yOff + t * yStride + r] = splitK(m, r, x, xOff + t * xStride, s);
            }
            case INT8 -> int8(m, y, yOff, yStride, r0, r1, worker);
            case MATVEC -> matvec(m, y, yOff, yStride, r0, r1, s);
            case FUSED -> {
                if (Canonical.SIMD512) fused(m, y, yOff, yStride, r0, r1, worker);
                else fused256(m, y, yOff, yStride, r0, r1, worker);
            }
            case TILES -> {
                if (Canonical.SIMD512) blocked(m, y, yOff, yStride, r0, r1, worker);
                else blocked256(m, y, yOff, yStride, r0, r1, worker);
            }
        }
    }

    /**
     * INT8 activations, any token count: the unit's groups of 16 rows ({@link #unitRows}: four, whose
     * rearranged weights stay in L2) meet the call's tokens four at a time ({@link Int8Gemm#group});
     * one or two tokens take the one-token kernels (see {@link Int8Gemm#group}).
     */
    private void int8(Matrix m, float[] y, int yOff, int yStride, int r0, int r1, int worker) {
        float[] l = lanes[worker];
        int[] offsets = tokenOffsets[worker];
        int g0 = r0 / Int8Weights.GROUP, g1 = (r1 + Int8Weights.GROUP - 1) / Int8Weights.GROUP;
        for (int t = 0; t < tokens; t += Int8Gemm.TOKENS) {
            int nt = Math.min(Int8Gemm.TOKENS, tokens - t);
            for (int g = g0; g < g1; g++) {
                Int8Gemm.group(m, g, quantized, t, nt, l, offsets);
                int rows = Math.min(Int8Weights.GROUP, m.rows() - g * Int8Weights.GROUP);
                for (int j = 0; j < nt; j++) System.arraycopy(l, 16 * j, y, yOff + (t + j) * yStride + g * Int8Weights.GROUP, rows);
            }
        }
    }

    /**
     * Up to this many tokens (two- and three-token batches, short speculative verifications), the
     * fused row kernels beat dequantizing a tile: measured on the 1B Q8_0 model, two concurrent
     * sequences decoded at 7.2 tok/s through the tile path, one alone at 9.7.
     */
    static final int MATVEC_MAX_TOKENS = 3;

    /**
     * With 256-bit vectors, three tokens already go to {@link DequantGemm256}: one dequantization and
     * three FMAs per weight vector (plus a wasted fourth) instead of three of each.
     */
    static final int MATVEC256_MAX_TOKENS = 2;

    /**
     * Each unit of rows ({@link #run}) pairs row i of its first half with row i of its second half (two
     * distant rows per kernel call: two FMA chains, two memory streams) and runs every token through
     * the pair while it is in L1, so the weights stream from memory once whatever the token count.
     * Two tokens with 256-bit vectors take {@link Dot256#rows2tokens2}, which dequantizes each weight
     * once for both.
     */
    private void matvec(Matrix m, float[] y, int yOff, int yStride, int r0, int r1, float[] s) {
        int n = m.cols(), half = (r1 - r0) / 2, i = 0;
        if (tokens == 2 && Canonical.SIMD256 && Dot256.hasRows2Tokens2(m.type())) {
            matvecTwoTokens(m, y, yOff, yStride, r0, half, s);
            i = half;
        } else if (Canonical.SIMD && Dot.hasRows2(m.type(), n))
            for (; i < half; i++)
                for (int t = 0; t < tokens; t++) {
                    int yo = yOff + t * yStride;
                    Dot.rows2(m.type(), m.data(), r0 + i, r0 + half + i, n, x, xOff + t * xStride, y, yo + r0 + i, yo + r0 + half + i, s);
                }
        for (int r = r0 + i; r < r0 + half; r++)
            for (int t = 0; t < tokens; t++) y[yOff + t * yStride + r] = Dot.row(m.type(), m.data(), r, n, x, xOff + t * xStride, s);
        for (int r = r0 + half + i; r < r1; r++)
            for (int t = 0; t < tokens; t++) y[yOff + t * yStride + r] = Dot.row(m.type(), m.data(), r, n, x, xOff + t * xStride, s);
    }

    /**
     * The {@code half} row pairs of {@link #matvec} for exactly two tokens, through
     * {@link Dot256#rows2tokens2}. A method of its own so that {@link #matvec}'s single-token
     * loop stays as small as it was for C2's inlining.
     */
    private void matvecTwoTokens(Matrix m, float[] y, int yOff, int yStride, int r0, int half, float[] s) {
        long rb = m.rowBytes();
        int ya = yOff, yb = yOff + yStride;
        for (int i = 0; i < half; i++) {
            int ra = r0 + i, rc = r0 + half + i;
            Dot256.rows2tokens2(m.type(), m.data(), ra * rb, rc * rb, m.cols(), x, xOff, xOff + xStride, s);
            y[ya + ra] = Canonical.treeOf(s, 0);
            y[yb + ra] = Canonical.treeOf(s, 16);
            y[ya + rc] = Canonical.treeOf(s, 32);
            y[yb + rc] = Canonical.treeOf(s, 48);
        }
    }

    /**
     * From six to sixteen tokens (batched decoding of several sequences), {@link DequantGemm} beats the
     * tile path: it unpacks each weight block once, in registers, for eight tokens instead of writing
     * and re-reading an f32 tile. Measured on the 1B Q8_0 model (`lockstep bench --concurrency`, one
     * run each way): 6 sequences 20.2 vs 14.2 tok/s, 8: 24.5 vs 18.1, 16: 23.7 vs 19.0. Four tokens
     * fill only half of its eight slots and measured slower (10.7 vs 13.7), so four and five stay on
     * the tile path.
     */
    static final int FUSED_MIN_TOKENS = 6, FUSED_MAX_TOKENS = 16;

    /**
     * Groups of up to eight tokens, packed into panels, times pairs of distant rows (two memory
     * streams, as in {@link #matvec}); with an odd row count the last pair repeats a row (same value
     * written twice). Each row pair meets every group while it is in L1, so the weights stream from
     * memory once.
     */
    private void fused(Matrix m, float[] y, int yOff, int yStride, int r0, int r1, int worker) {
        int n = m.cols(), half = (r1 - r0 + 1) / 2, ps = DequantGemm.panelSize(n);
        int groups = (tokens + DequantGemm.TOKENS - 1) / DequantGemm.TOKENS;
        long rowBytes = m.type().byteSize(n);
        AlignedFloats scratchPanel = panels[worker] = AlignedFloats.atLeast(panels[worker], groups * ps);
        float[] panel = scratchPanel.array;
        int p0 = scratchPanel.start();
        for (int g = 0; g < groups; g++) {
            int t0 = g * DequantGemm.TOKENS;
            DequantGemm.pack(x, xOff + t0 * xStride, xStride, Math.min(DequantGemm.TOKENS, tokens - t0), n, panel, p0 + g * ps);
        }
        float[] l = lanes[worker];
        for (int i = 0; i < half; i++) {
            int ra = r0 + i, rb = Math.min(r0 + half + i, r1 - 1);
            for (int g = 0; g < groups; g++) { // the row pair stays in L1 for the next group
                DequantGemm.run(m.type(), m.data(), ra * rowBytes, rb * rowBytes, n, panel, p0 + g * ps, l);
                for (int t0 = g * DequantGemm.TOKENS, t = 0; t < Math.min(DequantGemm.TOKENS, tokens - t0); t++) {
                    int yo = yOff + (t0 + t) * yStride;
                    y[yo + ra] = Canonical.treeOf(l, 16 * t);
                    y[yo + rb] = Canonical.treeOf(l, 128 + 16 * t);
                }
            }
        }
    }

    /**
     * With 256-bit vectors, from three tokens (after the row kernels) up to this many, {@link DequantGemm256}
     * (weights dequantized in registers) replaces the tile path, except for 9 to 15 tokens: an
     * eight-token panel costs the same with absent tokens, so a part-empty second panel wastes up to
     * half the work, and the tiles were faster (Q8_0 1B, 2 threads, alternating runs: 9 sequences 11.25 /
     * 11.80 vs 17.16 / 14.30 tok/s, 12: 15.18 / 15.01 / 14.43 vs 18.57 / 17.20 / 19.59, 14 about equal;
     * Q4_0 9: 11.53 / 11.20 vs 15.23, 12: 15.03 / 14.78 vs 17.19), while 5-8 and 16 tokens stay faster
     * fused (8: 19.66 / 19.09 vs 12.97 / 13.71; 16: 20.05 / 19.75 vs 17.84 / 18.92).
     */
    static final int FUSED256_MAX_TOKENS = 16;

    /**
     * {@link #fused} with 256-bit vectors, on panels packed once per call ({@link #packPanels}): up to
     * four tokens, pairs of distant rows times a four-token panel ({@link DequantGemm256#run}); from
     * five on, one row at a time times eight-token panels ({@link DequantGemm256#run8}), which
     * dequantizes each weight once per eight tokens.
     */
    private void fused256(Matrix m, float[] y, int yOff, int yStride, int r0, int r1, int worker) {
        int n = m.cols(), per = panelTokens(), ps = DequantGemm256.panelSize(per, n), groups = (tokens + per - 1) / per;
        long rowBytes = m.type().byteSize(n);
        float[] l = lanes[worker], panel = packedPanels.array;
        if (per == DequantGemm256.WIDE_TOKENS) {
            for (int r = r0; r < r1; r++)
                for (int g = 0; g < groups; g++) { // the row stays in L1 for the next group
                    DequantGemm256.run8(m.type(), m.data(), r * rowBytes, n, panel, panelStart + g * ps, l);
                    for (int t0 = g * per, t = 0; t < Math.min(per, tokens - t0); t++) y[yOff + (t0 + t) * yStride + r] = Canonical.treeOf(l, 16 * t);
                }
            return;
        }
        int half = (r1 - r0 + 1) / 2;
        for (int i = 0; i < half; i++) {
            int ra = r0 + i, rb = Math.min(r0 + half + i, r1 - 1);
            for (int g = 0; g < groups; g++) { // the row pair stays in L1 for the next group
                DequantGemm256.run(m.type(), m.data(), ra * rowBytes, rb * rowBytes, n, panel, panelStart + g * ps, l);
                for (int t0 = g * per, t = 0; t < Math.min(per, tokens - t0); t++) {
                    int yo = yOff + (t0 + t) * yStride;
                    y[yo + ra] = Canonical.treeOf(l, 16 * t);
                    y[yo + rb] = Canonical.treeOf(l, 64 + 16 * t);
                }
            }
        }
    }

    /** Tokens per panel of this call's {@link #fused256} products: eight from five tokens on, else four. */
    private int panelTokens() {
        return tokens > DequantGemm256.TOKENS ? DequantGemm256.WIDE_TOKENS : DequantGemm256.TOKENS;
    }

    /** Packs the call's tokens once, before the workers start, into the panels {@link #fused256} reads. */
    private void packPanels(int n) {
        int per = panelTokens(), ps = DequantGemm256.panelSize(per, n), groups = (tokens + per - 1) / per;
        packedPanels = AlignedFloats.atLeast(packedPanels, groups * ps);
        panelStart = packedPanels.start(); // asked once: readers use the index the writer used
        for (int g = 0; g < groups; g++) {
            int t0 = g * per;
            DequantGemm256.pack(per, x, xOff + t0 * xStride, xStride, Math.min(per, tokens - t0), n, packedPanels.array, panelStart + g * ps);
        }
    }

    /**
     * Rows dequantized per block: a tile that stays in L2 while the tokens stream past (512 KB with
     * 512-bit vectors, as tuned on an AVX-512 machine; 384 KB with 256-bit ones, whose Zen 3 cores have
     * 512 KB of L2 each). Every block streams all the call's tokens from L3 again, so a bigger tile
     * means less of that traffic: 384 KB against 192 KB gave pp512 on the Q8_0 1B 34.1 against 30.1
     * tok/s (mean of six alternating runs), 10 of 11 alternating pairs faster; 512 KB was slower (32.8).
     */
    static int rowBlock(int n) {
        int floats = Canonical.SIMD512 ? 128 * 1024 : 96 * 1024;
        return Math.max(4, Math.min(64, (floats / n) & ~3));
    }

    /** The worker's buffer of one dequantized row (256-bit tiles are split after dequantization). */
    private float[] rowBuffer(int worker, int n) {
        float[] b = rowBuffers[worker];
        if (b == null || b.length < n) b = rowBuffers[worker] = new float[n];
        return b;
    }

    /**
     * Many tokens: a block of rows is dequantized once (exact reference floats) into a tile that stays
     * in L2; every group of four tokens, copied next to each other, then meets every group of four rows
     * in a 4x4 register tile ({@link Gemm#kernel4x4}). Tile and tokens start on a cache line
     * ({@link AlignedFloats}). Each output remains one canonical dot product.
     */
    private void blocked(Matrix m, float[] y, int yOff, int yStride, int r0, int r1, int worker) {
        int n = m.cols(), rb = rowBlock(n);
        AlignedFloats tileScratch = tiles[worker] = AlignedFloats.atLeast(tiles[worker], rb * n);
        AlignedFloats xsScratch = tokens4[worker] = AlignedFloats.atLeast(tokens4[worker], 4 * n);
        float[] tile = tileScratch.array, xs = xsScratch.array;
        int w0 = tileScratch.start(), x0 = xsScratch.start();
        float[] l = lanes[worker];
        for (int b0 = r0; b0 < r1; b0 += rb) {
            int rows = Math.min(rb, r1 - b0);
            for (int i = 0; i < rows; i++) DequantVec.row(m.type(), m.data(), b0 + i, n, tile, w0 + i * n);
            for (int t = 0; t < tokens; t += 4) {
                int nt = Math.min(4, tokens - t);
                for (int j = 0; j < 4; j++) // absent tokens repeat the last one (their results are dropped)
                    System.arraycopy(x, xOff + Math.min(t + j, tokens - 1) * xStride, xs, x0 + j * n, n);
                for (int i = 0; i < rows; i += 4) {
                    int nr = Math.min(4, rows - i), lr = rows - 1;
                    Gemm.kernel4x4(tile, w0 + i * n, w0 + Math.min(i + 1, lr) * n, w0 + Math.min(i + 2, lr) * n, w0 + Math.min(i + 3, lr) * n,
                            xs, x0, x0 + n, x0 + 2 * n, x0 + 3 * n, n, y, yOff + t * yStride + b0 + i, 1, yStride, nr, nt, l);
                }
            }
        }
    }

    /**
     * The tiles with 256-bit vectors: rows dequantized into a tile in the split layout of
     * {@link Gemm#splitHalves}, tokens taken from the call's packed copy ({@link #packSplit}), 3x3
     * register tiles ({@link Gemm#kernel3x3x256}).
     */
    private void blocked256(Matrix m, float[] y, int yOff, int yStride, int r0, int r1, int worker) {
        int n = m.cols(), rb = rowBlock(n);
        AlignedFloats tileScratch = tiles[worker] = AlignedFloats.atLeast(tiles[worker], rb * n);
        float[] tile = tileScratch.array, xs = packedSplit.array, row = rowBuffer(worker, n);
        int w0 = tileScratch.start(), x0 = splitStart;
        float[] l = lanes[worker];
        for (int b0 = r0; b0 < r1; b0 += rb) {
            int rows = Math.min(rb, r1 - b0);
            for (int i = 0; i < rows; i++) {
                DequantVec.row(m.type(), m.data(), b0 + i, n, row, 0);
                Gemm.splitHalves(row, 0, tile, w0 + i * n, n);
            }
            for (int t = 0; t < tokens; t += 3) {
                int nt = Math.min(3, tokens - t), lt = tokens - 1; // absent tokens repeat the last one
                int a = x0 + t * n, b = x0 + Math.min(t + 1, lt) * n, c = x0 + Math.min(t + 2, lt) * n;
                for (int i = 0; i < rows; i += 3) {
                    int nr = Math.min(3, rows - i), lr = rows - 1;
                    Gemm.kernel3x3x256(tile, w0 + i * n, w0 + Math.min(i + 1, lr) * n, w0 + Math.min(i + 2, lr) * n,
                            xs, a, b, c, n, y, yOff + t * yStride + b0 + i, 1, yStride, nr, nt, l);
                }
            }
        }
    }

    /**
     * Copies the call's tokens once, before the workers start, into {@link #packedSplit} in the split
     * layout (token t at {@code splitStart + t * n}). Packing per row block instead copied the
     * whole batch again for every tile.
     */
    private void packSplit(int n) {
        packedSplit = AlignedFloats.atLeast(packedSplit, tokens * n);
        splitStart = packedSplit.start(); // asked once: readers use the index the writer used, wherever the array is now
        for (int t = 0; t < tokens; t++) Gemm.splitHalves(x, xOff + t * xStride, packedSplit.array, splitStart + t * n, n);
    }
}
