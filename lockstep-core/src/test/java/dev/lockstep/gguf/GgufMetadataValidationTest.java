package dev.lockstep.gguf;

import dev.lockstep.Fixtures;
import dev.lockstep.LockstepException;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metadata values of the hardening issue that reached "internal error": each is now a one-line
 * error at load naming the key and its range, before anything is sized by it; NaN weights end the
 * request with an error saying so (never a NaN logprob).
 */
class GgufMetadataValidationTest {
    private static final String BASE = "models/tiny-llama-f32.gguf";

    @TempDir
    Path dir;

    @Test
    void absurdHyperParametersAreRefusedByKey() {
        refused(w -> w.putUInt32("llama.rope.dimension_count", 0), "'llama.rope.dimension_count' = 0 is out of range");
        refused(w -> w.putUInt32("llama.context_length", Integer.MAX_VALUE), "'llama.context_length' = 2147483647 is out of range");
        refused(w -> w.putUInt32("llama.block_count", 0), "'llama.block_count' = 0 is out of range (1 to 4096)");
        refused(w -> w.putFloat32("llama.attention.layer_norm_rms_epsilon", Float.NaN), "layer_norm_rms_epsilon' = NaN is out of range");
        refused(w -> w.putFloat32("llama.attention.layer_norm_rms_epsilon", -1e-5f), "layer_norm_rms_epsilon' = -1.0E-5 is out of range");
        refused(w -> w.putFloat32("llama.rope.freq_base", Float.POSITIVE_INFINITY), "'llama.rope.freq_base' = Infinity is out of range");
        refused(w -> w.putUInt32("llama.attention.head_count", 0), "'llama.attention.head_count' = 0 is out of range");
        refused(w -> w.putUInt32("llama.embedding_length", 1 << 30), "'llama.embedding_length' = 1073741824 is out of range");
    }

    @Test
    void dimensionsWhoseProductOverflowsAreRefusedAtOpen() {
        Path bad = rewrite(w -> {
            long[] huge = {1L << 32, 1L << 32, 1L << 32};
            w.addRaw("overflow", GgmlType.F32, huge, new byte[0]); // its dims alone: the data is never reached
        });
        GgufException e = assertThrows(GgufException.class, () -> GgufFile.open(bad).close());
        assertTrue(e.getMessage().contains("hold more than 2^48 values"), e.getMessage());
    }

    @Test
    void nanWeightsEndTheRequestWithAnErrorNotANanLogprob() throws Exception {
        Path bad = rewrite(w -> {}, "output_norm.weight");
        try (GgufFile f = GgufFile.open(bad);
             Engine e = new Engine(ModelLoader.load(f), Tokenizer.fromGguf(f), EngineConfig.defaults().withThreads(1))) {
            GenerationResult r = e.generate(GenerationRequest.greedy(new int[]{1, 5, 9}, 4).withLogprobs(2));
            assertEquals(FinishReason.ERROR, r.reason());
            assertTrue(r.finish().message().contains("NaN as the logit of token"), r.finish().message());
            assertEquals(0, r.tokens().length);
        }
    }

    private void refused(Consumer<GgufWriter> change, String fragment) {
        Path bad = rewrite(change);
        LockstepException e = assertThrows(LockstepException.class, () -> {
            try (GgufFile f = GgufFile.open(bad)) {
                ModelLoader.load(f);
            }
        });
        assertTrue(e.getMessage().contains(fragment) && !e.getMessage().contains("\n"), e.getMessage());
    }

    private Path rewrite(Consumer<GgufWriter> change, String... nanTensors) {
        Path out = dir.resolve("rewritten-" + System.nanoTime() + ".gguf");
        try (GgufFile f = GgufFile.open(Fixtures.file(BASE))) {
            GgufWriter w = new GgufWriter();
            f.metadata().forEach(w::put);
            for (TensorInfo t : f.tensors().values()) {
                byte[] data = f.tensorData(t).toArray(ValueLayout.JAVA_BYTE);
                if (java.util.Arrays.asList(nanTensors).contains(t.name())) {
                    if (t.type() != GgmlType.F32) throw new IllegalStateException(t.name() + " is " + t.type());
                    for (int i = 0; i < data.length; i += 4) { data[i] = 0; data[i + 1] = 0; data[i + 2] = (byte) 0xC0; data[i + 3] = 0x7F; }
                }
                w.addRaw(t.name(), t.type(), t.dims(), data);
            }
            change.accept(w);
            w.write(out);
        }
        return out;
    }
}
