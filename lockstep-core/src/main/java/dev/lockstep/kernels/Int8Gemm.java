package dev.lockstep.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The INT8-activation products ({@code --activations int8}): a group of 16 rows of an
 * {@link Int8Weights} matrix times one to four tokens of {@link Int8Activations}, every output with
 * the bits of {@link Int8Formats#dot}, the specification in {@link Int8Weights}' class comment.
 *
 * <p><b>Why 16-bit multiplies.</b> The integer dot-product instructions ({@code vpdpbusd},
 * {@code vpdpwssd}, {@code vpmaddwd}) are out of the Vector API's reach, and C2's auto-vectorizer
 * emits {@code vpdpwssd} only for loops that add into memory ({@code out[i] += a[2i]b[2i] +
 * a[2i+1]b[2i+1]}), a load and a store per instruction: measured here (Zen 4, one thread, from L1)
 * at 15-18 G multiply-adds/s against 48-54 for the f32 kernels' 4 x 4 register tile, so no kernel
 * is built on it (docs/performance-log.md, 2026-12-07). A 16-bit multiply ({@code vpmullw}) does 32
 * products per 512-bit instruction, and with rows in lanes its partial sums stay in registers for a
 * whole scale block; it measured 0.8 instructions per cycle beside its adds, twice the f32 FMA's
 * lane rate. The cost of working in 16 bits is the bound on a lane's sum, which the layout's
 * parities keep (see {@link Int8Weights}).
 *
 * <p>Without vector support (a JVM with {@code -XX:MaxVectorSize=16}, {@code -Dlockstep.scalar})
 * the specification itself runs, on the file's own blocks.
 */
public final class Int8Gemm {
    private Int8Gemm() {}

    /** Tokens a kernel call takes at most. */
    public static final int TOKENS = 4;

    /**
     * Ints of scratch a call needs: the four tokens' offsets, then their integer sums. The four-token
     * kernels hand their sums from registers to one loop over the tokens through it: written out four
     * times, that float work made the kernels too big for C2 to inline their helpers
     * ({@code NodeCountInliningCutoff} in {@code -XX:+PrintInlining}), which boxed every vector.
     */
    public static final int SCRATCH = 8 + 64;

    /**
     * Up to this many tokens, a group runs the one-token kernel per token instead of the four-token
     * kernel with repeated tokens: in cache (JMH, 2048 x 2048, 2 threads) one token took 88 us and
     * four 236, so two tokens cost 176 us one at a time against 236 padded to four; three, 264 against
     * 236. (A speculative verification of 1 + 5 tokens is one four and one two.)
     */
    static final int ONE_TOKEN_KERNELS_UP_TO = 2;

    /**
     * Rows {@code 16g .. 16g+15} of {@code m} (its {@link Matrix#int8() rearranged copy}) times tokens {@code t0 .. t0+nt-1} ({@code nt} from 1 to
     * {@link #TOKENS}) into {@code out[16 j + r]} for token {@code t0 + j} and row {@code 16g + r}
     * (rows past the matrix's end give values that mean nothing). {@code offsets}: {@link #SCRATCH}
     * ints of scratch.
     */
    public static void group(Matrix m, int g, Int8Activations a, int t0, int nt, float[] out, int[] offsets) {
        if (!Canonical.SIMD) {
            for (int r = 0; r < Int8Weights.GROUP && 16 * g + r < m.rows(); r++)
                for (int j = 0; j < nt; j++)
                    out[16 * j + r] = Int8Formats.dot(m.type(), m.data(), (16L * g + r) * m.rowBytes(), m.cols(), a, t0 + j);
            return;
        }
        Int8Weights w = m.int8();
        MemorySegment data = w.data();
        long off = w.groupOffset(g);
        int units = Int8Weights.units(w.type(), w.cols());
        int[] qp = a.pairs(), sm = a.sums();
        float[] da = a.scales();
        if (nt <= ONE_TOKEN_KERNELS_UP_TO) { // each token through the one-token kernel (same bits: both are the specification)
            for (int j = 0; j < nt; j++) {
                int po = a.pairsOffset(t0 + j), bo = a.blockOffset(t0 + j);
                if (Canonical.SIMD512) one512(w, data, off, units, qp, po, da, sm, bo, out, 16 * j);
                else for (int h = 0; h < 2; h++) one256(w, data, off, units, h, qp, po, da, sm, bo, out, 16 * j);
            }
            return;
        }
        for (int j = 0; j < TOKENS; j++) { // absent tokens repeat the last one; their outputs are not read
            int t = t0 + Math.min(j, nt - 1);
            offsets[j] = a.pairsOffset(t);
            offsets[TOKENS + j] = a.blockOffset(t);
        }
        if (Canonical.SIMD512) four512(w, data, off, units, qp, offsets, da, sm, out);
        else for (int h = 0; h < 2; h++) four256(w, data, off, units, h, qp, offsets, da, sm, out);
    }

    private static void one512(Int8Weights w, MemorySegment d, long off, int units, int[] qp, int po, float[] da, int[] sm, int bo, float[] out,
                               int oo) {
        switch (w.type()) {
            case Q4_0 -> Int8Kernels512.q4_0x1(d, off, units, qp, po, da, sm, bo, out, oo);
            case Q4_K -> Int8Kernels512.q4Kx1(d, off, units, qp, po, da, sm, bo, out, oo);
            case Q5_K -> Int8Kernels512.q5Kx1(d, off, units, qp, po, da, sm, bo, out, oo);
            case Q6_K -> Int8Kernels512.q6Kx1(d, off, units, qp, po, da, sm, bo, out, oo);
            default -> throw new IllegalStateException(w.type().toString());
        }
    }

    private static void one256(Int8Weights w, MemorySegment d, long off, int units, int h, int[] qp, int po, float[] da, int[] sm, int bo, float[] out,
                               int oo) {
        switch (w.type()) {
            case Q4_0 -> Int8Kernels256.q4_0x1(d, off, units, h, qp, po, da, sm, bo, out, oo + 8 * h);
            case Q4_K -> Int8Kernels256.q4Kx1(d, off, units, h, qp, po, da, sm, bo, out, oo + 8 * h);
            case Q5_K -> Int8Kernels256.q5Kx1(d, off, units, h, qp, po, da, sm, bo, out, oo + 8 * h);
            case Q6_K -> Int8Kernels256.q6Kx1(d, off, units, h, qp, po, da, sm, bo, out, oo + 8 * h);
            default -> throw new IllegalStateException(w.type().toString());
        }
    }

    private static void four512(Int8Weights w, MemorySegment d, long off, int units, int[] qp, int[] offsets, float[] da, int[] sm, float[] out) {
        switch (w.type()) {
            case Q4_0 -> Int8Kernels512.q4_0x4(d, off, units, qp, offsets, da, sm, out, 0);
            case Q4_K -> Int8Kernels512.q4Kx4(d, off, units, qp, offsets, da, sm, out, 0);
            case Q5_K -> Int8Kernels512.q5Kx4(d, off, units, qp, offsets, da, sm, out, 0);
            case Q6_K -> Int8Kernels512.q6Kx4(d, off, units, qp, offsets, da, sm, out, 0);
            default -> throw new IllegalStateException(w.type().toString());
        }
    }

    private static void four256(Int8Weights w, MemorySegment d, long off, int units, int h, int[] qp, int[] offsets, float[] da, int[] sm, float[] out) {
        switch (w.type()) {
            case Q4_0 -> Int8Kernels256.q4_0x4(d, off, units, h, qp, offsets, da, sm, out, 8 * h);
            case Q4_K -> Int8Kernels256.q4Kx4(d, off, units, h, qp, offsets, da, sm, out, 8 * h);
            case Q5_K -> Int8Kernels256.q5Kx4(d, off, units, h, qp, offsets, da, sm, out, 8 * h);
            case Q6_K -> Int8Kernels256.q6Kx4(d, off, units, h, qp, offsets, da, sm, out, 8 * h);
            default -> throw new IllegalStateException(w.type().toString());
        }
    }
}
