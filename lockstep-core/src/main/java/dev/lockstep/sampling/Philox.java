package dev.lockstep.sampling;

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
 * counter-based generator of cuRAND, JAX and PyTorch: the output is a pure function of (key, counter),
 * so a request's random numbers depend only on its own seed and the position being sampled — never
 * on what else ran, in what order, on which thread.
 */
public final class Philox {
    private Philox() {}

    private static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /**
     * The 4 x 32-bit output block for {@code key} (64 bits) and {@code counter} (128 bits as two longs).
     */
    public static int[] block(long key, long counterLo, long counterHi) {
        int c0 = (int) counterLo, c1 = (int) (counterLo >>> 32), c2 = (int) counterHi, c3 = (int) (counterHi >>> 32);
        int k0 = (int) key, k1 = (int) (key >>> 32);
        for (int round = 0; round < 10; round++) {
            long p0 = (M0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long p1 = (M1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            int n0 = hi1 ^ c1 ^ k0;
            int n1 = lo1;
            int n2 = hi0 ^ c3 ^ k1;
            int n3 = lo0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        return new int[]{c0, c1, c2, c3};
    }

    /** A uniform double in [0, 1) with 53 random bits, for (seed, position, stream). */
    public static double uniform(long seed, long position, long stream) {
        int[] b = block(seed, position, stream);
        long bits = ((long) (b[0] >>> 5) << 26) | (b[1] >>> 6); // 27 + 26 = 53 bits
        return bits * 0x1.0p-53;
    }
}
