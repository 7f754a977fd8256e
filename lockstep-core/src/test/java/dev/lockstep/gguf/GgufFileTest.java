package dev.lockstep.gguf;

import dev.lockstep.Fixtures;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufFileTest {
    @TempDir
    Path tmp;

    private static GgufWriter sample() {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.put("u8", new GgufValue(GgufValueType.UINT8, 200L));
        w.put("i8", new GgufValue(GgufValueType.INT8, -5L));
        w.put("u16", new GgufValue(GgufValueType.UINT16, 65535L));
        w.put("i16", new GgufValue(GgufValueType.INT16, -300L));
        w.putUInt32("u32", 4294967295L);
        w.put("i32", GgufValue.ofInt32(-7));
        w.put("u64", GgufValue.ofUInt64(1L << 40));
        w.put("i64", new GgufValue(GgufValueType.INT64, -(1L << 40)));
        w.putFloat32("f32", 0.25f);
        w.put("f64", new GgufValue(GgufValueType.FLOAT64, Math.PI));
        w.putBool("bool", true);
        w.putString("str", "héllo ▁ wörld");
        w.put("arr.str", GgufValue.ofArray(GgufValue.GgufArray.ofStrings("a", "", "ü")));
        w.put("arr.f32", GgufValue.ofArray(GgufValue.GgufArray.ofFloats(1f, -2f)));
        w.put("arr.i32", GgufValue.ofArray(GgufValue.GgufArray.ofInt32s(1, 2, 3)));
        w.put("arr.u8", GgufValue.ofArray(new GgufValue.GgufArray(GgufValueType.UINT8, new int[]{0, 255})));
        w.put("arr.bool", GgufValue.ofArray(new GgufValue.GgufArray(GgufValueType.BOOL, new boolean[]{true, false})));
        w.put("arr.f64", GgufValue.ofArray(new GgufValue.GgufArray(GgufValueType.FLOAT64, new double[]{1.5})));
        w.put("arr.u64", GgufValue.ofArray(new GgufValue.GgufArray(GgufValueType.UINT64, new long[]{7L})));
        w.put("arr.nested", GgufValue.ofArray(new GgufValue.GgufArray(GgufValueType.ARRAY, new GgufValue.GgufArray[]{
                GgufValue.GgufArray.ofInt32s(1), GgufValue.GgufArray.ofStrings("x", "y")})));
        float[] m = new float[4 * 3];
        for (int i = 0; i < m.length; i++) m[i] = i * 0.5f;
        w.addF32("matrix", new long[]{4, 3}, m);
        w.addRaw("q8", GgmlType.Q8_0, new long[]{32}, new byte[34]);
        w.addF32("vector", new long[]{5}, new float[]{1, 2, 3, 4, 5});
        return w;
    }

    @Test
    void roundTripsEveryValueTypeAndTensor() {
        Path p = tmp.resolve("rt.gguf");
        GgufWriter w = sample();
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(3, f.version());
            assertEquals(w.metadata(), f.metadata());
            assertEquals(3, f.tensors().size());
            TensorInfo t = f.tensor("matrix");
            assertArrayEquals(new long[]{4, 3}, t.dims());
            assertEquals(0, t.offset());
            assertEquals(0, f.dataStart() % 32);
            for (TensorInfo ti : f.tensors().values()) assertEquals(0, ti.offset() % 32, ti.name());
            assertEquals(5.5f, f.tensorData(t).get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 11 * 4));
            assertEquals(4294967295L, f.getLong("u32"));
            assertEquals("héllo ▁ wörld", f.getString("str"));
            assertArrayEquals(new String[]{"a", "", "ü"}, f.getStringArray("arr.str"));
            assertEquals(GgufValueType.UINT8, f.value("u8").type());
        }
        // writing what was read gives the same bytes
        Path p2 = tmp.resolve("rt2.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            GgufWriter w2 = new GgufWriter();
            f.metadata().forEach(w2::put);
            for (TensorInfo t : f.tensors().values()) w2.addTensor(t.name(), t.type(), t.dims(), s -> s.write(f.tensorData(t)));
            w2.write(p2);
        }
        try {
            assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(p2));
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void honoursCustomAlignment() {
        Path p = tmp.resolve("al.gguf");
        GgufWriter w = new GgufWriter();
        w.putUInt32("general.alignment", 64);
        w.addF32("a", new long[]{3}, new float[]{1, 2, 3});
        w.addF32("b", new long[]{3}, new float[]{4, 5, 6});
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataStart() % 64);
            assertEquals(64, f.tensor("b").offset());
        }
    }

    @Test
    void readsEveryFixtureFile() throws IOException {
        try (var files = Files.walk(Fixtures.dir())) {
            for (Path p : files.filter(x -> x.toString().endsWith(".gguf")).toList()) {
                try (GgufFile f = GgufFile.open(p)) {
                    assertTrue(f.tensors().size() > 0 || f.has("tokenizer.ggml.tokens"), p.toString());
                }
            }
        }
    }

    // ---------------------------------------------------------------- bad files

    private Path write(String name, GgufWriter w) {
        Path p = tmp.resolve(name);
        w.write(p);
        return p;
    }

    private Path mutate(String name, Consumer<ByteBuffer> edit) throws IOException {
        Path p = write(name, sample());
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        edit.accept(b);
        Files.write(p, b.array());
        return p;
    }

    private static String error(Path p) {
        GgufException e = assertThrows(GgufException.class, () -> GgufFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString()), "message names the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void wrongMagic() throws IOException {
        Path p = mutate("magic.gguf", b -> b.put(0, (byte) 'X'));
        assertTrue(error(p).contains("not a GGUF file: magic bytes are 58 47 55 46"), error(p));
    }

    @Test
    void llama2cCheckpointGetsAHint() {
        String m = error(Fixtures.file("aidreams/aidreams260K.bin"));
        assertTrue(m.contains("llama2.c"), m);
    }

    @Test
    void unsupportedVersion() throws IOException {
        assertTrue(error(mutate("v1.gguf", b -> b.putInt(4, 1))).contains("unsupported GGUF version 1; supported versions are 2 and 3"));
        assertTrue(error(mutate("v9.gguf", b -> b.putInt(4, 9))).contains("unsupported GGUF version 9"));
    }

    @Test
    void truncatedMetadata() throws IOException {
        Path full = write("full.gguf", sample());
        byte[] all = Files.readAllBytes(full);
        Path p = tmp.resolve("trunc.gguf");
        Files.write(p, Arrays.copyOf(all, 200));
        String m = error(p);
        assertTrue(m.contains("truncated file: metadata entry #"), m);
    }

    @Test
    void truncatedTensorData() throws IOException {
        Path full = write("full2.gguf", sample());
        byte[] all = Files.readAllBytes(full);
        Path p = tmp.resolve("trunc2.gguf");
        Files.write(p, Arrays.copyOf(all, all.length - 16));
        String m = error(p);
        assertTrue(m.contains("tensor 'vector'") && m.contains("truncated or the tensor lies out of bounds"), m);
    }

    @Test
    void tensorOutOfBounds() throws IOException {
        GgufWriter w = new GgufWriter();
        w.addF32("t", new long[]{4}, new float[4]);
        Path p = write("oob.gguf", w);
        byte[] b = Files.readAllBytes(p);
        // the tensor's u64 offset is the last 8 bytes of its info, just before the padding
        int nameAt = indexOf(b, "t".getBytes());
        int offsetAt = nameAt + 1 + 4 + 8 + 4;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(offsetAt, 1L << 20);
        Files.write(p, b);
        String m = error(p);
        assertTrue(m.contains("tensor 't' (F32 [4]) needs bytes [") && m.contains("out of bounds"), m);
    }

    @Test
    void unknownTensorType() throws IOException {
        GgufWriter w = new GgufWriter();
        w.addF32("tt", new long[]{4}, new float[4]);
        Path p = write("type.gguf", w);
        byte[] b = Files.readAllBytes(p);
        int typeAt = indexOf(b, "tt".getBytes()) + 2 + 4 + 8;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(typeAt, 99);
        Files.write(p, b);
        assertTrue(error(p).contains("tensor 'tt' (info #0 at offset 24): unknown tensor type id 99"), error(p));
    }

    @Test
    void unknownValueType() throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("k", "v");
        Path p = write("vt.gguf", w);
        byte[] b = Files.readAllBytes(p);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(24 + 8 + 1, 77);
        Files.write(p, b);
        assertTrue(error(p).contains("metadata key 'k' (entry #0 at offset 24): unknown value type id 77"), error(p));
    }

    @Test
    void emptyAndMissingFiles() throws IOException {
        Path p = tmp.resolve("empty.gguf");
        Files.write(p, new byte[0]);
        assertTrue(error(p).contains("not a GGUF file: it has only 0 bytes"));
        assertTrue(error(tmp.resolve("nope.gguf")).endsWith("no such file"));
    }

    @Test
    void unknownArchitectureListsTheSupportedOnes() {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "gpt-j");
        Path p = write("arch.gguf", w);
        try (GgufFile f = GgufFile.open(p)) {
            GgufException e = assertThrows(GgufException.class, () -> ModelLoader.load(f));
            assertTrue(e.getMessage().contains("unknown architecture 'gpt-j'; supported: llama, mistral, qwen2, qwen3"),
                    e.getMessage());
        }
    }

    @Test
    void missingKeyAndTensorAreNamed() {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.addF32("token_embd.weight", new long[]{8, 4}, new float[32]);
        Path p = write("nokey.gguf", w);
        try (GgufFile f = GgufFile.open(p)) {
            GgufException e = assertThrows(GgufException.class, () -> new Transformer(f, "llama"));
            assertTrue(e.getMessage().contains("missing required metadata key 'llama.embedding_length'"), e.getMessage());
        }
        w.putUInt32("llama.embedding_length", 8).putUInt32("llama.block_count", 1).putUInt32("llama.attention.head_count", 2)
                .putUInt32("llama.feed_forward_length", 16);
        Path p2 = write("notensor.gguf", w);
        try (GgufFile f = GgufFile.open(p2)) {
            GgufException e = assertThrows(GgufException.class, () -> new Transformer(f, "llama"));
            assertTrue(e.getMessage().contains("missing required tensor 'blk.0.attn_norm.weight'"), e.getMessage());
        }
    }

    @Test
    void filesLargerThan2GiBAreMappedNotCopied() throws IOException {
        long rows = 3L << 18, cols = 1024; // 3 GiB of F32, sparse on disk
        long bytes = rows * cols * 4;
        ByteBuffer h = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(GgufFile.MAGIC).putInt(3).putLong(1).putLong(0);           // header: 1 tensor, 0 keys
        h.putLong(1).put((byte) 'w').putInt(2).putLong(cols).putLong(rows); // tensor info "w" {cols, rows}
        h.putInt(GgmlType.F32.id).putLong(0);
        long dataStart = (h.position() + 31) / 32 * 32;
        Path p = tmp.resolve("big.gguf");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.write(h.array(), 0, h.position());
            raf.setLength(dataStart + bytes);
            raf.seek(dataStart + bytes - 4);
            raf.write(new byte[]{0, 0, (byte) 0x80, 0x3f}); // 1.0f: the very last value
        }
        long t0 = System.nanoTime();
        try (GgufFile f = GgufFile.open(p)) {
            System.out.printf("opened a %d MiB GGUF file in %.1f ms%n", f.fileSize() >> 20, (System.nanoTime() - t0) / 1e6);
            TensorInfo t = f.tensor("w");
            assertEquals(bytes, t.byteSize());
            assertTrue(f.fileSize() > Integer.MAX_VALUE);
            assertEquals(dataStart, f.dataStart());
            assertEquals(1.0f, f.tensorData(t).get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), bytes - 4));
            assertTrue(f.tensorData(t).isMapped(), "tensor data is a view of the mapped file");
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new IllegalArgumentException("not found");
    }
}
