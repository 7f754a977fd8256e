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
 * <p>The tokens come packed in a panel, in the order the passes read them: float
 * {@code h * 2n + (k / 32) * 64 + ((k / 16) % 2) * 32 + t * 8 + k % 8} holds value k of token t,
 * where {@code h = (k / 8) % 2} is the pass.
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

    /** The floats of a panel for rows of {@code n} values. */
    static int panelSize(int n) {
        return n * TOKENS;
    }

    /**
     * Packs {@code count} (at most 4) tokens, {@code x[xOff + t*xStride ..+n)}, into the panel at
     * {@code panel[po..]}; the slots of absent tokens are zero (their results are dropped).
     */
    static void pack(float[] x, int xOff, int xStride, int count, int n, float[] panel, int po) {
        if (count < TOKENS) Arrays.fill(panel, po, po + panelSize(n), 0f);
        for (int t = 0; t < count; t++) {
            int src = xOff + t * xStride;
            for (int k = 0; k < n; k += 8) {
                int h = (k / 8) % 2, dst = po + h * 2 * n + (k / 32) * 64 + ((k / 16) % 2) * 32 + t * 8;
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
}
