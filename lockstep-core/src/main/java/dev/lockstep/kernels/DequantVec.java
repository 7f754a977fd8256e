package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.lockstep.kernels.Canonical.F512;

/**
 * Vectorized dequantization into float arrays, producing exactly the floats of the reference
 * {@link Dequant} (tested bit for bit). The batched matrix product dequantizes weight tiles once with
 * it and reuses them for many tokens. Types without a vector form use the reference loop.
 */
final class DequantVec {
    private DequantVec() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;

    /** Values per unit of work for {@code type}: a whole number of blocks and of 64-lane chunks. */
    static int unit(GgmlType type) {
        return type.blockSize == 256 ? 256 : 64;
    }

    /**
     * Dequantizes values {@code [k, k+len)} of the row starting at byte {@code rowOff} into
     * {@code out[o..)}; {@code k} and {@code len} are multiples of {@link #unit} (len may end the row).
     */
    static void segment(GgmlType type, MemorySegment w, long rowOff, int k, int len, float[] out, int o) {
        long off = rowOff + type.byteSize(k);
        if (!Canonical.SIMD512) {
            Dequant.dequantize(type, w, off, out, o, len);
            return;
        }
        switch (type) {
            case Q8_0 -> {
                for (int j = 0; j < len; j += 32, off += 34) {
                    float d = Dequant.f16(w, off);
                    ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 2, LE).convertShape(VectorOperators.B2F, F512, 0))
                            .mul(d).intoArray(out, o + j);
                    ((FloatVector) ByteVector.fromMemorySegment(B128, w, off + 18, LE).convertShape(VectorOperators.B2F, F512, 0))
                            .mul(d).intoArray(out, o + j + 16);
                }
            }
            case Q4_0 -> {
                for (int j = 0; j < len; j += 32, off += 18) {
                    float d = Dequant.f16(w, off);
                    ByteVector q = ByteVector.fromMemorySegment(B128, w, off + 2, LE);
                    ((FloatVector) q.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0)).mul(d).intoArray(out, o + j);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F512, 0))
                            .mul(d).intoArray(out, o + j + 16);
                }
            }
            case F16 -> {
                if (len % 16 != 0) {
                    Dequant.dequantize(type, w, off, out, o, len);
                    return;
                }
                for (int j = 0; j < len; j += 16) Dot.loadHalf16(w, off + 2L * j).intoArray(out, o + j);
            }
            case BF16 -> {
                if (len % 16 != 0) {
                    Dequant.dequantize(type, w, off, out, o, len);
                    return;
                }
                for (int j = 0; j < len; j += 16) Dot.loadBf16(w, off + 2L * j).intoArray(out, o + j);
            }
            case F32 -> MemorySegment.copy(w, Dequant.F32_LE, off, out, o, len);
            default -> Dequant.dequantize(type, w, off, out, o, len);
        }
    }

    /** Dequantizes a whole row of {@code n} values. */
    static void row(GgmlType type, MemorySegment w, long row, int n, float[] out, int o) {
        segment(type, w, row * type.byteSize(n), 0, n, out, o);
    }
}
