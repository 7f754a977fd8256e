package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

/**
 * A weight matrix rearranged for the INT8-activation products ({@link Int8Gemm}): rows in groups of
 * 16, whose integer weights sit in vector lanes side by side, so that a 16-bit multiply of one
 * loaded vector by one broadcast pair of activations makes 32 products for 16 rows at once, and a
 * 16-row group's outputs come out as one vector of 16 floats, each a row's own sum in its own lane.
 * (Which lane holds a row depends on the row only, never on the vector width: the 512-bit kernels
 * hold a group in one register, the 256-bit ones in two halves; the bits are the same.) llama.cpp
 * rearranges Q4_0 and Q4_K the same way on x86 and Arm ("repack", {@code block_q4_0x8}); its
 * kernels then use {@code vpdpbusd}, which the Vector API lacks, where these use {@code vpmullw}.
 * The copy is made once per matrix ({@link Matrix#int8()}); the mapped file stays as it is (its
 * rows still serve embedding lookups and the f32 mode).
 *
 * <h2>The specification (what every kernel computes, bit for bit)</h2>
 * Each format is read as integer weights {@code w[k]} in <em>scale blocks</em> (32 values; 16 for
 * Q6_K) with per-block factors {@code c1} and, for the K-quants with minimums, {@code c2}, so that
 * the reference dequantization is {@code c1 * w[k] - c2}:
 * <ul>
 *   <li>Q4_0: {@code w = nibble - 8}, {@code c1 = d};
 *   <li>Q4_K: {@code w = q} (0..15), Q5_K: {@code w = q} (0..31); {@code c1 = d * sc}, {@code c2 = dmin * m} (both exact in f32);
 *   <li>Q6_K: {@code w = q - 32}, {@code c1 = d * sc} (exact).
 * </ul>
 * For a row and a token quantized per block of 32 ({@link Int8Activations}: values {@code a},
 * scales {@code da}, block sums {@code A}), in increasing k, one f32 accumulator starting at 0:
 * <pre>
 *   S   = sum of w[k] * a[k] over the scale block        (an exact integer; any order)
 *   acc = fma((float) S, c1 * da, acc)
 *   acc = fma((float) A, -(c2 * da), acc)                (formats with minimums; A over the same 32 values)
 * </pre>
 * where {@code da} is the scale of the 32-value activation block holding the scale block. The
 * result is {@code acc}. One sequential chain per output: its order depends on the row length only,
 * and a group's 16 chains run side by side in one register, which is where the speed comes from
 * (the f32 kernels' 16 lanes per row and their tree, {@link Canonical}, are not needed here).
 * {@link Int8Formats#dot} is this specification, one value at a time.
 *
 * <h2>Layout</h2>
 * Groups are stored one after another, each as its row length's units (a block of the format: 32
 * values for Q4_0, 256 for the K-quants) in order. Rows past the matrix's last are zeros. Within a
 * unit:
 * <ul>
 *   <li>f16 scales as 16 little-endian halves, row r at byte 2r; 8-bit scales and minimums as 16
 *       bytes, row r at byte r;
 *   <li>4-bit weights (Q4_0, Q4_K) in <em>chunks</em> of 64 bytes, eight values per row: the
 *       16-bit word {@code 2r + e} (e = 0, 1) holds values {@code 8c + e, 8c + 2 + e, 8c + 4 + e,
 *       8c + 6 + e} of row r in its four nibbles, lowest first. A shift and a mask of the loaded
 *       vector give the rows' value pairs (8c + 2m, 8c + 2m + 1) in 16-bit lanes, each pair beside
 *       the pair of activations a 32-bit broadcast gives;
 *   <li>wider weights (Q5_K minus 16, Q6_K minus 32: signed bytes) in <em>pairs</em> of 32 bytes:
 *       byte {@code 2r + e} holds value {@code 2p + e} of row r.
 * </ul>
 * Q4_0 (288 bytes per unit, as 16 blocks): d[16], 4 chunks. Q4_K (2368): d[16], dmin[16],
 * sc[8][16], m[8][16], then each sub-block's 4 chunks. Q5_K (4416): the same 320 bytes of scales,
 * then each sub-block's 16 pairs. Q6_K (4384): d[16], sc[16][16], then each 16-value sub-block's 8
 * pairs. (Q5_K and Q6_K take a byte per weight, 1.3-1.6 times their file's bytes.)
 *
 * <h2>Why the sums are exact in 16-bit lanes</h2>
 * A 16-bit lane gathers the products of one value parity of one scale block, at most 16 of them,
 * each at most 15 * 127 (4-bit weights), 16 * 127 (Q5_K minus 16) or 32 * 127 (Q6_K minus 32, at
 * most 8 per 16-value block): 30480, 32512 and 32512, within a short. The two parities of a row are
 * then added as 32-bit integers. A Q4_0 or Q5_K sum is corrected by the block's activation sum
 * ({@code - 8A}, {@code + 16A}) to the exact {@code S} of the specification. Q8_0 has no layout
 * here: its weights reach 128, so a lane could hold two products only, and widening that often made
 * its products slower than the f32 path's (docs/performance-log.md, 2026-12-07); it keeps the f32
 * kernels in either mode.
 */
public final class Int8Weights {
    /** Rows per group. */
    public static final int GROUP = 16;

    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Matrix source;
    private final MemorySegment data;
    private final long groupBytes;

    private Int8Weights(Matrix source, MemorySegment data) {
        this.source = source;
        this.data = data;
        this.groupBytes = (long) units(source.type(), source.cols()) * unitBytes(source.type());
    }

    /** Weight types with INT8-activation kernels, for rows of {@code n} values. */
    public static boolean supports(GgmlType type, int n) {
        return switch (type) {
            case Q4_0 -> n % 32 == 0;
            case Q4_K, Q5_K, Q6_K -> n % 256 == 0;
            default -> false;
        };
    }

    /** Values per unit of the layout: one block of the format. */
    static int unitValues(GgmlType type) {
        return type.blockSize;
    }

    /** Bytes per unit of a group (16 rows). */
    static int unitBytes(GgmlType type) {
        return switch (type) {
            case Q4_0 -> 288;
            case Q4_K -> 2368;
            case Q5_K -> 4416;
            case Q6_K -> 4384;
            default -> throw new IllegalArgumentException("no INT8 layout for " + type);
        };
    }

    static int units(GgmlType type, int n) {
        return n / unitValues(type);
    }

    public Matrix source() {
        return source;
    }

    public GgmlType type() {
        return source.type();
    }

    public int rows() {
        return source.rows();
    }

    public int cols() {
        return source.cols();
    }

    public int groups() {
        return (source.rows() + GROUP - 1) / GROUP;
    }

    MemorySegment data() {
        return data;
    }

    /** Byte offset of group g. */
    long groupOffset(int g) {
        return g * groupBytes;
    }

    /** Bytes of the rearranged matrix. */
    public long byteSize() {
        return data.byteSize();
    }

    /**
     * Rearranges {@code m} (a supported type) into its groups. The work is pure data movement, spread
     * over the common fork-join pool; the result is the same whatever ran it.
     */
    public static Int8Weights repack(Matrix m) {
        GgmlType type = m.type();
        if (!supports(type, m.cols())) throw new IllegalArgumentException(m.name() + ": no INT8 layout for " + type + " rows of " + m.cols());
        int groups = (m.rows() + GROUP - 1) / GROUP, units = units(type, m.cols()), ub = unitBytes(type);
        long groupBytes = (long) units * ub;
        MemorySegment out = Arena.ofAuto().allocate(groups * groupBytes, 64);
        IntStream.range(0, groups).parallel().forEach(g -> {
            byte[] unit = new byte[ub];
            int[] q = new int[GROUP * 256];
            int[] scales = new int[GROUP * 2 * 16]; // per row: 8-bit scales and minimums of the unit's sub-blocks
            short[] halves = new short[2 * GROUP];  // per row: d (and dmin)
            for (int u = 0; u < units; u++) {
                java.util.Arrays.fill(q, 0);
                java.util.Arrays.fill(scales, 0);
                java.util.Arrays.fill(halves, (short) 0);
                for (int r = 0; r < GROUP; r++) {
                    int row = g * GROUP + r;
                    if (row >= m.rows()) break;
                    long off = row * m.rowBytes() + (long) u * type.typeSize;
                    Int8Formats.unpack(type, m.data(), off, q, r * 256, scales, r * 32, halves, r);
                }
                layout(type, q, scales, halves, unit);
                MemorySegment.copy(MemorySegment.ofArray(unit), 0, out, g * groupBytes + (long) u * ub, ub);
            }
        });
        return new Int8Weights(m, out);
    }

    /** One unit of a group, from its rows' unpacked integers ({@link Int8Formats#unpack}). */
    private static void layout(GgmlType type, int[] q, int[] scales, short[] halves, byte[] unit) {
        for (int r = 0; r < GROUP; r++) {
            putHalf(unit, 2 * r, halves[2 * r]);
            if (type == GgmlType.Q4_K || type == GgmlType.Q5_K) putHalf(unit, 32 + 2 * r, halves[2 * r + 1]);
        }
        switch (type) {
            case Q4_0 -> chunks(q, unit, 32, 32);
            case Q4_K, Q5_K -> {
                for (int j = 0; j < 8; j++)
                    for (int r = 0; r < GROUP; r++) {
                        unit[64 + 16 * j + r] = (byte) scales[32 * r + j];
                        unit[192 + 16 * j + r] = (byte) scales[32 * r + 16 + j];
                    }
                if (type == GgmlType.Q4_K) chunks(q, unit, 320, 256);
                else pairs(q, unit, 320, 256, 16);
            }
            case Q6_K -> {
                for (int j = 0; j < 16; j++)
                    for (int r = 0; r < GROUP; r++) unit[32 + 16 * j + r] = (byte) scales[32 * r + j];
                pairs(q, unit, 288, 256, 32);
            }
            default -> throw new IllegalArgumentException(type.toString());
        }
    }

    private static void putHalf(byte[] b, int at, short h) {
        b[at] = (byte) h;
        b[at + 1] = (byte) (h >> 8);
    }

    /** 4-bit values (row r's at {@code q[256 r ..]}) as chunks of 64 bytes from byte {@code at} (the class comment). */
    private static void chunks(int[] q, byte[] unit, int at, int values) {
        for (int c = 0; c < values / 8; c++)
            for (int r = 0; r < GROUP; r++)
                for (int e = 0; e < 2; e++) {
                    int word = 0;
                    for (int m = 0; m < 4; m++) word |= q[256 * r + 8 * c + 2 * m + e] << 4 * m;
                    int o = at + 64 * c + 2 * (2 * r + e);
                    unit[o] = (byte) word;
                    unit[o + 1] = (byte) (word >> 8);
                }
    }

    /** 8-bit values minus {@code offset} as pairs from byte {@code at}. */
    private static void pairs(int[] q, byte[] unit, int at, int values, int offset) {
        for (int p = 0; p < values / 2; p++)
            for (int r = 0; r < GROUP; r++)
                for (int e = 0; e < 2; e++) unit[at + 32 * p + 2 * r + e] = (byte) (q[256 * r + 2 * p + e] - offset);
    }

    /** The f16 at byte {@code off} of a unit, as a float (for the scalar paths). */
    static float half(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(F16, off));
    }
}
