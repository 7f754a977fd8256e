package dev.lockstep.model;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.kernels.Matrix;
import dev.lockstep.quant.Dequant;

import java.util.Arrays;

/**
 * Looks up a model's tensors by their llama.cpp names and checks each one's shape and type, so that a
 * wrong file fails at load with a message naming the tensor, never later with an index error.
 * Matrices stay in the mapped file; small vectors (norms, biases) are dequantized to float[].
 */
public final class TensorLoader {
    private final GgufFile file;

    public TensorLoader(GgufFile file) {
        this.file = file;
    }

    public GgufFile file() {
        return file;
    }

    public boolean has(String name) {
        return file.tensor(name) != null;
    }

    private TensorInfo require(String name) {
        TensorInfo t = file.tensor(name);
        if (t == null) throw new GgufException(file.path(), "missing required tensor '" + name + "'");
        if (!t.type().computable) throw new GgufException(file.path(), "tensor '" + name + "' has type " + t.type()
                + ", which Lockstep cannot compute; supported types: " + GgmlType.computableNames());
        return t;
    }

    /** The matrix {@code name} with {@code rows} rows of {@code cols} values (GGUF dims {cols, rows}). */
    public Matrix matrix(String name, int rows, int cols) {
        TensorInfo t = require(name);
        long[] d = t.dims();
        if (d.length != 2 || d[0] != cols || d[1] != rows)
            throw new GgufException(file.path(), "tensor '" + name + "' has shape " + Arrays.toString(d)
                    + ", expected [" + cols + ", " + rows + "]");
        return new Matrix(name, t.type(), file.tensorData(t), rows, cols);
    }

    public Matrix matrixOrNull(String name, int rows, int cols) {
        return has(name) ? matrix(name, rows, cols) : null;
    }

    /** The vector {@code name} of {@code n} values (any shape with n elements), dequantized. */
    public float[] vector(String name, int n) {
        TensorInfo t = require(name);
        if (t.elementCount() != n)
            throw new GgufException(file.path(), "tensor '" + name + "' has shape " + t.shapeString() + " (" + t.elementCount()
                    + " values), expected " + n + " values");
        float[] out = new float[n];
        Dequant.dequantize(t.type(), file.tensorData(t), 0, out, 0, n);
        return out;
    }

    public float[] vectorOrNull(String name, int n) {
        return has(name) ? vector(name, n) : null;
    }
}
