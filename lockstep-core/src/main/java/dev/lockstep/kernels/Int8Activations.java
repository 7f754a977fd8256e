package dev.lockstep.kernels;

/**
 * A batch of activations quantized to 8-bit integers per block of 32 values, for the INT8-activation
 * products of {@link Int8Dot}: as llama.cpp quantizes activations for its Q8_0/Q4_0 dot products
 * ({@code quantize_row_q8_0}), except that the scale stays an f32 (llama.cpp rounds it to f16).
 *
 * <p>Block b of a token: {@code d = max|x| / 127}, {@code q[k] = rint(x[k] / d)} (half to even), so
 * {@code x[k] ≈ d * q[k]} with {@code |q| <= 127}. A token's values depend only on its own activations
 * (a maximum is order-free), never on the rest of the batch. The integers are stored widened to
 * {@code short}: the 256-bit kernels multiply them as 16-bit lanes.
 *
 * <p>Beside the values, each block keeps 16 <em>Q4_0 corrections</em> {@code c[i] = 8 (q[i] + q[i+16])}:
 * a Q4_0 weight is {@code nibble - 8}, so {@code (nibble - 8) q} summed over a lane's values is the
 * nibble products minus the correction, an exact integer either way. The kernel then multiplies the
 * raw nibbles and subtracts once per block instead of subtracting 8 from every weight.
 */
public final class Int8Activations {
    /** Values per block (one scale each). */
    public static final int BLOCK = 32;

    private short[] q = new short[0];
    private short[] c = new short[0];
    private float[] d = new float[0];
    private int n;

    /** Quantizes {@code tokens} rows of {@code n} values (a multiple of 32), {@code x[xOff + t*xStride ..+n)}. */
    public void quantize(float[] x, int xOff, int xStride, int tokens, int n) {
        if (n % BLOCK != 0) throw new IllegalArgumentException("INT8 activations need rows of a multiple of 32 values, not " + n);
        if (q.length < tokens * n) {
            q = new short[tokens * n];
            c = new short[tokens * n / 2];
            d = new float[tokens * n / BLOCK];
        }
        this.n = n;
        for (int t = 0; t < tokens; t++) {
            quantizeRow(x, xOff + t * xStride, n, q, t * n, d, t * (n / BLOCK));
            corrections(q, t * n, n, c, t * n / 2);
        }
    }

    /** The quantized values; token t's start at {@link #valuesOffset}. */
    short[] values() {
        return q;
    }

    /** The Q4_0 corrections; token t's start at {@link #correctionsOffset}. */
    short[] corrections() {
        return c;
    }

    /** The scales; token t's start at {@link #scalesOffset}. */
    float[] scales() {
        return d;
    }

    int valuesOffset(int t) {
        return t * n;
    }

    int scalesOffset(int t) {
        return t * (n / BLOCK);
    }

    int correctionsOffset(int t) {
        return t * n / 2;
    }

    /** The Q4_0 corrections of one quantized row: {@code c[co + 16b + i] = 8 (q[qo + 32b + i] + q[qo + 32b + 16 + i])}. */
    public static void corrections(short[] q, int qo, int n, short[] c, int co) {
        for (int b = 0; b < n / BLOCK; b++)
            for (int i = 0; i < 16; i++) c[co + 16 * b + i] = (short) (8 * (q[qo + 32 * b + i] + q[qo + 32 * b + 16 + i]));
    }

    /** One row: {@code n / 32} blocks into {@code q[qo..qo+n)} and {@code d[dOff..dOff+n/32)}. */
    public static void quantizeRow(float[] x, int xo, int n, short[] q, int qo, float[] d, int dOff) {
        for (int b = 0; b < n / BLOCK; b++) {
            int o = xo + b * BLOCK;
            float amax = 0;
            for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(x[o + j]));
            float scale = amax / 127;
            float inv = scale != 0 ? 1f / scale : 0f; // non-finite input: inv is 0 or the values NaN; clamped below
            d[dOff + b] = scale;
            for (int j = 0; j < BLOCK; j++) {
                float v = (float) Math.rint(x[o + j] * inv);
                q[qo + b * BLOCK + j] = (short) Math.max(-127, Math.min(127, (int) v));
            }
        }
    }
}
