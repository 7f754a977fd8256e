package dev.lockstep.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Activations;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.InputStream;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Embeddings against llama.cpp's {@code llama-embedding} on the same fixture files and texts
 * (resources/embeddings/README.md says how they were made), and the same-bits promise: an input's
 * vector does not depend on what was embedded before, on the chunk size or on the thread count.
 */
class EmbedderTest {
    static final List<String> TEXTS = List.of("Once upon a time, there was a little girl", "The cat sat on the mat.", "Hello");

    /**
     * Tolerance: llama.cpp sums in its own orders (attention, norms, the pooling as a matrix product),
     * so the vectors agree to f32 rounding, not bit for bit; measured (the JSON of {@code lockstep embed}
     * against these files): largest difference per component 5.3e-5 to 1.5e-4, cosine similarity
     * 1 - 1.2e-7 or closer; the test allows 1e-3 and 1 - 1e-5.
     */
    @ParameterizedTest
    @CsvSource({"aidreams/aidreams260K-f32, mean", "aidreams/aidreams260K-f32, last", "models/tiny-qwen3-f32, mean",
            "models/tiny-llama-f32, last"})
    void matchesLlamaCppEmbedding(String fixture, String pooling) throws Exception {
        String name = fixture.substring(fixture.indexOf('/') + 1);
        JsonNode ref;
        try (InputStream in = getClass().getResourceAsStream("/embeddings/llamacpp-" + name + "-" + pooling + ".json")) {
            assertNotNull(in, "missing reference for " + name + " " + pooling);
            ref = new ObjectMapper().readTree(in);
        }
        try (GgufFile f = GgufFile.open(Fixtures.file(fixture + ".gguf"));
             Embedder e = new Embedder(ModelLoader.load(f), 2, Activations.F32)) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            for (int i = 0; i < TEXTS.size(); i++) {
                float[] got = e.embed(tok.encode(TEXTS.get(i), true, false), Embedder.Pooling.parse(pooling), true);
                JsonNode want = ref.get("data").get(i).get("embedding");
                assertEquals(want.size(), got.length);
                double dot = 0, maxDiff = 0;
                for (int j = 0; j < got.length; j++) {
                    dot += got[j] * want.get(j).asDouble();
                    maxDiff = Math.max(maxDiff, Math.abs(got[j] - want.get(j).asDouble()));
                }
                assertTrue(maxDiff < 1e-3 && dot > 0.99999, name + " " + pooling + " text " + i + ": max diff " + maxDiff + ", cosine " + dot);
            }
        }
    }

    @Test
    void theSameBitsWhateverCameBeforeTheChunkSizeAndTheThreads() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.file("models/tiny-llama-f32.gguf"))) {
            Model m = ModelLoader.load(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            int[] probe = tok.encode("The same bits every time, whatever else is embedded with it, however it is chunked.", true, false);
            float[] solo;
            try (Embedder e = new Embedder(m, 1, Activations.F32)) {
                solo = e.embed(probe, Embedder.Pooling.MEAN, true);
            }
            try (Embedder e = new Embedder(m, 2, Activations.F32, 7)) { // another thread count, chunks of 7 tokens
                for (String t : TEXTS) e.embed(tok.encode(t, true, false), Embedder.Pooling.MEAN, true);
                assertArrayEquals(solo, e.embed(probe, Embedder.Pooling.MEAN, true));
            }
            float[] raw;
            try (Embedder e = new Embedder(m, 2, Activations.F32)) {
                raw = e.embed(probe, Embedder.Pooling.MEAN, false);
            }
            float[] scaled = Arrays.copyOf(raw, raw.length);
            Embedder.normalize(scaled);
            assertArrayEquals(solo, scaled, "normalizing is the last step");
            double norm = 0;
            for (float x : solo) norm += (double) x * x;
            assertEquals(1.0, norm, 1e-5);
        }
    }

    @Test
    void refusesWhatItCannotEmbed() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.file("models/tiny-llama-f32.gguf"));
             Embedder e = new Embedder(ModelLoader.load(f), 1, Activations.F32)) {
            assertTrue(assertThrows(dev.lockstep.LockstepException.class, () -> e.embed(new int[0], Embedder.Pooling.MEAN, true))
                    .getMessage().contains("no tokens"));
            int[] tooLong = new int[e.maxTokens() + 1];
            assertTrue(assertThrows(dev.lockstep.LockstepException.class, () -> e.embed(tooLong, Embedder.Pooling.MEAN, true))
                    .getMessage().contains("longer than the " + e.maxTokens() + " this model embeds"));
            assertTrue(assertThrows(dev.lockstep.LockstepException.class, () -> Embedder.Pooling.parse("max"))
                    .getMessage().contains("pooling must be mean, cls or last"));
        }
        try (GgufFile f = GgufFile.open(Fixtures.file("models/tiny-mamba-f32.gguf"))) {
            Model m = ModelLoader.load(f);
            assertTrue(assertThrows(dev.lockstep.LockstepException.class, () -> new Embedder(m, 1, Activations.F32))
                    .getMessage().contains("no embedding output"));
        }
    }
}
