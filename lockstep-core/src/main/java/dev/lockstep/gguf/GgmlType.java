package dev.lockstep.gguf;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Tensor element types of GGML/GGUF: the on-disk id, the number of values per block and the bytes per
 * block. Every type llama.cpp writes is listed so that any file's layout can be read; which of them
 * Lockstep can compute with is {@link #computable}.
 */
public enum GgmlType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, true),
    Q5_0(6, 32, 22, true),
    Q5_1(7, 32, 24, true),
    Q8_0(8, 32, 34, true),
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, false),
    Q3_K(11, 256, 110, false),
    Q4_K(12, 256, 144, true),
    Q5_K(13, 256, 176, true),
    Q6_K(14, 256, 210, true),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, false),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, false),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    MXFP4(39, 32, 17, false);

    /** Id written in GGUF tensor infos. */
    public final int id;
    /** Values per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int typeSize;
    /** Whether Lockstep has dequantization and kernels for this type. */
    public final boolean computable;

    GgmlType(int id, int blockSize, int typeSize, boolean computable) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
        this.computable = computable;
    }

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) BY_ID[t.id] = t;
    }

    /** The type with this id, or null when the id is not a known GGML type. */
    public static GgmlType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /** The type with this (case-insensitive) name, or null. */
    public static GgmlType byName(String name) {
        for (GgmlType t : values()) if (t.name().equalsIgnoreCase(name)) return t;
        return null;
    }

    /** Bytes taken by {@code n} values; {@code n} must be a multiple of the block size. */
    public long byteSize(long n) {
        if (n % blockSize != 0)
            throw new IllegalArgumentException(n + " values is not a multiple of the " + this + " block size " + blockSize);
        return n / blockSize * typeSize;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Names of the types Lockstep computes with, for error messages. */
    public static String computableNames() {
        return Arrays.stream(values()).filter(t -> t.computable).map(Enum::name).collect(Collectors.joining(", "));
    }
}
