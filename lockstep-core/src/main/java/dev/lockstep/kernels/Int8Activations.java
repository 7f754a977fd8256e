package dev.lockstep.kernels;

/**
 * A batch of activations quantized to 8-bit integers per block of 32 values, for the INT8-activation
 * products of {@link Int8Gemm}: as llama.cpp quantizes activations for its quantized dot products
 * ({@code quantize_row_q8_0}/{@code q8_K}), except that the scale stays an f32 (llama.cpp rounds
 * Q8_0's to f16).
 *
 * <p>Block b of a token: {@code d = max|x| / 127}, {@code q[k] = rint(x[k] / d)} (half to even), so
 * {@code x[k] ≈ d * q[k]} with {@code |q| <= 127}. A token's values depend only on its own activations
 * (a maximum is order-free), never on the rest of the batch.
 *
 * <p>Stored as the kernels read them: <b>pairs</b>, {@code q[2i]} in the low and {@code q[2i+1]} in
 * the high 16 bits of one int, so that one 32-bit broadcast puts a pair of activations beside every
 * pair of weights of a 16-bit vector ({@link Int8Weights}' layout); the block <b>scales</b>; and the
 * block <b>sums</b> {@code A = sum q[k]}, exact integers, for the formats whose integer weights carry
 * an offset or a minimum (Q4_0's {@code - 8}, the K-quants' {@code - m}).
 */
public final class Int8Activations {
    /** Values per block (one scale each). */
    public static final int BLOCK = 32;

    private int[] pairs = new int[0];
    private float[] scales = new float[0];
    private int[] sums = new int[0];
    private int n;

    /** Quantizes {@code tokens} rows of {@code n} values (a multiple of 32), {@code x[xOff + t*xStride ..+n)}. */
    public void quantize(float[] x, int xOff, int xStride, int tokens, int n) {
        if (n % BLOCK != 0) throw new IllegalArgumentException("INT8 activations need rows of a multiple of 32 values, not " + n);
        if (pairs.length < tokens * n / 2) {
            pairs = new int[tokens * n / 2];
            scales = new float[tokens * n / BLOCK];
            sums = new int[tokens * n / BLOCK];
        }
        this.n = n;
        for (int t = 0; t < tokens; t++) quantizeRow(x, xOff + t * xStride, n, pairs, t * n / 2, scales, sums, t * (n / BLOCK));
    }

    /** Values per token of the last {@link #quantize} call. */
    public int length() {
        return n;
    }

    /** The activation pairs; token t's start at {@link #pairsOffset}. */
    int[] pairs() {
        return pairs;
    }

    /** The block scales; token t's start at {@link #blockOffset}. */
    float[] scales() {
        return scales;
    }

    /** The block sums; token t's start at {@link #blockOffset}. */
    int[] sums() {
        return sums;
    }

    int pairsOffset(int t) {
        return t * n / 2;
    }

    int blockOffset(int t) {
        return t * (n / BLOCK);
    }

    /** Quantized value k of token t. */
    public int value(int t, int k) {
        return value(pairs, pairsOffset(t), k);
    }

    /** Value k of the pairs starting at {@code po}: the low or high 16 bits, sign-extended. */
    static int value(int[] pairs, int po, int k) {
        int p = pairs[po + k / 2];
        return (k & 1) == 0 ? (short) p : p >> 16;
    }

    /** The scale of block b of token t. */
    public float scale(int t, int b) {
        return scales[blockOffset(t) + b];
    }

    /**
     * One row: {@code n / 32} blocks into {@code pairs[po..po+n/2)}, {@code d[dOff..dOff+n/32)} and
     * {@code sums[dOff..)}.
     */
    public static void quantizeRow(float[] x, int xo, int n, int[] pairs, int po, float[] d, int[] sums, int dOff) {
        for (int b = 0; b < n / BLOCK; b++) {
            int o = xo + b * BLOCK;
            float amax = 0;
            for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(x[o + j]));
            float scale = amax / 127;
            float inv = scale != 0 ? 1f / scale : 0f; // non-finite input: inv is 0 or the values NaN; clamped below
            d[dOff + b] = scale;
            int sum = 0;
            for (int j = 0; j < BLOCK; j += 2) {
                int lo = level(x[o + j], inv), hi = level(x[o + j + 1], inv);
                pairs[po + (b * BLOCK + j) / 2] = (lo & 0xFFFF) | (hi << 16);
                sum += lo + hi;
            }
            sums[dOff + b] = sum;
        }
    }

    private static int level(float x, float inv) {
        return Math.max(-127, Math.min(127, (int) Math.rint(x * inv)));
    }
}
