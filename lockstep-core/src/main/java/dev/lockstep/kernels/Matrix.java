package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows} rows of {@code cols} values each, stored in GGML {@code type}
 * blocks at {@code data} (usually a view of the memory-mapped model file). The INT8-activation mode
 * multiplies a rearranged copy ({@link #int8()}), made once, the first time it is asked for.
 */
public final class Matrix {
    private final String name;
    private final GgmlType type;
    private final MemorySegment data;
    private final int rows, cols;
    private volatile Int8Weights int8;

    public Matrix(String name, GgmlType type, MemorySegment data, int rows, int cols) {
        if (data.byteSize() != type.byteSize((long) rows * cols))
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for " + rows + "x" + cols + " " + type);
        this.name = name;
        this.type = type;
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    public String name() {
        return name;
    }

    public GgmlType type() {
        return type;
    }

    public MemorySegment data() {
        return data;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public long rowBytes() {
        return type.byteSize(cols);
    }

    /** Dequantizes row {@code r} into {@code out[off..off+cols)} with the reference dequantizer. */
    public void dequantizeRow(int r, float[] out, int off) {
        dev.lockstep.quant.Dequant.dequantizeRow(type, data, r, cols, out, off);
    }

    /** Whether the INT8-activation kernels take this matrix ({@link Int8Weights#supports}). */
    public boolean hasInt8() {
        return Int8Weights.supports(type, cols);
    }

    /** This matrix rearranged for the INT8-activation kernels, made on the first call (thread-safe). */
    public Int8Weights int8() {
        Int8Weights w = int8;
        if (w == null) {
            synchronized (this) {
                w = int8;
                if (w == null) int8 = w = Int8Weights.repack(this);
            }
        }
        return w;
    }

    @Override
    public String toString() {
        return name + " (" + rows + "x" + cols + " " + type + ")";
    }
}
