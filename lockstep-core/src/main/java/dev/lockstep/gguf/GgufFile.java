package dev.lockstep.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF file (version 2 or 3), opened read-only: metadata and tensor infos are parsed eagerly, tensor
 * data stays in the file and is memory-mapped through FFM, so opening costs the same for 1 MB or 50 GB.
 *
 * <pre>
 * header      magic "GGUF" | u32 version | u64 tensor_count | u64 metadata_kv_count
 * metadata    (string key, u32 value type, value) x metadata_kv_count
 * tensors     (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset) x tensor_count
 * padding     to general.alignment (default 32)
 * data        tensor bytes, each at data_start + offset (offset aligned)
 * </pre>
 * Strings are a u64 byte length followed by UTF-8 bytes; everything is little-endian.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final String KEY_ALIGNMENT = "general.alignment";
    public static final String KEY_ARCHITECTURE = "general.architecture";

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, GgufValue> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long alignment;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, Map<String, GgufValue> metadata,
                     Map<String, TensorInfo> tensors, long alignment, long dataStart) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.alignment = alignment;
        this.dataStart = dataStart;
    }

    /** Opens and parses {@code path}; any problem is a {@link GgufException} naming the file. */
    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (NoSuchFileException e) {
                throw new GgufException(path, "no such file");
            } catch (IOException e) {
                throw new GgufException(path, "cannot open: " + e);
            }
            GgufFile f = new Parser(path, seg).parse(arena);
            return f;
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }
    public int version() { return version; }
    public long alignment() { return alignment; }
    /** Absolute file offset where the data section begins. */
    public long dataStart() { return dataStart; }
    public long fileSize() { return file.byteSize(); }
    public Map<String, GgufValue> metadata() { return metadata; }

    /**
     * Why the mapped bytes can no longer be read, or null while they can: the file on disk is shorter
     * than the mapping (truncated or rewritten in place while in use), so touching the pages past its
     * end faults. A file deleted or replaced by a rename is no damage: the mapping keeps the old inode.
     */
    public String damage() {
        try {
            long now = java.nio.file.Files.size(path);
            if (now < file.byteSize())
                return "the model file " + path + " has " + now + " bytes now but had " + file.byteSize()
                        + " when it was loaded (truncated or rewritten while in use); restart the server with an intact file";
        } catch (IOException gone) {
            // deleted or moved: the mapping still holds the old file
        }
        return null;
    }
    public Map<String, TensorInfo> tensors() { return tensors; }

    /** The whole mapped file. */
    public MemorySegment segment() { return file; }

    public TensorInfo tensor(String name) {
        return tensors.get(name);
    }

    /** The tensor's bytes, as a view of the mapped file (no copy). */
    public MemorySegment tensorData(TensorInfo t) {
        return file.asSlice(dataStart + t.offset(), t.byteSize());
    }

    public String architecture() {
        return getString(KEY_ARCHITECTURE);
    }

    // ---- typed metadata access, with errors that name the file and the key ----

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public GgufValue value(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) throw new GgufException(path, "missing required metadata key '" + key + "'");
        return v;
    }

    public String getString(String key) {
        GgufValue v = value(key);
        if (v.type() != GgufValueType.STRING) throw wrongType(key, v, "STRING");
        return (String) v.value();
    }

    public String getString(String key, String def) {
        return has(key) ? getString(key) : def;
    }

    public long getLong(String key) {
        GgufValue v = value(key);
        if (!v.type().isInteger()) throw wrongType(key, v, "an integer");
        return (Long) v.value();
    }

    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
            throw new GgufException(path, "metadata key '" + key + "' = " + v + " does not fit in 32 bits");
        return (int) v;
    }

    public int getInt(String key, int def) {
        return has(key) ? getInt(key) : def;
    }

    /**
     * An integer key that must lie in [{@code min}, {@code max}]; a value outside (a corrupt or hostile
     * file) is a one-line error naming the key, the value and the range, before anything is sized by it.
     */
    public int getInt(String key, int min, int max) {
        return inRange(key, getLong(key), min, max);
    }

    /** As {@link #getInt(String, int, int)}, with {@code def} when the key is absent. */
    public int getInt(String key, int def, int min, int max) {
        return has(key) ? getInt(key, min, max) : def;
    }

    private int inRange(String key, long v, int min, int max) {
        if (v < min || v > max)
            throw new GgufException(path, "metadata key '" + key + "' = " + v + " is out of range (" + min + " to " + max + ")");
        return (int) v;
    }

    /** A float key that must be a finite number in ({@code exclusiveMin}, {@code max}], {@code def} when absent. */
    public float getFloat(String key, float def, float exclusiveMin, float max) {
        if (!has(key)) return def;
        float v = getFloat(key);
        if (!(v > exclusiveMin && v <= max)) // also refuses NaN
            throw new GgufException(path, "metadata key '" + key + "' = " + v + " is out of range (more than " + exclusiveMin
                    + ", at most " + max + ")");
        return v;
    }

    public float getFloat(String key) {
        GgufValue v = value(key);
        return switch (v.type()) {
            case FLOAT32 -> (Float) v.value();
            case FLOAT64 -> (float) (double) (Double) v.value();
            default -> {
                if (v.type().isInteger()) yield (float) (long) (Long) v.value();
                throw wrongType(key, v, "a number");
            }
        };
    }

    public float getFloat(String key, float def) {
        return has(key) ? getFloat(key) : def;
    }

    public boolean getBool(String key, boolean def) {
        if (!has(key)) return def;
        GgufValue v = value(key);
        if (v.type() != GgufValueType.BOOL) throw wrongType(key, v, "BOOL");
        return (Boolean) v.value();
    }

    public GgufValue.GgufArray getArray(String key) {
        GgufValue v = value(key);
        if (v.type() != GgufValueType.ARRAY) throw wrongType(key, v, "ARRAY");
        return (GgufValue.GgufArray) v.value();
    }

    public String[] getStringArray(String key) {
        GgufValue.GgufArray a = getArray(key);
        if (a.elementType() != GgufValueType.STRING) throw new GgufException(path, "metadata key '" + key
                + "' is an array of " + a.elementType() + ", expected an array of STRING");
        return (String[]) a.data();
    }

    public float[] getFloatArray(String key) {
        GgufValue.GgufArray a = getArray(key);
        if (a.elementType() != GgufValueType.FLOAT32) throw new GgufException(path, "metadata key '" + key
                + "' is an array of " + a.elementType() + ", expected an array of FLOAT32");
        return (float[]) a.data();
    }

    /** An array of 8/16/32-bit integers as int[]. */
    public int[] getIntArray(String key) {
        GgufValue.GgufArray a = getArray(key);
        if (!(a.data() instanceof int[] ints)) throw new GgufException(path, "metadata key '" + key
                + "' is an array of " + a.elementType() + ", expected an array of 32-bit integers");
        return ints;
    }

    private GgufException wrongType(String key, GgufValue v, String expected) {
        return new GgufException(path, "metadata key '" + key + "' has type " + v.type() + ", expected " + expected);
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    // ------------------------------------------------------------------------------------------------

    /** Reads the header, metadata and tensor infos with a bounds check on every read. */
    private static final class Parser {
        private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final int MAX_DIMS = 4;
        private static final int MAX_ARRAY_DEPTH = 8;

        private final Path path;
        private final MemorySegment seg;
        private final long size;
        private long pos;
        /** What is being read, for error messages. */
        private String context = "header";

        Parser(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        GgufFile parse(Arena arena) {
            if (size < 4) throw new GgufException(path, "not a GGUF file: it has only " + size + " bytes");
            int magic = seg.get(I32, 0);
            if (magic != MAGIC) throw new GgufException(path, "not a GGUF file: magic bytes are " + hex(0, 4)
                    + " (expected 47 47 55 46 = \"GGUF\")" + magicHint(magic));
            pos = 4;
            context = "header";
            int version = readI32();
            if (version != 2 && version != 3) {
                String hint = version == 1 ? " (GGUF v1 files predate August 2023; re-convert the model)"
                        : Integer.reverseBytes(version) == 3 || Integer.reverseBytes(version) == 2
                        ? " (this looks like a big-endian GGUF file, which is not supported)" : "";
                throw new GgufException(path, "unsupported GGUF version " + Integer.toUnsignedString(version)
                        + "; supported versions are 2 and 3" + hint);
            }
            long tensorCount = readU64Count("tensor count");
            long kvCount = readU64Count("metadata key/value count");

            Map<String, GgufValue> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                long at = pos;
                context = "metadata entry #" + i + " at offset " + at;
                String key = readString();
                context = "metadata key '" + key + "' (entry #" + i + " at offset " + at + ")";
                int typeId = readI32();
                GgufValueType type = GgufValueType.byId(typeId);
                if (type == null) throw new GgufException(path, context + ": unknown value type id " + typeId);
                GgufValue v = readValue(type, 0);
                if (metadata.put(key, v) != null) throw new GgufException(path, "duplicate metadata key '" + key + "'");
            }

            long alignment = DEFAULT_ALIGNMENT;
            GgufValue al = metadata.get(KEY_ALIGNMENT);
            if (al != null) {
                if (!al.type().isInteger()) throw new GgufException(path, "metadata key '" + KEY_ALIGNMENT
                        + "' has type " + al.type() + ", expected an integer");
                alignment = (Long) al.value();
                if (alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > (1 << 20))
                    throw new GgufException(path, "invalid " + KEY_ALIGNMENT + " = " + alignment
                            + " (must be a power of two)");
            }

            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            for (long i = 0; i < tensorCount; i++) {
                long at = pos;
                context = "tensor info #" + i + " at offset " + at;
                String name = readString();
                context = "tensor '" + name + "' (info #" + i + " at offset " + at + ")";
                int nDims = readI32();
                if (nDims < 0 || nDims > MAX_DIMS)
                    throw new GgufException(path, context + ": " + nDims + " dimensions (at most " + MAX_DIMS + ")");
                long[] dims = new long[nDims];
                for (int d = 0; d < nDims; d++) {
                    dims[d] = readI64();
                    if (dims[d] < 0 || dims[d] > (1L << 40))
                        throw new GgufException(path, context + ": dimension " + d + " = " + dims[d] + " is not valid");
                }
                long elements = 1;
                for (long d : dims) {
                    if (d != 0 && elements > (1L << 48) / d)
                        throw new GgufException(path, context + ": dimensions " + java.util.Arrays.toString(dims)
                                + " hold more than 2^48 values: not a real tensor");
                    elements *= d;
                }
                int typeId = readI32();
                GgmlType type = GgmlType.byId(typeId);
                if (type == null) throw new GgufException(path, context + ": unknown tensor type id " + typeId);
                long offset = readI64();
                TensorInfo t = new TensorInfo(name, type, dims, offset);
                if (dims.length > 0 && dims[0] % type.blockSize != 0)
                    throw new GgufException(path, context + ": row length " + dims[0] + " is not a multiple of the "
                            + type + " block size " + type.blockSize);
                if (offset < 0 || offset % alignment != 0)
                    throw new GgufException(path, context + ": data offset " + offset + " is not a multiple of the alignment "
                            + alignment);
                if (tensors.put(name, t) != null) throw new GgufException(path, "duplicate tensor name '" + name + "'");
            }

            long dataStart = alignUp(pos, alignment);
            for (TensorInfo t : tensors.values()) {
                long start = dataStart + t.offset();
                long end = start + t.byteSize();
                if (end > size || start < dataStart)
                    throw new GgufException(path, "tensor '" + t.name() + "' (" + t.type() + " " + t.shapeString()
                            + ") needs bytes [" + start + ", " + end + ") but the file has only " + size
                            + " bytes: the file is truncated or the tensor lies out of bounds");
            }
            return new GgufFile(path, arena, seg, version, metadata, tensors, alignment, dataStart);
        }

        private String magicHint(int magic) {
            int be = Integer.reverseBytes(magic);
            if (be == 0x67676d6c || be == 0x67676a74 || be == 0x67676d66 || magic == 0x67676d6c || magic == 0x67676a74
                    || magic == 0x67676d66)
                return "; this is an old GGML/GGJT file: convert it to GGUF with llama.cpp";
            if (size >= 28) {
                int dim = seg.get(I32, 0);
                if (dim > 0 && dim < 65536) return "; if this is a llama2.c checkpoint, convert it with llama.cpp's "
                        + "llama-convert-llama2c-to-ggml";
            }
            return "";
        }

        private GgufValue readValue(GgufValueType type, int depth) {
            return switch (type) {
                case UINT8 -> new GgufValue(type, (long) (readByte() & 0xFF));
                case INT8 -> new GgufValue(type, (long) readByte());
                case UINT16 -> new GgufValue(type, (long) (readI16() & 0xFFFF));
                case INT16 -> new GgufValue(type, (long) readI16());
                case UINT32 -> new GgufValue(type, Integer.toUnsignedLong(readI32()));
                case INT32 -> new GgufValue(type, (long) readI32());
                case UINT64, INT64 -> new GgufValue(type, readI64());
                case FLOAT32 -> new GgufValue(type, readF32());
                case FLOAT64 -> new GgufValue(type, readF64());
                case BOOL -> {
                    byte b = readByte();
                    if (b != 0 && b != 1) throw new GgufException(path, context + ": BOOL value " + b + " is not 0 or 1");
                    yield new GgufValue(type, b != 0);
                }
                case STRING -> new GgufValue(type, readString());
                case ARRAY -> new GgufValue(type, readArray(depth));
            };
        }

        private GgufValue.GgufArray readArray(int depth) {
            if (depth >= MAX_ARRAY_DEPTH) throw new GgufException(path, context + ": arrays nested deeper than " + MAX_ARRAY_DEPTH);
            int typeId = readI32();
            GgufValueType et = GgufValueType.byId(typeId);
            if (et == null) throw new GgufException(path, context + ": unknown array element type id " + typeId);
            long n = readI64();
            // Every element takes at least one byte (strings: 8): a count beyond the file is a corrupt file.
            long minBytes = et == GgufValueType.STRING || et == GgufValueType.ARRAY ? 8 : et.size;
            if (n < 0 || n > (size - pos) / minBytes)
                throw new GgufException(path, context + ": array of " + Long.toUnsignedString(n) + " " + et
                        + " elements at offset " + pos + " does not fit in the file (" + size + " bytes): truncated or corrupt");
            int len = (int) n;
            return switch (et) {
                case UINT8, INT8 -> {
                    int[] a = new int[len];
                    for (int i = 0; i < len; i++) a[i] = et == GgufValueType.UINT8 ? readByte() & 0xFF : readByte();
                    yield new GgufValue.GgufArray(et, a);
                }
                case UINT16, INT16 -> {
                    int[] a = new int[len];
                    for (int i = 0; i < len; i++) a[i] = et == GgufValueType.UINT16 ? readI16() & 0xFFFF : readI16();
                    yield new GgufValue.GgufArray(et, a);
                }
                case UINT32, INT32 -> {
                    need(4L * len);
                    int[] a = new int[len];
                    MemorySegment.copy(seg, I32, pos, a, 0, len);
                    pos += 4L * len;
                    yield new GgufValue.GgufArray(et, a);
                }
                case UINT64, INT64 -> {
                    need(8L * len);
                    long[] a = new long[len];
                    MemorySegment.copy(seg, I64, pos, a, 0, len);
                    pos += 8L * len;
                    yield new GgufValue.GgufArray(et, a);
                }
                case FLOAT32 -> {
                    need(4L * len);
                    float[] a = new float[len];
                    MemorySegment.copy(seg, F32, pos, a, 0, len);
                    pos += 4L * len;
                    yield new GgufValue.GgufArray(et, a);
                }
                case FLOAT64 -> {
                    need(8L * len);
                    double[] a = new double[len];
                    MemorySegment.copy(seg, F64, pos, a, 0, len);
                    pos += 8L * len;
                    yield new GgufValue.GgufArray(et, a);
                }
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) a[i] = readByte() != 0;
                    yield new GgufValue.GgufArray(et, a);
                }
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) a[i] = readString();
                    yield new GgufValue.GgufArray(et, a);
                }
                case ARRAY -> {
                    GgufValue.GgufArray[] a = new GgufValue.GgufArray[len];
                    for (int i = 0; i < len; i++) a[i] = readArray(depth + 1);
                    yield new GgufValue.GgufArray(et, a);
                }
            };
        }

        private void need(long n) {
            if (n < 0 || pos + n > size)
                throw new GgufException(path, "truncated file: " + context + " needs bytes [" + pos + ", "
                        + (pos + n) + ") but the file ends at " + size);
        }

        private byte readByte() {
            need(1);
            return seg.get(ValueLayout.JAVA_BYTE, pos++);
        }

        private short readI16() {
            need(2);
            short v = seg.get(I16, pos);
            pos += 2;
            return v;
        }

        private int readI32() {
            need(4);
            int v = seg.get(I32, pos);
            pos += 4;
            return v;
        }

        private long readI64() {
            need(8);
            long v = seg.get(I64, pos);
            pos += 8;
            return v;
        }

        private long readU64Count(String what) {
            long v = readI64();
            if (v < 0 || v > size) throw new GgufException(path, "corrupt header: " + what + " " + Long.toUnsignedString(v)
                    + " is impossible for a file of " + size + " bytes");
            return v;
        }

        private float readF32() {
            need(4);
            float v = seg.get(F32, pos);
            pos += 4;
            return v;
        }

        private double readF64() {
            need(8);
            double v = seg.get(F64, pos);
            pos += 8;
            return v;
        }

        private String readString() {
            long len = readI64();
            if (len < 0 || len > size - pos)
                throw new GgufException(path, "truncated file: " + context + " has a string of "
                        + Long.toUnsignedString(len) + " bytes at offset " + (pos - 8) + " but the file ends at " + size);
            byte[] b = new byte[(int) len];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, b.length);
            pos += len;
            return new String(b, StandardCharsets.UTF_8);
        }

        private String hex(long from, int n) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < n && from + i < size; i++) {
                if (i > 0) sb.append(' ');
                sb.append(String.format("%02x", seg.get(ValueLayout.JAVA_BYTE, from + i) & 0xFF));
            }
            return sb.toString();
        }
    }

    static long alignUp(long v, long alignment) {
        return (v + alignment - 1) / alignment * alignment;
    }
}
