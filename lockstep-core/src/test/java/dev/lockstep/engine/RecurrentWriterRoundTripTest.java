package dev.lockstep.engine;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.sampling.SamplingParams;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
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
            Random rnd = new Random(name.hashCode());
            List<GenerationRequest> reqs = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                int[] p = new int[1 + rnd.nextInt(30)];
                for (int j = 0; j < p.length; j++) p[j] = rnd.nextInt(37);
                SamplingParams sp = i % 2 == 0 ? SamplingParams.GREEDY : new SamplingParams(0.8f, 0, 1f, 0f, 1f, 64, 0f, 0f, i);
                reqs.add(new GenerationRequest(p, sp, 4 + rnd.nextInt(20), List.of(), true, 2, false, 0));
            }
            List<GenerationResult> solo = new ArrayList<>();
            try (Engine e = new Engine(m, null, EngineConfig.defaults().withThreads(1).withMaxSeqs(1))) {
                for (GenerationRequest r : reqs) solo.add(e.generate(r));
            }
            for (int step : new int[]{1, 7}) {
                try (Engine e = new Engine(m, null, EngineConfig.defaults().withThreads(2).withMaxSeqs(5).withMaxBatchTokens(step))) {
                    List<RequestHandle> hs = new ArrayList<>();
                    for (GenerationRequest r : reqs) hs.add(e.submit(r));
                    for (int i = 0; i < reqs.size(); i++)
                        assertNull(EngineHarness.difference(solo.get(i), hs.get(i).await()), name + " request " + i + " step " + step);
                }
            }
        }
    }
}
