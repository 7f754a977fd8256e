package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows} rows of {@code cols} values each, stored in GGML {@code type}
 * blocks at {@code data} (usually a view of the memory-mapped model file).
 */
public record Matrix(String name, GgmlType type, MemorySegment data, int rows, int cols) {
    public Matrix {
        if (data.byteSize() != type.byteSize((long) rows * cols))
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for " + rows + "x" + cols + " " + type);
    }

    public long rowBytes() {
        return type.byteSize(cols);
    }

    /** Dequantizes row {@code r} into {@code out[off..off+cols)} with the reference dequantizer. */
    public void dequantizeRow(int r, float[] out, int off) {
        dev.lockstep.quant.Dequant.dequantizeRow(type, data, r, cols, out, off);
    }
}
