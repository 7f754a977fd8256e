package dev.lockstep.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.LockstepException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@code .safetensors} file (Hugging Face): an 8-byte little-endian header length, a JSON header
 * mapping each tensor name to {dtype, shape, data_offsets}, then the raw data. F32, F16 and BF16
 * tensors are read as float32.
 */
public final class Safetensors {
    public record Tensor(String name, String dtype, long[] shape, long begin, long end) {
        public long count() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private final Path path;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final long dataStart;
    private final FileChannel ch;

    public Safetensors(Path path) {
        this.path = path;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
            long size = ch.size();
            if (size < 8) throw bad("the file is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            long n = len.getLong(0);
            if (n <= 0 || n > Math.min(size - 8, 100L << 20)) throw bad("header length " + n + " is impossible for a file of " + size + " bytes");
            ByteBuffer hdr = ByteBuffer.allocate((int) n);
            ch.read(hdr, 8);
            dataStart = 8 + n;
            JsonNode root = new ObjectMapper().readTree(hdr.array());
            for (var it = root.fields(); it.hasNext(); ) {
                var e = it.next();
                if (e.getKey().equals("__metadata__")) continue;
                JsonNode t = e.getValue();
                JsonNode sh = t.get("shape"), off = t.get("data_offsets");
                if (sh == null || off == null || off.size() != 2 || t.get("dtype") == null)
                    throw bad("tensor '" + e.getKey() + "' lacks dtype, shape or data_offsets");
                long[] shape = new long[sh.size()];
                for (int i = 0; i < shape.length; i++) shape[i] = sh.get(i).asLong();
                Tensor tt = new Tensor(e.getKey(), t.get("dtype").asText(), shape, off.get(0).asLong(), off.get(1).asLong());
                int width = switch (tt.dtype()) {
                    case "F32" -> 4;
                    case "F16", "BF16" -> 2;
                    default -> throw bad("tensor '" + tt.name() + "' has dtype " + tt.dtype() + "; supported: F32, F16, BF16");
                };
                if (tt.end() - tt.begin() != tt.count() * width || dataStart + tt.end() > size)
                    throw bad("tensor '" + tt.name() + "' data [" + tt.begin() + ", " + tt.end() + ") does not match its shape or lies "
                            + "outside the file");
                tensors.put(tt.name(), tt);
            }
        } catch (IOException e) {
            throw new LockstepException(path + ": cannot read: " + e.getMessage());
        }
    }

    private LockstepException bad(String why) {
        return new LockstepException(path + ": not a valid safetensors file: " + why);
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Tensor tensor(String name) {
        return tensors.get(name);
    }

    /** The tensor's values as float32, row-major. */
    public float[] floats(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new LockstepException(path + ": missing tensor '" + name + "'");
        int n = Math.toIntExact(t.count());
        ByteBuffer b = ByteBuffer.allocate((int) (t.end() - t.begin())).order(ByteOrder.LITTLE_ENDIAN);
        try {
            ch.read(b, dataStart + t.begin());
        } catch (IOException e) {
            throw new LockstepException(path + ": cannot read tensor '" + name + "': " + e.getMessage());
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++)
            out[i] = switch (t.dtype()) {
                case "F32" -> b.getFloat(4 * i);
                case "F16" -> Float.float16ToFloat(b.getShort(2 * i));
                default -> Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16);
            };
        return out;
    }

    /** Writes tensors as a float32 safetensors file (used by tests to build reference checkpoints). */
    public static void writeF32(Path out, Map<String, long[]> shapes, Map<String, float[]> data) {
        try {
            Map<String, Object> header = new LinkedHashMap<>();
            long off = 0;
            for (var e : shapes.entrySet()) {
                long bytes = 4L * data.get(e.getKey()).length;
                header.put(e.getKey(), Map.of("dtype", "F32", "shape", e.getValue(), "data_offsets", new long[]{off, off + bytes}));
                off += bytes;
            }
            byte[] h = new ObjectMapper().writeValueAsBytes(header);
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(8 + h.length + off)).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(h.length).put(h);
            for (String k : shapes.keySet()) for (float v : data.get(k)) b.putFloat(v);
            java.nio.file.Files.write(out, b.array());
        } catch (IOException e) {
            throw new LockstepException(out + ": cannot write: " + e.getMessage());
        }
    }

    public void close() {
        try {
            ch.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
