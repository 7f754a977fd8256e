package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static dev.lockstep.kernels.Canonical.F256;

/**
 * The INT8-activation dot product ("W8A8"/"W4A8"): a Q8_0 or Q4_0 weight row times activations
 * quantized per block of 32 ({@link Int8Activations}), integer products, f32 accumulation. It is the
 * engine's opt-in {@code --activations int8} mode; the default multiplies exactly dequantized weights
 * with f32 activations ({@link Dot}).
 *
 * <p><b>The canonical order</b> (what every kernel computes, bit for bit). Per block b, with integer
 * weights {@code w} (Q8_0: the bytes; Q4_0: nibble - 8) and integer activations {@code a}, eight exact
 * integer sums {@code s_j = w[2j]a[2j] + w[2j+1]a[2j+1] + w[2j+16]a[2j+16] + w[2j+17]a[2j+17]}
 * (|s_j| <= 4 * 127 * 127, exact in an f32 too, so their order is free). Block b's scale is
 * {@code c_b = d_w * d_a} (one f32 product). Lane {@code L = 8 (b % 2) + j} of 16 accumulates
 * {@code acc[L] = fma(s_j, c_b, acc[L])} over the blocks in order, and the canonical halving tree
 * ({@link Canonical#treeOf}) sums the 16 lanes. The grouping (2j, 2j+1, 2j+16, 2j+17) is what the
 * 256-bit kernel gets cheaply: 16-bit products of the two halves of a block added lane-wise (at most
 * 2 * 127 * 127, no overflow), then each 32-bit lane's two 16-bit halves added by shifts. The Vector
 * API has no integer dot-product instruction ({@code vpmaddwd}), so this is the shortest sequence
 * found; a mod-8 grouping through {@code convertShape(S2I, part 1)} measured slower.
 *
 * <p>Every kernel uses 256-bit vectors, also on AVX-512 machines (the bits are those of the
 * specification either way); without vectors the scalar specification runs.
 *
 * <p><b>Rows as slices.</b> Each kernel reads its two rows through slices of one row's length
 * ({@code w.asSlice(o0, bytes)}) at offsets from 0. The two slices have the same length, so C2 checks
 * a load's bounds once for both rows and computes one offset for both (the Q8_0 loop kept 11 bounds
 * checks per iteration before, 6 after, in the disassembly). A throwaway harness (row pairs of 2048
 * values, medians of 10 runs, G weights/s): Q8_0 7.27 to 8.62 on one thread from L2, 10.76 to 11.33 on
 * two from memory; Q4_0 6.96 to 8.23 and 13.47 to 14.93. End to end, {@code bench --pp 512 --tg 64
 * --concurrency 1,8 --reps 2 --no-peaks --activations int8}, two alternating rounds (tok/s, before and
 * after): Q4_0 pp512 17.41 / 16.96 to 20.23 / 20.78, tg64 10.70 / 10.51 to 12.46 / 11.02, 8 sequences
 * 13.01 / 13.23 to 15.02 / 14.65; Q8_0 8 sequences 14.81 / 14.99 to 16.26 / 15.97, its one-sequence
 * decoding unchanged (9.91 / 9.14 against 9.81 / 9.31). The slices cost nothing only when C2
 * scalar-replaces them, which needs the inlining command of {@link JitLimits}. The same change to the
 * f32 row kernels ({@link Dot256}) measured slower end to end ({@code bench --pp 0 --tg 64
 * --concurrency 1 --reps 2 --no-peaks}, two alternating rounds: Q8_0 6.37 / 6.08 to 6.24 / 5.40, Q4_0
 * 7.45 / 7.64 to 7.06 / 6.79), so they keep their form.
 */
public final class Int8Dot {
    private Int8Dot() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;

    /** Weight types with an INT8-activation kernel. */
    public static boolean supports(GgmlType type, int n) {
        return (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) && n % Int8Activations.BLOCK == 0;
    }

    private static int blockBytes(GgmlType type) {
        return type == GgmlType.Q8_0 ? 34 : 18;
    }

    /**
     * Rows at byte offsets {@code o0} and {@code o1} (the same row twice is allowed) times token
     * {@code t} of the quantized activations {@code a}; results to {@code out[oa]} and {@code out[ob]}.
     * {@code lanes}: 32 floats of scratch.
     */
    public static void rows2(GgmlType type, MemorySegment w, long o0, long o1, int n, Int8Activations a, int t,
                             float[] out, int oa, int ob, float[] lanes) {
        short[] q = a.values();
        float[] d = a.scales();
        int qo = a.valuesOffset(t), dOff = a.scalesOffset(t);
        if (!Canonical.SIMD) {
            out[oa] = rowScalar(type, w, o0, n, q, qo, d, dOff);
            out[ob] = rowScalar(type, w, o1, n, q, qo, d, dOff);
        } else if (type == GgmlType.Q8_0) {
            q8_0x2(w, o0, o1, n, q, qo, d, dOff, out, oa, ob, lanes);
        } else {
            q4_0x2(w, o0, o1, n, q, qo, a.corrections(), a.correctionsOffset(t), d, dOff, out, oa, ob, lanes);
        }
    }

    // ------------------------------------------------------------------ the specification

    /** The canonical order of the class comment, one value at a time (the reference for every kernel). */
    public static float rowScalar(GgmlType type, MemorySegment w, long off, int n, short[] q, int qo, float[] d, int dOff) {
        float[] acc = new float[Canonical.LANES];
        int bb = blockBytes(type);
        for (int b = 0; b < n / 32; b++) block(type, w, off + (long) bb * b, q, qo + 32 * b, d[dOff + b], acc, 8 * (b % 2));
        return Canonical.tree(acc);
    }

    /**
     * One block of the specification: the block at byte {@code p} times activations {@code q[a..a+32)}
     * with scale {@code da}, into the eight lanes at {@code acc[lo..lo+8)}. The vector kernels call it
     * for the last block of an odd block count (lanes 0-7 of their stored accumulators).
     */
    private static void block(GgmlType type, MemorySegment w, long p, short[] q, int a, float da, float[] acc, int lo) {
        float c = Dequant.f16(w, p) * da;
        for (int j = 0; j < 8; j++) {
            int s = weight(type, w, p, 2 * j) * q[a + 2 * j] + weight(type, w, p, 2 * j + 1) * q[a + 2 * j + 1]
                    + weight(type, w, p, 2 * j + 16) * q[a + 2 * j + 16] + weight(type, w, p, 2 * j + 17) * q[a + 2 * j + 17];
            acc[lo + j] = Math.fma((float) s, c, acc[lo + j]);
        }
    }

    /** Integer weight e (0-31) of the block at byte {@code p}: Q8_0's byte, or Q4_0's nibble - 8. */
    private static int weight(GgmlType type, MemorySegment w, long p, int e) {
        if (type == GgmlType.Q8_0) return w.get(ValueLayout.JAVA_BYTE, p + 2 + e);
        int v = w.get(ValueLayout.JAVA_BYTE, p + 2 + e % 16) & 0xFF;
        return (e < 16 ? v & 15 : v >>> 4) - 8;
    }

    // ------------------------------------------------------------------ 256-bit kernels

    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /*
     * Both kernels are written out in full, even and odd block side by side (C2 boxes a vector that
     * crosses a call it does not inline; see Dot). Per block and row: the block's 16-bit products,
     * paired into eight 32-bit sums, converted once, one FMA with the block's scale. They read a
     * block's f16 scale in place: Dequant.f16 there was left a call (NodeCountInliningCutoff), which
     * spilled every vector around it; that, and the odd-block tail written out as vectors, made the
     * kernel slower than the f32 one. The tail is the specification's own block step. The loops run
     * {@code b < even}, not {@code b + 2 <= blocks}: only the first form is a counted loop to C2, which
     * then drops the activation arrays' bounds checks (seen in the compiled code; Q4_0 row pairs over a
     * 37 MB matrix 10-14% faster, in a throwaway harness).
     */

    static void q8_0x2(MemorySegment w, long o0, long o1, int n, short[] q, int qo, float[] d, int dOff,
                       float[] out, int oa, int ob, float[] lanes) {
        MemorySegment row0 = w.asSlice(o0, 34L * (n / 32)), row1 = w.asSlice(o1, 34L * (n / 32)); // "Rows as slices", in the class comment
        FloatVector e0 = FloatVector.zero(F256), f0 = e0, e1 = e0, f1 = e0; // even / odd blocks of rows 0 and 1
        int blocks = n / 32, even = blocks & ~1;
        for (int b = 0; b < even; b += 2) {
            long p = 34L * b; // the block's byte offset in both rows
            int k = qo + 32 * b;
            float da = d[dOff + b], db = d[dOff + b + 1];
            ShortVector a0 = ShortVector.fromArray(S256, q, k), a1 = ShortVector.fromArray(S256, q, k + 16);
            ShortVector sp = ((ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a1));
            ShortVector sr = ((ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a1));
            IntVector ip = sp.reinterpretAsInts(), ir = sr.reinterpretAsInts();
            ip = ip.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ip.lanewise(VectorOperators.ASHR, 16));
            ir = ir.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ir.lanewise(VectorOperators.ASHR, 16));
            e0 = ((FloatVector) ip.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row0.get(F16, p)) * da), e0);
            e1 = ((FloatVector) ir.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row1.get(F16, p)) * da), e1);

            p += 34;
            a0 = ShortVector.fromArray(S256, q, k + 32);
            a1 = ShortVector.fromArray(S256, q, k + 48);
            sp = ((ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a1));
            sr = ((ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(a1));
            ip = sp.reinterpretAsInts();
            ir = sr.reinterpretAsInts();
            ip = ip.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ip.lanewise(VectorOperators.ASHR, 16));
            ir = ir.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ir.lanewise(VectorOperators.ASHR, 16));
            f0 = ((FloatVector) ip.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row0.get(F16, p)) * db), f0);
            f1 = ((FloatVector) ir.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row1.get(F16, p)) * db), f1);
        }
        e0.intoArray(lanes, 0);
        f0.intoArray(lanes, 8);
        e1.intoArray(lanes, 16);
        f1.intoArray(lanes, 24);
        if (even < blocks) { // an odd block count: the last block is even (lanes 0-7), done one lane at a time
            block(GgmlType.Q8_0, w, o0 + 34L * even, q, qo + 32 * even, d[dOff + even], lanes, 0);
            block(GgmlType.Q8_0, w, o1 + 34L * even, q, qo + 32 * even, d[dOff + even], lanes, 16);
        }
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    /**
     * Q4_0: the block's 16 bytes, zero-extended to 16 bits, give nibble i as {@code v & 15} and nibble
     * i + 16 as {@code v >>> 4}, in the lanes the Q8_0 kernel has its values. The nibbles are multiplied
     * as they are and the block's corrections ({@link Int8Activations}: 8 times the activations the -8
     * would have met) subtracted once, which gives the same exact integers as {@code (nibble - 8) q}.
     * Those sums are small (a lane pair at most 4 * 8 * 127), so two 16-bit halves are paired by
     * {@code (x + (x << 16)) >> 16}, one operation fewer than the Q8_0 kernel needs.
     *
     * <p>The high nibbles come from a shift of the 32-bit lanes and a mask, {@code ((v as ints) >>> 4) & 15}
     * per 16-bit lane (the bits a lane gets from its neighbour are masked off): C2 compiles a constant
     * shift of a {@code ShortVector} as a shift by a register it loads each time (three instructions),
     * of an {@code IntVector} as one with an immediate. Measured in a throwaway harness (Q4_0 row pairs,
     * 8192 x 2048, 2 threads, two runs): 14.37 / 15.67 against 13.78 / 14.14 G weights/s.
     */
    static void q4_0x2(MemorySegment w, long o0, long o1, int n, short[] q, int qo, short[] c, int co, float[] d, int dOff,
                       float[] out, int oa, int ob, float[] lanes) {
        MemorySegment row0 = w.asSlice(o0, 18L * (n / 32)), row1 = w.asSlice(o1, 18L * (n / 32)); // "Rows as slices", in the class comment
        FloatVector e0 = FloatVector.zero(F256), f0 = e0, e1 = e0, f1 = e0;
        int blocks = n / 32, even = blocks & ~1;
        for (int b = 0; b < even; b += 2) {
            long p = 18L * b; // the block's byte offset in both rows
            int k = qo + 32 * b, kc = co + 16 * b;
            float da = d[dOff + b], db = d[dOff + b + 1];
            ShortVector a0 = ShortVector.fromArray(S256, q, k), a1 = ShortVector.fromArray(S256, q, k + 16);
            ShortVector cc = ShortVector.fromArray(S256, c, kc);
            ShortVector vp = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector vr = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector sp = vp.and((short) 15).mul(a0).add(vp.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15).mul(a1)).sub(cc);
            ShortVector sr = vr.and((short) 15).mul(a0).add(vr.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15).mul(a1)).sub(cc);
            IntVector ip = sp.reinterpretAsInts(), ir = sr.reinterpretAsInts();
            ip = ip.add(ip.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            ir = ir.add(ir.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            e0 = ((FloatVector) ip.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row0.get(F16, p)) * da), e0);
            e1 = ((FloatVector) ir.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row1.get(F16, p)) * da), e1);

            p += 18;
            a0 = ShortVector.fromArray(S256, q, k + 32);
            a1 = ShortVector.fromArray(S256, q, k + 48);
            cc = ShortVector.fromArray(S256, c, kc + 16);
            vp = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            vr = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            sp = vp.and((short) 15).mul(a0).add(vp.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15).mul(a1)).sub(cc);
            sr = vr.and((short) 15).mul(a0).add(vr.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15).mul(a1)).sub(cc);
            ip = sp.reinterpretAsInts();
            ir = sr.reinterpretAsInts();
            ip = ip.add(ip.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            ir = ir.add(ir.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            f0 = ((FloatVector) ip.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row0.get(F16, p)) * db), f0);
            f1 = ((FloatVector) ir.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(row1.get(F16, p)) * db), f1);
        }
        e0.intoArray(lanes, 0);
        f0.intoArray(lanes, 8);
        e1.intoArray(lanes, 16);
        f1.intoArray(lanes, 24);
        if (even < blocks) { // an odd block count: the last block is even (lanes 0-7), done one lane at a time
            block(GgmlType.Q4_0, w, o0 + 18L * even, q, qo + 32 * even, d[dOff + even], lanes, 0);
            block(GgmlType.Q4_0, w, o1 + 18L * even, q, qo + 32 * even, d[dOff + even], lanes, 16);
        }
        out[oa] = Canonical.treeOf(lanes, 0);
        out[ob] = Canonical.treeOf(lanes, 16);
    }

    // ------------------------------------------------------------------ two rows times two tokens

    /**
     * Rows at byte offsets {@code o0} and {@code o1} times tokens {@code ta} and {@code tb} of
     * {@code a}: each block's weights are widened once and meet both tokens (two calls of {@link #rows2}
     * widened them twice). Results: row 0 token a, row 0 token b, row 1 token a, row 1 token b into
     * {@code out[oa0]}, {@code out[ob0]}, {@code out[oa1]}, {@code out[ob1]}. Every output has the
     * bits of {@link #rowScalar}. {@code lanes}: 64 floats of scratch.
     */
    public static void rows2tokens2(GgmlType type, MemorySegment w, long o0, long o1, int n, Int8Activations a, int ta, int tb,
                                    float[] out, int oa0, int ob0, int oa1, int ob1, float[] lanes) {
        short[] q = a.values();
        float[] d = a.scales();
        int qa = a.valuesOffset(ta), qb = a.valuesOffset(tb), da = a.scalesOffset(ta), db = a.scalesOffset(tb);
        if (!Canonical.SIMD) {
            out[oa0] = rowScalar(type, w, o0, n, q, qa, d, da);
            out[ob0] = rowScalar(type, w, o0, n, q, qb, d, db);
            out[oa1] = rowScalar(type, w, o1, n, q, qa, d, da);
            out[ob1] = rowScalar(type, w, o1, n, q, qb, d, db);
            return;
        }
        if (type == GgmlType.Q8_0) q8_0x2t2(w, o0, o1, n, q, qa, qb, d, da, db, lanes);
        else q4_0x2t2(w, o0, o1, n, q, qa, qb, a.corrections(), a.correctionsOffset(ta), a.correctionsOffset(tb), d, da, db, lanes);
        int even = (n / 32) & ~1, bb = blockBytes(type);
        if (even < n / 32) { // an odd block count: the last block is even (lanes 0-7), done one lane at a time
            block(type, w, o0 + (long) bb * even, q, qa + 32 * even, d[da + even], lanes, 0);
            block(type, w, o0 + (long) bb * even, q, qb + 32 * even, d[db + even], lanes, 16);
            block(type, w, o1 + (long) bb * even, q, qa + 32 * even, d[da + even], lanes, 32);
            block(type, w, o1 + (long) bb * even, q, qb + 32 * even, d[db + even], lanes, 48);
        }
        out[oa0] = Canonical.treeOf(lanes, 0);
        out[ob0] = Canonical.treeOf(lanes, 16);
        out[oa1] = Canonical.treeOf(lanes, 32);
        out[ob1] = Canonical.treeOf(lanes, 48);
    }

    /** Accumulators stored as rows2tokens2 reads them: (row 0, a), (row 0, b), (row 1, a), (row 1, b); even blocks lanes 0-7, odd 8-15. */
    static void q8_0x2t2(MemorySegment w, long o0, long o1, int n, short[] q, int qa, int qb, float[] d, int dA, int dB, float[] lanes) {
        MemorySegment row0 = w.asSlice(o0, 34L * (n / 32)), row1 = w.asSlice(o1, 34L * (n / 32)); // "Rows as slices", in the class comment
        FloatVector z = FloatVector.zero(F256);
        FloatVector e0a = z, e0b = z, e1a = z, e1b = z, f0a = z, f0b = z, f1a = z, f1b = z; // even / odd blocks, row, token
        int even = (n / 32) & ~1;
        for (int b = 0; b < even; b += 2) {
            long p = 34L * b; // the block's byte offset in both rows
            int ka = qa + 32 * b, kb = qb + 32 * b;
            float da = d[dA + b], db = d[dB + b], da1 = d[dA + b + 1], db1 = d[dB + b + 1], dw;
            ShortVector w0, w1;
            IntVector s;
            w0 = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0);
            w1 = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0);
            dw = Float.float16ToFloat(row0.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            e0a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da), e0a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            e0b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db), e0b);
            w0 = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0);
            w1 = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0);
            dw = Float.float16ToFloat(row1.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            e1a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da), e1a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            e1b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db), e1b);
            p += 34;
            w0 = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0);
            w1 = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0);
            dw = Float.float16ToFloat(row0.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka + 32)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 32 + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            f0a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da1), f0a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb + 32)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 32 + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            f0b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db1), f0b);
            w0 = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.B2S, S256, 0);
            w1 = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 18, LE).convertShape(VectorOperators.B2S, S256, 0);
            dw = Float.float16ToFloat(row1.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka + 32)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 32 + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            f1a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da1), f1a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb + 32)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 32 + 16))).reinterpretAsInts();
            s = s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(s.lanewise(VectorOperators.ASHR, 16));
            f1b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db1), f1b);
        }
        e0a.intoArray(lanes, 0); f0a.intoArray(lanes, 8); e0b.intoArray(lanes, 16); f0b.intoArray(lanes, 24);
        e1a.intoArray(lanes, 32); f1a.intoArray(lanes, 40); e1b.intoArray(lanes, 48); f1b.intoArray(lanes, 56);
    }

    /** Q4_0 as {@link #q4_0x2}, for two tokens: the nibbles unpacked once per block and row. */
    static void q4_0x2t2(MemorySegment w, long o0, long o1, int n, short[] q, int qa, int qb, short[] c, int cA, int cB,
                         float[] d, int dA, int dB, float[] lanes) {
        MemorySegment row0 = w.asSlice(o0, 18L * (n / 32)), row1 = w.asSlice(o1, 18L * (n / 32)); // "Rows as slices", in the class comment
        FloatVector z = FloatVector.zero(F256);
        FloatVector e0a = z, e0b = z, e1a = z, e1b = z, f0a = z, f0b = z, f1a = z, f1b = z;
        int even = (n / 32) & ~1;
        for (int b = 0; b < even; b += 2) {
            long p = 18L * b; // the block's byte offset in both rows
            int ka = qa + 32 * b, kb = qb + 32 * b, ca = cA + 16 * b, cb = cB + 16 * b;
            float da = d[dA + b], db = d[dB + b], da1 = d[dA + b + 1], db1 = d[dB + b + 1], dw;
            ShortVector v, w0, w1;
            IntVector s;
            v = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            w0 = v.and((short) 15);
            w1 = v.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15);
            dw = Float.float16ToFloat(row0.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 16)))
                    .sub(ShortVector.fromArray(S256, c, ca)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            e0a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da), e0a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 16)))
                    .sub(ShortVector.fromArray(S256, c, cb)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            e0b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db), e0b);
            v = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            w0 = v.and((short) 15);
            w1 = v.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15);
            dw = Float.float16ToFloat(row1.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 16)))
                    .sub(ShortVector.fromArray(S256, c, ca)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            e1a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da), e1a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 16)))
                    .sub(ShortVector.fromArray(S256, c, cb)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            e1b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db), e1b);
            p += 18;
            v = (ShortVector) ByteVector.fromMemorySegment(B128, row0, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            w0 = v.and((short) 15);
            w1 = v.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15);
            dw = Float.float16ToFloat(row0.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka + 32)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 32 + 16)))
                    .sub(ShortVector.fromArray(S256, c, ca + 16)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            f0a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da1), f0a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb + 32)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 32 + 16)))
                    .sub(ShortVector.fromArray(S256, c, cb + 16)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            f0b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db1), f0b);
            v = (ShortVector) ByteVector.fromMemorySegment(B128, row1, p + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            w0 = v.and((short) 15);
            w1 = v.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().and((short) 15);
            dw = Float.float16ToFloat(row1.get(F16, p));
            s = w0.mul(ShortVector.fromArray(S256, q, ka + 32)).add(w1.mul(ShortVector.fromArray(S256, q, ka + 32 + 16)))
                    .sub(ShortVector.fromArray(S256, c, ca + 16)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            f1a = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * da1), f1a);
            s = w0.mul(ShortVector.fromArray(S256, q, kb + 32)).add(w1.mul(ShortVector.fromArray(S256, q, kb + 32 + 16)))
                    .sub(ShortVector.fromArray(S256, c, cb + 16)).reinterpretAsInts();
            s = s.add(s.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            f1b = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, dw * db1), f1b);
        }
        e0a.intoArray(lanes, 0); f0a.intoArray(lanes, 8); e0b.intoArray(lanes, 16); f0b.intoArray(lanes, 24);
        e1a.intoArray(lanes, 32); f1a.intoArray(lanes, 40); e1b.intoArray(lanes, 48); f1b.intoArray(lanes, 56);
    }
}
