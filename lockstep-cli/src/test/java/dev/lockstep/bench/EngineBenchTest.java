package dev.lockstep.bench;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.model.TransformerConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineBenchTest {
    /**
     * The prompt pass's matrix FLOPs, counted from the tensors, equal the count from the architecture:
     * per layer and token 2 x (q, k, v, o, gate, up, down), plus the output matrix once.
     */
    @ParameterizedTest
    @ValueSource(strings = {"models/tiny-llama-f32.gguf", "models/tiny-qwen3-q8_0.gguf", "aidreams/aidreams260K-f32.gguf"})
    void promptMatrixFlopsFollowTheArchitecture(String fixture) {
        try (GgufFile f = GgufFile.open(Fixtures.file(fixture))) {
            Model m = ModelLoader.load(f);
            TransformerConfig c = TransformerConfig.from(f, m.architecture(), m.vocabSize());
            double perLayer = (double) c.dim() * c.qDim() * 2 + (double) c.dim() * c.kvDim() * 2 + 3.0 * c.dim() * c.ffDim();
            int tokens = 37;
            double expected = 2 * (c.layers() * perLayer * tokens + (double) c.vocabSize() * c.dim());
            assertEquals(expected, EngineBench.promptMatrixFlops(m, tokens), 0.0, fixture);
        }
    }

    /** The measured peaks are positive, finite rates (their size is the machine's; no timing is asserted). */
    @Test
    void fmaPeakAndBandwidthAreRates() throws InterruptedException {
        for (int threads : new int[] {1, 2}) {
            double peak = FmaPeak.measure(threads, 200_000L, 2), bw = MemoryBandwidth.measure(threads, 16L << 20, 2);
            assertTrue(peak > 0 && Double.isFinite(peak), threads + " threads, FMA: " + peak);
            assertTrue(bw > 0 && Double.isFinite(bw), threads + " threads, bandwidth: " + bw);
        }
    }
}
