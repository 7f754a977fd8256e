package dev.lockstep.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Writes GGUF v3 files. Tensor data is streamed from callbacks, so files far larger than memory can be
 * written; the file appears atomically (written beside the target, then renamed).
 */
public final class GgufWriter {

    /** Produces exactly the tensor's bytes, in order. */
    @FunctionalInterface
    public interface TensorSource {
        void writeTo(Sink sink) throws IOException;
    }

    /** Where a {@link TensorSource} writes its bytes. */
    public interface Sink {
        void write(byte[] b, int off, int len) throws IOException;

        default void write(byte[] b) throws IOException {
            write(b, 0, b.length);
        }

        default void write(MemorySegment seg) throws IOException {
            byte[] buf = new byte[(int) Math.min(seg.byteSize(), 1 << 20)];
            for (long off = 0; off < seg.byteSize(); off += buf.length) {
                int n = (int) Math.min(buf.length, seg.byteSize() - off);
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, buf, 0, n);
                write(buf, 0, n);
            }
        }

        default void writeFloats(float[] v) throws IOException {
            ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            bb.asFloatBuffer().put(v);
            write(bb.array());
        }
    }

    private record PendingTensor(String name, GgmlType type, long[] dims, TensorSource source) {}

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;

    public GgufWriter put(String key, GgufValue value) {
        if (key.equals(GgufFile.KEY_ALIGNMENT)) {
            alignment = (int) (long) (Long) value.value();
        }
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String v) { return put(key, GgufValue.ofString(v)); }
    public GgufWriter putUInt32(String key, long v) { return put(key, GgufValue.ofUInt32(v)); }
    public GgufWriter putFloat32(String key, float v) { return put(key, GgufValue.ofFloat32(v)); }
    public GgufWriter putBool(String key, boolean v) { return put(key, GgufValue.ofBool(v)); }

    /** Copies every metadata key of {@code src} whose name starts with {@code prefix}. */
    public GgufWriter copyMetadata(GgufFile src, String prefix) {
        src.metadata().forEach((k, v) -> {
            if (k.startsWith(prefix)) put(k, v);
        });
        return this;
    }

    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    /** Adds a tensor; {@code dims} are innermost first (a matrix of R rows of C values is {C, R}). */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, TensorSource source) {
        for (PendingTensor t : tensors)
            if (t.name.equals(name)) throw new IllegalArgumentException("duplicate tensor " + name);
        if (dims.length > 0 && dims[0] % type.blockSize != 0)
            throw new IllegalArgumentException(name + ": row length " + dims[0] + " not a multiple of " + type.blockSize);
        tensors.add(new PendingTensor(name, type, dims.clone(), source));
        return this;
    }

    public GgufWriter addF32(String name, long[] dims, float[] data) {
        return addTensor(name, GgmlType.F32, dims, s -> s.writeFloats(data));
    }

    public GgufWriter addRaw(String name, GgmlType type, long[] dims, byte[] data) {
        return addTensor(name, type, dims, s -> s.write(data));
    }

    private static long byteSize(PendingTensor t) {
        long n = 1;
        for (long d : t.dims) n *= d;
        return t.type.byteSize(n);
    }

    /** Total bytes of tensor data (for progress bars). */
    public long totalTensorBytes() {
        long s = 0;
        for (PendingTensor t : tensors) s += byteSize(t);
        return s;
    }

    public void write(Path out) {
        write(out, n -> {});
    }

    /**
     * Writes the file. {@code progress} receives the number of tensor-data bytes written so far.
     */
    public void write(Path out, LongConsumer progress) {
        Path dir = out.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + out.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            if (dir != null) Files.createDirectories(dir);
            try (CountingOut os = new CountingOut(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20))) {
                writeTo(os, progress);
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the original error matters more
            }
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    private void writeTo(CountingOut os, LongConsumer progress) throws IOException {
        os.u32(GgufFile.MAGIC);
        os.u32(3);
        os.u64(tensors.size());
        os.u64(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            os.string(e.getKey());
            os.u32(e.getValue().type().id);
            writeValue(os, e.getValue().type(), e.getValue().value());
        }
        long offset = 0;
        for (PendingTensor t : tensors) {
            os.string(t.name);
            os.u32(t.dims.length);
            for (long d : t.dims) os.u64(d);
            os.u32(t.type.id);
            os.u64(offset);
            offset = GgufFile.alignUp(offset + byteSize(t), alignment);
        }
        os.pad(alignment);
        long dataStart = os.count;
        os.progress = progress;
        os.progressBase = dataStart;
        for (PendingTensor t : tensors) {
            long expected = byteSize(t);
            long before = os.count;
            t.source.writeTo(os);
            long written = os.count - before;
            if (written != expected)
                throw new IllegalStateException("tensor " + t.name + " wrote " + written + " bytes, expected " + expected);
            os.pad(alignment);
        }
        progress.accept(os.count - dataStart);
    }

    private static void writeValue(CountingOut os, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8, BOOL -> os.write(type == GgufValueType.BOOL ? ((Boolean) v ? 1 : 0) : (int) (long) (Long) v);
            case UINT16, INT16 -> os.u16((int) (long) (Long) v);
            case UINT32, INT32 -> os.u32((int) (long) (Long) v);
            case UINT64, INT64 -> os.u64((Long) v);
            case FLOAT32 -> os.u32(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> os.u64(Double.doubleToRawLongBits((Double) v));
            case STRING -> os.string((String) v);
            case ARRAY -> writeArray(os, (GgufValue.GgufArray) v);
        }
    }

    private static void writeArray(CountingOut os, GgufValue.GgufArray a) throws IOException {
        os.u32(a.elementType().id);
        os.u64(a.length());
        switch (a.elementType()) {
            case UINT8, INT8 -> { for (int x : (int[]) a.data()) os.write(x); }
            case UINT16, INT16 -> { for (int x : (int[]) a.data()) os.u16(x); }
            case UINT32, INT32 -> { for (int x : (int[]) a.data()) os.u32(x); }
            case UINT64, INT64 -> { for (long x : (long[]) a.data()) os.u64(x); }
            case FLOAT32 -> { for (float x : (float[]) a.data()) os.u32(Float.floatToRawIntBits(x)); }
            case FLOAT64 -> { for (double x : (double[]) a.data()) os.u64(Double.doubleToRawLongBits(x)); }
            case BOOL -> { for (boolean x : (boolean[]) a.data()) os.write(x ? 1 : 0); }
            case STRING -> { for (String x : (String[]) a.data()) os.string(x); }
            case ARRAY -> { for (GgufValue.GgufArray x : (GgufValue.GgufArray[]) a.data()) writeArray(os, x); }
        }
    }

    /** Little-endian output that counts bytes (for offsets and padding). */
    private static final class CountingOut extends OutputStream implements Sink {
        private final OutputStream out;
        long count;
        LongConsumer progress;
        long progressBase, lastReported;

        CountingOut(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
            if (progress != null && count - lastReported >= (8 << 20)) {
                lastReported = count;
                progress.accept(count - progressBase);
            }
        }

        @Override
        public void write(byte[] b) throws IOException {
            write(b, 0, b.length);
        }

        void u16(int v) throws IOException {
            write(v & 0xFF);
            write((v >>> 8) & 0xFF);
        }

        void u32(int v) throws IOException {
            for (int i = 0; i < 4; i++) write((v >>> (8 * i)) & 0xFF);
        }

        void u64(long v) throws IOException {
            for (int i = 0; i < 8; i++) write((int) (v >>> (8 * i)) & 0xFF);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            write(b);
        }

        void pad(int alignment) throws IOException {
            while (count % alignment != 0) write(0);
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
