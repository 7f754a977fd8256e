package dev.lockstep.kernels;

/**
 * Rotary position embedding. Angles are computed in double precision (position x inverse frequency,
 * then {@code StrictMath.cos/sin}) and only the cosines and sines are rounded to float, so the angle
 * error does not grow with the position (in float32, position 1,000,000 would already carry an angle
 * error of ~0.06 rad). {@code RopeTest} measures the worst error of rotated values against float64.
 *
 * <p>Two layouts: {@link Layout#NORMAL} rotates adjacent pairs (x[2i], x[2i+1]) (llama, mistral);
 * {@link Layout#NEOX} rotates (x[i], x[i + d/2]) (qwen2, qwen3). Pair i turns by
 * {@code pos * base^(-2i/d) / freqFactor[i]} (llama 3 scaling comes as per-pair frequency factors).
 */
public final class Rope {
    public enum Layout { NORMAL, NEOX }

    private final int rotDim;
    private final Layout layout;
    private final double[] invFreq;
    private final double positionScale;

    /**
     * @param rotDim        number of rotated dimensions per head (even, at most the head size)
     * @param base          frequency base (theta)
     * @param freqFactors   per-pair divisors of the frequency (llama 3 rope scaling), or null
     * @param positionScale positions are multiplied by this (linear rope scaling: 1/factor)
     */
    public Rope(int rotDim, double base, float[] freqFactors, Layout layout, double positionScale) {
        if (rotDim <= 0 || rotDim % 2 != 0) throw new IllegalArgumentException("rope dimension must be even: " + rotDim);
        this.rotDim = rotDim;
        this.layout = layout;
        this.positionScale = positionScale;
        this.invFreq = new double[rotDim / 2];
        for (int i = 0; i < rotDim / 2; i++) {
            double f = StrictMath.pow(base, -2.0 * i / rotDim);
            if (freqFactors != null) f /= freqFactors[i];
            invFreq[i] = f;
        }
    }

    public int rotDim() {
        return rotDim;
    }

    public Layout layout() {
        return layout;
    }

    /** The angle of pair {@code i} at position {@code pos}, in double precision. */
    public double angle(long pos, int i) {
        return pos * positionScale * invFreq[i];
    }

    /**
     * Fills {@code cos/sin[t*(rotDim/2) + i]} for the positions of {@code n} tokens.
     */
    public void fillTables(int[] positions, int n, float[] cos, float[] sin) {
        int half = rotDim / 2;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < half; i++) {
                double a = angle(positions[t], i);
                cos[t * half + i] = (float) StrictMath.cos(a);
                sin[t * half + i] = (float) StrictMath.sin(a);
            }
        }
    }

    /**
     * Rotates {@code heads} consecutive heads of {@code headDim} values starting at {@code x[off]}, with
     * the table row {@code tableOff} (= token index x rotDim/2).
     */
    public void apply(float[] x, int off, int heads, int headDim, float[] cos, float[] sin, int tableOff) {
        int half = rotDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int i = 0; i < half; i++) {
                int i0, i1;
                if (layout == Layout.NORMAL) {
                    i0 = base + 2 * i;
                    i1 = i0 + 1;
                } else {
                    i0 = base + i;
                    i1 = i0 + half;
                }
                float c = cos[tableOff + i], s = sin[tableOff + i];
                float a = x[i0], b = x[i1];
                x[i0] = a * c - b * s;
                x[i1] = a * s + b * c;
            }
        }
    }
}
