package dev.lockstep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shared read-only test data beside the checkout ({@code ../shared/fixtures}). A missing folder
 * fails the test with a message; it never skips.
 */
public final class Fixtures {
    private Fixtures() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The project root: from the {@code lockstep.root} property Maven sets, else the working directory's ancestors. */
    public static Path projectRoot() {
        String p = System.getProperty("lockstep.root");
        if (p != null && !p.isBlank()) return Path.of(p).toAbsolutePath().normalize();
        Path d = Path.of("").toAbsolutePath();
        while (d != null && !Files.exists(d.resolve("bin/lockstep"))) d = d.getParent();
        if (d == null) throw new IllegalStateException("cannot find the Lockstep project root from " + Path.of("").toAbsolutePath());
        return d;
    }

    public static Path dir() {
        Path d = projectRoot().resolve("../shared/fixtures").normalize();
        if (!Files.isDirectory(d))
            throw new IllegalStateException("test fixtures not found at " + d + " (expected ../shared/fixtures beside the "
                    + "checkout; see DEVELOPERS.md)");
        return d;
    }

    public static Path file(String relative) {
        Path f = dir().resolve(relative);
        if (!Files.exists(f)) throw new IllegalStateException("fixture missing: " + f);
        return f;
    }

    public static JsonNode json(String relative) {
        try {
            return JSON.readTree(file(relative).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A float32 tensor of a reference case ({@code mamba/}, {@code ttt/}): {@code <case>.json} indexes
     * {@code <case>.bin} by name, byte offset and count. Null when the case has no such tensor.
     */
    public static float[] floatsOrNull(String caseName, String tensor) {
        JsonNode idx = json(caseName + ".json");
        for (JsonNode e : idx.get("tensors")) {
            if (!e.get("name").asText().equals(tensor)) continue;
            ByteBuffer data = BINS.computeIfAbsent(caseName, c -> {
                try {
                    return ByteBuffer.wrap(Files.readAllBytes(file(c + ".bin"))).order(ByteOrder.LITTLE_ENDIAN);
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            });
            float[] out = new float[e.get("count").asInt()];
            int off = e.get("offset").asInt();
            for (int i = 0; i < out.length; i++) out[i] = data.getFloat(off + 4 * i);
            return out;
        }
        return null;
    }

    /** As {@link #floatsOrNull}, failing when the tensor is absent. */
    public static float[] floats(String caseName, String tensor) {
        float[] f = floatsOrNull(caseName, tensor);
        if (f == null) throw new IllegalStateException("fixture " + caseName + ".json has no tensor '" + tensor + "'");
        return f;
    }

    private static final java.util.Map<String, ByteBuffer> BINS = new java.util.concurrent.ConcurrentHashMap<>();

    public static int[] ints(JsonNode arr) {
        int[] r = new int[arr.size()];
        for (int i = 0; i < r.length; i++) r[i] = arr.get(i).asInt();
        return r;
    }
}
