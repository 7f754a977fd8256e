package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import static dev.lockstep.kernels.Canonical.F256;

/**
 * {@link DequantGemm} for 256-bit vectors (AVX2): two weight rows times four tokens, each 8-weight
 * quarter of a block dequantized once in a register and multiplied with the four tokens. With the
 * tile path, a batch of a few sequences paid for writing every weight to an f32 tile, reading it back
 * and waiting for memory before any arithmetic; here the weights stream in while the FMAs run.
 *
 * <p>The 16 canonical lanes of an output take two passes, as in {@link Gemm#kernel3x3x256}: the
 * first over the lanes-0-7 quarters of every block (quarters 0 and 2), the second over quarters 1
 * and 3; 8 accumulators, 2 weights and 1 activation fit the 16 registers. Every output is one
 * canonical dot product of the reference weights, so the bits equal {@link Dot#row}'s.
 *
 * <p>The tokens come packed in a panel, in the order the passes read them ({@link #pack}; four tokens
 * for these kernels, eight for the one-row kernels {@link #run8}).
 */
final class DequantGemm256 {
    private DequantGemm256() {}

    /** Tokens per panel. */
    static final int TOKENS = 4;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I256 = IntVector.SPECIES_256;

    /** Whether there is a kernel for rows of {@code n} values of {@code type}. */
    static boolean supports(GgmlType type, int n) {
        return Canonical.SIMD256 && (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) && n % 32 == 0;
    }

    /** The floats of a panel of {@code panelTokens} ({@link #TOKENS} or {@link #WIDE_TOKENS}) for rows of {@code n} values. */
    static int panelSize(int panelTokens, int n) {
        return n * panelTokens;
    }

    /**
     * Packs {@code count} (at most {@code panelTokens}, which is {@link #TOKENS} for {@link #run} or
     * {@link #WIDE_TOKENS} for {@link #run8}) tokens, {@code x[xOff + t*xStride ..+n)}, into the panel at
     * {@code panel[po..]}: float {@code h * (panelTokens / 2) n + (k / 32) 16 panelTokens + ((k / 16) % 2)
     * 8 panelTokens + t * 8 + k % 8} holds value k of token t, {@code h = (k / 8) % 2} being the pass.
     * The slots of absent tokens are zero (their results are dropped).
     */
    static void pack(int panelTokens, float[] x, int xOff, int xStride, int count, int n, float[] panel, int po) {
        if (count < panelTokens) Arrays.fill(panel, po, po + panelSize(panelTokens, n), 0f);
        for (int t = 0; t < count; t++) {
            int src = xOff + t * xStride;
            for (int k = 0; k < n; k += 8) {
                int h = (k / 8) % 2;
                int dst = po + h * (panelTokens / 2) * n + (k / 32) * 16 * panelTokens + ((k / 16) % 2) * 8 * panelTokens + t * 8;
                FloatVector.fromArray(F256, x, src + k).intoArray(panel, dst);
            }
        }
    }

    /**
     * Rows at byte offsets {@code o0} and {@code o1} times the four tokens of the panel at
     * {@code panel[po..]}: row {@code o0}'s token t lands at {@code lanes[16 t ..+16)}, row
     * {@code o1}'s at {@code lanes[64 + 16 t ..+16)}, ready for {@link Canonical#treeOf}.
     */
    static void run(GgmlType type, MemorySegment w, long o0, long o1, int n, float[] panel, int po, float[] lanes) {
        if (type == GgmlType.Q8_0) q8_0(w, o0, o1, n, panel, po, lanes);
        else q4_0(w, o0, o1, n, panel, po, lanes);
    }

    static void q8_0(MemorySegment w, long o0, long o1, int n, float[] panel, int po, float[] lanes) {
        for (int h = 0; h < 2; h++) {
            FloatVector z = FloatVector.zero(F256);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
            for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
                long p = o0 + 34L * blk, q = o1 + 34L * blk;
                float dp = Dequant.f16(w, p), dq = Dequant.f16(w, q);
                int x = po + h * 2 * n + 64 * blk;
                // quarter h: values 8h .. 8h+8 of the block
                FloatVector wp = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 2 + 8 * h, LE)
                        .convertShape(VectorOperators.B2F, F256, 0)).mul(dp);
                FloatVector wq = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 2 + 8 * h, LE)
                        .convertShape(VectorOperators.B2F, F256, 0)).mul(dq);
                FloatVector u = FloatVector.fromArray(F256, panel, x);
                a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
                u = FloatVector.fromArray(F256, panel, x + 8); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
                u = FloatVector.fromArray(F256, panel, x + 16); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
                u = FloatVector.fromArray(F256, panel, x + 24); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
                // quarter h + 2: values 16 + 8h .. 16 + 8h + 8
                wp = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 18 + 8 * h, LE)
                        .convertShape(VectorOperators.B2F, F256, 0)).mul(dp);
                wq = ((FloatVector) ByteVector.fromMemorySegment(B64, w, q + 18 + 8 * h, LE)
                        .convertShape(VectorOperators.B2F, F256, 0)).mul(dq);
                u = FloatVector.fromArray(F256, panel, x + 32); a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
                u = FloatVector.fromArray(F256, panel, x + 40); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
                u = FloatVector.fromArray(F256, panel, x + 48); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
                u = FloatVector.fromArray(F256, panel, x + 56); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
            }
            int o = 8 * h;
            a0.intoArray(lanes, o); a1.intoArray(lanes, 16 + o); a2.intoArray(lanes, 32 + o); a3.intoArray(lanes, 48 + o);
            b0.intoArray(lanes, 64 + o); b1.intoArray(lanes, 80 + o); b2.intoArray(lanes, 96 + o); b3.intoArray(lanes, 112 + o);
        }
    }

    /** Q4_0: pass h reads bytes 8h .. 8h+8 of the block's nibbles; low nibbles are quarter h, high ones quarter h + 2. */
    static void q4_0(MemorySegment w, long o0, long o1, int n, float[] panel, int po, float[] lanes) {
        for (int h = 0; h < 2; h++) {
            FloatVector z = FloatVector.zero(F256);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
            for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
                long p = o0 + 18L * blk, q = o1 + 18L * blk;
                float dp = Dequant.f16(w, p), dq = Dequant.f16(w, q);
                int x = po + h * 2 * n + 64 * blk;
                IntVector np = (IntVector) ByteVector.fromMemorySegment(B64, w, p + 2 + 8 * h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
                IntVector nq = (IntVector) ByteVector.fromMemorySegment(B64, w, q + 2 + 8 * h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
                FloatVector wp = ((FloatVector) np.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(dp);
                FloatVector wq = ((FloatVector) nq.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(dq);
                FloatVector u = FloatVector.fromArray(F256, panel, x);
                a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
                u = FloatVector.fromArray(F256, panel, x + 8); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
                u = FloatVector.fromArray(F256, panel, x + 16); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
                u = FloatVector.fromArray(F256, panel, x + 24); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
                wp = ((FloatVector) np.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(dp);
                wq = ((FloatVector) nq.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(dq);
                u = FloatVector.fromArray(F256, panel, x + 32); a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
                u = FloatVector.fromArray(F256, panel, x + 40); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
                u = FloatVector.fromArray(F256, panel, x + 48); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
                u = FloatVector.fromArray(F256, panel, x + 56); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
            }
            int o = 8 * h;
            a0.intoArray(lanes, o); a1.intoArray(lanes, 16 + o); a2.intoArray(lanes, 32 + o); a3.intoArray(lanes, 48 + o);
            b0.intoArray(lanes, 64 + o); b1.intoArray(lanes, 80 + o); b2.intoArray(lanes, 96 + o); b3.intoArray(lanes, 112 + o);
        }
    }

    // ------------------------------------------------------------------ one row times eight tokens

    /** Tokens per panel of the one-row kernels ({@link #run8}). */
    static final int WIDE_TOKENS = 8;

    /**
     * The row at byte offset {@code o} times the eight tokens of the panel at {@code panel[po..]}:
     * token t's 16 lanes land at {@code lanes[16 t ..+16)}. From five tokens on this beats
     * {@link #run}: each weight quarter is dequantized once for eight tokens instead of once per four,
     * and each activation load feeds one FMA directly (eight accumulators, one weight register).
     * Measured on a 16384 x 2048 Q8_0 matrix, 8 tokens, 2 threads: 15-25 ms against 20-35 ms for
     * two four-token groups (alternating runs of a throwaway harness).
     */
    static void run8(GgmlType type, MemorySegment w, long o, int n, float[] panel, int po, float[] lanes) {
        if (type == GgmlType.Q8_0) q8_0x8(w, o, n, panel, po, lanes);
        else q4_0x8(w, o, n, panel, po, lanes);
    }

    static void q8_0x8(MemorySegment w, long o, int n, float[] panel, int po, float[] lanes) {
        for (int h = 0; h < 2; h++) {
            FloatVector z = FloatVector.zero(F256);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
            for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
                long p = o + 34L * blk;
                float d = Dequant.f16(w, p);
                int x = po + h * 4 * n + 128 * blk;
                FloatVector wv = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 2 + 8 * h, LE)
                        .convertShape(VectorOperators.B2F, F256, 0)).mul(d);
                a0 = wv.fma(FloatVector.fromArray(F256, panel, x), a0);
                a1 = wv.fma(FloatVector.fromArray(F256, panel, x + 8), a1);
                a2 = wv.fma(FloatVector.fromArray(F256, panel, x + 16), a2);
                a3 = wv.fma(FloatVector.fromArray(F256, panel, x + 24), a3);
                a4 = wv.fma(FloatVector.fromArray(F256, panel, x + 32), a4);
                a5 = wv.fma(FloatVector.fromArray(F256, panel, x + 40), a5);
                a6 = wv.fma(FloatVector.fromArray(F256, panel, x + 48), a6);
                a7 = wv.fma(FloatVector.fromArray(F256, panel, x + 56), a7);
                wv = ((FloatVector) ByteVector.fromMemorySegment(B64, w, p + 18 + 8 * h, LE)
                        .convertShape(VectorOperators.B2F, F256, 0)).mul(d);
                a0 = wv.fma(FloatVector.fromArray(F256, panel, x + 64), a0);
                a1 = wv.fma(FloatVector.fromArray(F256, panel, x + 72), a1);
                a2 = wv.fma(FloatVector.fromArray(F256, panel, x + 80), a2);
                a3 = wv.fma(FloatVector.fromArray(F256, panel, x + 88), a3);
                a4 = wv.fma(FloatVector.fromArray(F256, panel, x + 96), a4);
                a5 = wv.fma(FloatVector.fromArray(F256, panel, x + 104), a5);
                a6 = wv.fma(FloatVector.fromArray(F256, panel, x + 112), a6);
                a7 = wv.fma(FloatVector.fromArray(F256, panel, x + 120), a7);
            }
            int of = 8 * h;
            a0.intoArray(lanes, of); a1.intoArray(lanes, 16 + of); a2.intoArray(lanes, 32 + of); a3.intoArray(lanes, 48 + of);
            a4.intoArray(lanes, 64 + of); a5.intoArray(lanes, 80 + of); a6.intoArray(lanes, 96 + of); a7.intoArray(lanes, 112 + of);
        }
    }

    /** Q4_0: pass h reads bytes 8h .. 8h+8 of the block; low nibbles are quarter h, high ones quarter h + 2. */
    static void q4_0x8(MemorySegment w, long o, int n, float[] panel, int po, float[] lanes) {
        for (int h = 0; h < 2; h++) {
            FloatVector z = FloatVector.zero(F256);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
            for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
                long p = o + 18L * blk;
                float d = Dequant.f16(w, p);
                int x = po + h * 4 * n + 128 * blk;
                IntVector nib = (IntVector) ByteVector.fromMemorySegment(B64, w, p + 2 + 8 * h, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
                FloatVector wv = ((FloatVector) nib.and(15).sub(8).convert(VectorOperators.I2F, 0)).mul(d);
                a0 = wv.fma(FloatVector.fromArray(F256, panel, x), a0);
                a1 = wv.fma(FloatVector.fromArray(F256, panel, x + 8), a1);
                a2 = wv.fma(FloatVector.fromArray(F256, panel, x + 16), a2);
                a3 = wv.fma(FloatVector.fromArray(F256, panel, x + 24), a3);
                a4 = wv.fma(FloatVector.fromArray(F256, panel, x + 32), a4);
                a5 = wv.fma(FloatVector.fromArray(F256, panel, x + 40), a5);
                a6 = wv.fma(FloatVector.fromArray(F256, panel, x + 48), a6);
                a7 = wv.fma(FloatVector.fromArray(F256, panel, x + 56), a7);
                wv = ((FloatVector) nib.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d);
                a0 = wv.fma(FloatVector.fromArray(F256, panel, x + 64), a0);
                a1 = wv.fma(FloatVector.fromArray(F256, panel, x + 72), a1);
                a2 = wv.fma(FloatVector.fromArray(F256, panel, x + 80), a2);
                a3 = wv.fma(FloatVector.fromArray(F256, panel, x + 88), a3);
                a4 = wv.fma(FloatVector.fromArray(F256, panel, x + 96), a4);
                a5 = wv.fma(FloatVector.fromArray(F256, panel, x + 104), a5);
                a6 = wv.fma(FloatVector.fromArray(F256, panel, x + 112), a6);
                a7 = wv.fma(FloatVector.fromArray(F256, panel, x + 120), a7);
            }
            int of = 8 * h;
            a0.intoArray(lanes, of); a1.intoArray(lanes, 16 + of); a2.intoArray(lanes, 32 + of); a3.intoArray(lanes, 48 + of);
            a4.intoArray(lanes, 64 + of); a5.intoArray(lanes, 80 + of); a6.intoArray(lanes, 96 + of); a7.intoArray(lanes, 112 + of);
        }
    }
}
