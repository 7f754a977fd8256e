package dev.lockstep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
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

    public static int[] ints(JsonNode arr) {
        int[] r = new int[arr.size()];
        for (int i = 0; i < r.length; i++) r[i] = arr.get(i).asInt();
        return r;
    }
}
