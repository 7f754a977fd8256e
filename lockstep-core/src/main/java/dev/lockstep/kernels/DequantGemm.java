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

import static dev.lockstep.kernels.Canonical.F512;

/**
 * The batched-decode product: two weight rows times up to eight tokens, the weights dequantized in
 * registers and used sixteen times (no f32 tile in memory). For a handful of tokens the tile path of
 * {@link MatMul} spends most of its time writing and re-reading the dequantized tile; here each block of
 * 32 weights is unpacked once per row and multiplied with all eight tokens while it sits in a register.
 *
 * <p>Each of the sixteen outputs is one canonical dot product (16 lanes, element k into lane k % 16 in
 * increasing k, exactly the reference weights), so the bits equal {@link Dot#row}'s.
 *
 * <p>The tokens' activations come packed in a panel, float {@code (k / 16) * 128 + t * 16 + k % 16}:
 * the eight vectors a block needs lie next to each other and are addressed from one base (with eight
 * separate token offsets, C2's code range-checked every load and kept the offsets on the stack). The
 * caller starts the panel on a cache line ({@link AlignedFloats}): misaligned, the kernel measured 40%
 * slower (11.2 vs 8.0 ns per block of two rows, same JVM, alternating).
 */
final class DequantGemm {
    private DequantGemm() {}

    /** Tokens per panel. */
    static final int TOKENS = 8;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Integer> I512 = IntVector.SPECIES_512;

    /** Whether there is a kernel for rows of {@code n} values of {@code type}. */
    static boolean supports(GgmlType type, int n) {
        return Canonical.SIMD512 && (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) && n % 32 == 0;
    }

    /** The floats of a panel for rows of {@code n} values. */
    static int panelSize(int n) {
        return n * TOKENS;
    }

    /**
     * Packs {@code count} (at most 8) tokens, {@code x[xOff + t*xStride ..+n)}, into the panel at
     * {@code panel[po..]}; the slots of absent tokens are zero (their results are dropped).
     */
    static void pack(float[] x, int xOff, int xStride, int count, int n, float[] panel, int po) {
        if (count < TOKENS) Arrays.fill(panel, po, po + panelSize(n), 0f);
        for (int t = 0; t < count; t++) {
            int src = xOff + t * xStride;
            for (int k = 0; k < n; k += 16) FloatVector.fromArray(F512, x, src + k).intoArray(panel, po + k * TOKENS + t * 16);
        }
    }

    /**
     * Rows at byte offsets {@code o0} and {@code o1} times the eight tokens of the panel at {@code panel[po..]}: the accumulators go
     * to {@code lanes[0..256)}, row {@code o0}'s token t at {@code 16 t}, row {@code o1}'s at
     * {@code 128 + 16 t}, ready for {@link Canonical#treeOf}.
     */
    static void run(GgmlType type, MemorySegment w, long o0, long o1, int n, float[] panel, int po, float[] lanes) {
        if (type == GgmlType.Q8_0) q8_0(w, o0, o1, n, panel, po, lanes);
        else q4_0(w, o0, o1, n, panel, po, lanes);
    }

    static void q8_0(MemorySegment w, long o0, long o1, int n, float[] panel, int po, float[] lanes) {
        FloatVector z = FloatVector.zero(F512);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector b0 = z, b1 = z, b2 = z, b3 = z, b4 = z, b5 = z, b6 = z, b7 = z;
        for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
            long p = o0 + 34L * blk, q = o1 + 34L * blk;
            float dp = Dequant.f16(w, p), dq = Dequant.f16(w, q);
            int x = po + 256 * blk;
            // first 16 weights of the block
            FloatVector wp = ((FloatVector) ByteVector.fromMemorySegment(B128, w, p + 2, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(dp);
            FloatVector wq = ((FloatVector) ByteVector.fromMemorySegment(B128, w, q + 2, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(dq);
            FloatVector u = FloatVector.fromArray(F512, panel, x);
            a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
            u = FloatVector.fromArray(F512, panel, x + 16); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
            u = FloatVector.fromArray(F512, panel, x + 32); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
            u = FloatVector.fromArray(F512, panel, x + 48); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
            u = FloatVector.fromArray(F512, panel, x + 64); a4 = wp.fma(u, a4); b4 = wq.fma(u, b4);
            u = FloatVector.fromArray(F512, panel, x + 80); a5 = wp.fma(u, a5); b5 = wq.fma(u, b5);
            u = FloatVector.fromArray(F512, panel, x + 96); a6 = wp.fma(u, a6); b6 = wq.fma(u, b6);
            u = FloatVector.fromArray(F512, panel, x + 112); a7 = wp.fma(u, a7); b7 = wq.fma(u, b7);
            // last 16
            wp = ((FloatVector) ByteVector.fromMemorySegment(B128, w, p + 18, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(dp);
            wq = ((FloatVector) ByteVector.fromMemorySegment(B128, w, q + 18, LE).convertShape(VectorOperators.B2F, F512, 0)).mul(dq);
            u = FloatVector.fromArray(F512, panel, x + 128); a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
            u = FloatVector.fromArray(F512, panel, x + 144); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
            u = FloatVector.fromArray(F512, panel, x + 160); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
            u = FloatVector.fromArray(F512, panel, x + 176); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
            u = FloatVector.fromArray(F512, panel, x + 192); a4 = wp.fma(u, a4); b4 = wq.fma(u, b4);
            u = FloatVector.fromArray(F512, panel, x + 208); a5 = wp.fma(u, a5); b5 = wq.fma(u, b5);
            u = FloatVector.fromArray(F512, panel, x + 224); a6 = wp.fma(u, a6); b6 = wq.fma(u, b6);
            u = FloatVector.fromArray(F512, panel, x + 240); a7 = wp.fma(u, a7); b7 = wq.fma(u, b7);
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, 16); a2.intoArray(lanes, 32); a3.intoArray(lanes, 48);
        a4.intoArray(lanes, 64); a5.intoArray(lanes, 80); a6.intoArray(lanes, 96); a7.intoArray(lanes, 112);
        b0.intoArray(lanes, 128); b1.intoArray(lanes, 144); b2.intoArray(lanes, 160); b3.intoArray(lanes, 176);
        b4.intoArray(lanes, 192); b5.intoArray(lanes, 208); b6.intoArray(lanes, 224); b7.intoArray(lanes, 240);
    }

    /** Q4_0 with the table lookup of {@link Dot#q4_0}: the block's 16 weights, one permute per 16 nibbles. */
    static void q4_0(MemorySegment w, long o0, long o1, int n, float[] panel, int po, float[] lanes) {
        FloatVector z = FloatVector.zero(F512);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector b0 = z, b1 = z, b2 = z, b3 = z, b4 = z, b5 = z, b6 = z, b7 = z;
        for (int blk = 0, blocks = n / 32; blk < blocks; blk++) {
            long p = o0 + 18L * blk, q = o1 + 18L * blk;
            IntVector tp = Dot.Q4_0_LEVELS.mul(Dequant.f16(w, p)).reinterpretAsInts();
            IntVector tq = Dot.Q4_0_LEVELS.mul(Dequant.f16(w, q)).reinterpretAsInts();
            IntVector np = (IntVector) ByteVector.fromMemorySegment(B128, w, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
            IntVector nq = (IntVector) ByteVector.fromMemorySegment(B128, w, q + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
            int x = po + 256 * blk;
            // low nibbles: the first 16 weights
            FloatVector wp = np.selectFrom(tp, tp).reinterpretAsFloats(), wq = nq.selectFrom(tq, tq).reinterpretAsFloats();
            FloatVector u = FloatVector.fromArray(F512, panel, x);
            a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
            u = FloatVector.fromArray(F512, panel, x + 16); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
            u = FloatVector.fromArray(F512, panel, x + 32); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
            u = FloatVector.fromArray(F512, panel, x + 48); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
            u = FloatVector.fromArray(F512, panel, x + 64); a4 = wp.fma(u, a4); b4 = wq.fma(u, b4);
            u = FloatVector.fromArray(F512, panel, x + 80); a5 = wp.fma(u, a5); b5 = wq.fma(u, b5);
            u = FloatVector.fromArray(F512, panel, x + 96); a6 = wp.fma(u, a6); b6 = wq.fma(u, b6);
            u = FloatVector.fromArray(F512, panel, x + 112); a7 = wp.fma(u, a7); b7 = wq.fma(u, b7);
            // high nibbles: the last 16
            wp = np.lanewise(VectorOperators.LSHR, 4).selectFrom(tp, tp).reinterpretAsFloats();
            wq = nq.lanewise(VectorOperators.LSHR, 4).selectFrom(tq, tq).reinterpretAsFloats();
            u = FloatVector.fromArray(F512, panel, x + 128); a0 = wp.fma(u, a0); b0 = wq.fma(u, b0);
            u = FloatVector.fromArray(F512, panel, x + 144); a1 = wp.fma(u, a1); b1 = wq.fma(u, b1);
            u = FloatVector.fromArray(F512, panel, x + 160); a2 = wp.fma(u, a2); b2 = wq.fma(u, b2);
            u = FloatVector.fromArray(F512, panel, x + 176); a3 = wp.fma(u, a3); b3 = wq.fma(u, b3);
            u = FloatVector.fromArray(F512, panel, x + 192); a4 = wp.fma(u, a4); b4 = wq.fma(u, b4);
            u = FloatVector.fromArray(F512, panel, x + 208); a5 = wp.fma(u, a5); b5 = wq.fma(u, b5);
            u = FloatVector.fromArray(F512, panel, x + 224); a6 = wp.fma(u, a6); b6 = wq.fma(u, b6);
            u = FloatVector.fromArray(F512, panel, x + 240); a7 = wp.fma(u, a7); b7 = wq.fma(u, b7);
        }
        a0.intoArray(lanes, 0); a1.intoArray(lanes, 16); a2.intoArray(lanes, 32); a3.intoArray(lanes, 48);
        a4.intoArray(lanes, 64); a5.intoArray(lanes, 80); a6.intoArray(lanes, 96); a7.intoArray(lanes, 112);
        b0.intoArray(lanes, 128); b1.intoArray(lanes, 144); b2.intoArray(lanes, 160); b3.intoArray(lanes, 176);
        b4.intoArray(lanes, 192); b5.intoArray(lanes, 208); b6.intoArray(lanes, 224); b7.intoArray(lanes, 240);
    }
}
