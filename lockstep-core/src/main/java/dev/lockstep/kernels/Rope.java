package dev.lockstep.kernels;

/**
 * Rotary position embedding. Angles are computed in double precision (position x inverse frequency,
 * then cosine and sine in double, {@link #cosSin}) and only the cosines and sines are rounded to float, so the angle
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
        for (int t = 0; t < n; t++)
            for (int i = 0; i < half; i++) cosSin(angle(positions[t], i), cos, sin, t * half + i);
    }

    // pi/2 = PIO2_HI + PIO2_LO: PIO2_HI is pi/2 rounded to 33 significant bits, so k * PIO2_HI is exact
    // for |k| < 2^20; PIO2_LO is the rest, rounded to a double.
    private static final double PIO2_HI = 1.5707963267341256, PIO2_LO = 6.077100506506192e-11;
    private static final double TWO_OVER_PI = 0.6366197723675814;
    private static final double MAX_REDUCED = 0x1p20 * 1.5707963267948966;

    /**
     * {@code cos[o] = (float) cos(a)}, {@code sin[o] = (float) sin(a)}, in double precision, without
     * allocating: StrictMath reduces an argument beyond pi/4 into two doubles it allocates (fdlibm's
     * rem_pio2), 3.7 KB per decode step of the 512-wide "small" model. Here a is reduced by hand to
     * r = a - k pi/2 in [-pi/4, pi/4] (k pi/2 in two parts, so r is within about half an ulp), and
     * StrictMath, which needs no reduction of its own there, gives cos and sin of r; the quadrant k mod 4
     * says which is which. Beyond 2^20 pi/2 (positions past a million) StrictMath takes the argument
     * itself. RopeTest compares both ways.
     */
    static void cosSin(double a, float[] cos, float[] sin, int o) {
        if (!(Math.abs(a) < MAX_REDUCED)) {
            cos[o] = (float) StrictMath.cos(a);
            sin[o] = (float) StrictMath.sin(a);
            return;
        }
        double k = Math.rint(a * TWO_OVER_PI);
        double r = (a - k * PIO2_HI) - k * PIO2_LO;
        double c = StrictMath.cos(r), s = StrictMath.sin(r);
        switch ((int) k & 3) { // two's complement: -1 & 3 == 3, as the quadrant of k = -1 is
            case 0 -> { cos[o] = (float) c; sin[o] = (float) s; }
            case 1 -> { cos[o] = (float) -s; sin[o] = (float) c; }
            case 2 -> { cos[o] = (float) -c; sin[o] = (float) -s; }
            default -> { cos[o] = (float) s; sin[o] = (float) -c; }
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
