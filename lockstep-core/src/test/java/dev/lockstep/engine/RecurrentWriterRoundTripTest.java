package dev.lockstep.engine;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Mamba-1 and Mamba-2 models written by Lockstep's own GGUF writer (the one-block fixture models,
 * re-written tensor by tensor), served by the engine: many requests batched with 1..7-token steps give
 * every request the tokens and logprob bits of its solo run.
 */
class RecurrentWriterRoundTripTest {

    @ParameterizedTest
    @ValueSource(strings = {"mamba1_block", "mamba2_block"})
    void batchedRunsEqualSoloRuns(String name, @TempDir Path tmp) throws Exception {
        Path out = tmp.resolve(name + ".gguf");
        try (GgufFile src = GgufFile.open(Fixtures.file("mamba/" + name + ".gguf"))) {
            GgufWriter w = new GgufWriter().copyMetadata(src, "");
            for (TensorInfo t : src.tensors().values())
                w.addRaw(t.name(), t.type(), t.dims(), src.tensorData(t).toArray(ValueLayout.JAVA_BYTE));
            w.write(out);
        }
        try (GgufFile f = GgufFile.open(out)) {
            Model m = ModelLoader.load(f);
            List<GenerationRequest> reqs = SoloVsBatched.mixedRequests(new Random(name.hashCode()), 12, 37, 30, 4, 20, 0.8f);
            SoloVsBatched.assertBatchedEqualsSolo(m, reqs,
                    EngineConfig.defaults().withThreads(2).withMaxSeqs(5).withMaxBatchTokens(1),
                    EngineConfig.defaults().withThreads(2).withMaxSeqs(5).withMaxBatchTokens(7));
        }
    }
}
