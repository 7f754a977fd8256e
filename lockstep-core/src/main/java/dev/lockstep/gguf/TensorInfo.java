package dev.lockstep.gguf;

import java.util.Arrays;

/**
 * A tensor's entry in a GGUF file. {@code dims} are listed innermost first, as GGML does: a weight
 * matrix with {@code rows} output rows of {@code cols} values each has dims {cols, rows}.
 *
 * @param offset byte offset of the data relative to the start of the file's data section
 */
public record TensorInfo(String name, GgmlType type, long[] dims, long offset) {

    public TensorInfo {
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    public int nDims() {
        return dims.length;
    }

    public long dim(int i) {
        return i < dims.length ? dims[i] : 1;
    }

    public long elementCount() {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    public long byteSize() {
        return type.byteSize(elementCount());
    }

    /** Length of one row (the innermost dimension). */
    public long rowLength() {
        return dims.length == 0 ? 1 : dims[0];
    }

    /** Number of rows: the product of all but the innermost dimension. */
    public long rowCount() {
        return dims.length == 0 ? 1 : elementCount() / dims[0];
    }

    public String shapeString() {
        return Arrays.toString(dims);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.type == type && Arrays.equals(t.dims, dims)
                && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + shapeString();
    }
}
