package dev.lockstep;

import dev.lockstep.gguf.GgufFile;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;

import java.util.concurrent.ConcurrentHashMap;

/** Fixture models opened once per test JVM (the files are read-only and mapped). */
public final class TestModels {
    private TestModels() {}

    public record Loaded(GgufFile file, Model model, Tokenizer tokenizer) {}

    private static final ConcurrentHashMap<String, Loaded> CACHE = new ConcurrentHashMap<>();

    /** e.g. {@code "models/tiny-llama-f32"} or {@code "aidreams/aidreams260K-q8_0"}. */
    public static Loaded get(String name) {
        return CACHE.computeIfAbsent(name, n -> {
            GgufFile f = GgufFile.open(Fixtures.file(n + ".gguf"));
            return new Loaded(f, ModelLoader.load(f), Tokenizer.fromGguf(f));
        });
    }
}
