package dev.lockstep.convert;

import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.SoloVsBatched;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The recurrent synth presets (tiny versions of the Mamba-130M, Mamba-2-370M and TTT-Linear-125M layouts): the file is
 * the same bytes for the same seed, loads with the shape it was given, and serves batched requests
 * token by token (one token per step) and in steps of 5 and 64 tokens (the projections of a step's
 * tokens at once) with the bits of their solo runs.
 */
class RecurrentSynthesizerTest {
    @ParameterizedTest
    @ValueSource(strings = {"mamba-tiny", "mamba2-tiny", "ttt-tiny"})
    void aSynthesizedRecurrentModelLoadsAndRuns(String preset, @TempDir Path tmp) throws Exception {
        RecurrentSynthesizer.Preset p = RecurrentSynthesizer.find(preset);
        Path a = tmp.resolve("a.gguf"), b = tmp.resolve("b.gguf");
        RecurrentSynthesizer.plan(p, QuantPolicy.parse("F32", false), 5).write(a, x -> { });
        RecurrentSynthesizer.plan(p, QuantPolicy.parse("F32", false), 5).write(b, x -> { });
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "same seed, same file");
        try (GgufFile f = GgufFile.open(a)) {
            Model m = ModelLoader.load(f);
            assertEquals(p.arch(), m.architecture());
            assertEquals(p.vocab(), m.vocabSize());
            assertEquals(p.inner(), f.getInt(p.arch() + (p.arch().equals("ttt") ? ".feed_forward_length" : ".ssm.inner_size")));
            List<GenerationRequest> reqs = SoloVsBatched.mixedRequests(new Random(preset.hashCode()), 6, p.vocab(), 40, 3, 12, 0.8f);
            SoloVsBatched.assertBatchedEqualsSolo(m, reqs, EngineConfig.defaults().withThreads(2).withMaxSeqs(3).withMaxBatchTokens(1),
                    EngineConfig.defaults().withThreads(2).withMaxSeqs(3).withMaxBatchTokens(5),
                    EngineConfig.defaults().withThreads(2).withMaxSeqs(3).withMaxBatchTokens(64));
        }
    }
}
