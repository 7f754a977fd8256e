package dev.lockstep.quant;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.TensorInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantizeTest {

    /** llama-quantize made the fixtures' Q8_0/Q4_0 files from their F32 files: same input, same bytes. */
    @ParameterizedTest
    @CsvSource({"tiny-llama,q8_0", "tiny-llama,q4_0", "tiny-qwen2,q8_0", "tiny-qwen2,q4_0", "tiny-qwen3,q8_0", "tiny-qwen3,q4_0",
            "tiny-mamba,q8_0", "tiny-mamba,q4_0"})
    void blocksAreByteIdenticalToLlamaQuantize(String model, String type) {
        try (GgufFile f32 = GgufFile.open(Fixtures.file("models/" + model + "-f32.gguf"));
             GgufFile fq = GgufFile.open(Fixtures.file("models/" + model + "-" + type + ".gguf"))) {
            int checked = 0;
            for (TensorInfo tq : fq.tensors().values()) {
                if (tq.type() != GgmlType.byName(type)) continue;
                TensorInfo tf = f32.tensor(tq.name());
                int n = (int) tq.elementCount();
                float[] x = new float[n];
                MemorySegment.copy(f32.tensorData(tf), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, x, 0, n);
                byte[] mine = Quantize.quantize(tq.type(), x);
                byte[] theirs = fq.tensorData(tq).toArray(ValueLayout.JAVA_BYTE);
                assertEquals(theirs.length, mine.length);
                for (int i = 0; i < mine.length; i++)
                    if (mine[i] != theirs[i]) throw new AssertionError(tq.name() + ": first different byte at " + i
                            + " (block " + i / tq.type().typeSize + ")");
                checked++;
            }
            assertTrue(checked > 0);
        }
    }

    /** Round trip error of each format on Gaussian data, relative to the data's RMS. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void roundTripErrorIsWhatTheBitsAllow(GgmlType t) {
        Random r = new Random(1);
        float[] x = new float[256 * 64];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 0.02);
        byte[] q = Quantize.quantize(t, x);
        float[] y = new float[x.length];
        Dequant.dequantize(t, MemorySegment.ofArray(q), 0, y, 0, x.length);
        double se = 0, ss = 0;
        for (int i = 0; i < x.length; i++) {
            se += (x[i] - y[i]) * (x[i] - y[i]);
            ss += x[i] * x[i];
        }
        double rel = Math.sqrt(se / ss);
        double bound = switch (t) {
            case F16 -> 1e-3; case BF16 -> 5e-3; case Q8_0 -> 0.01; case Q6_K -> 0.02; case Q5_0, Q5_1, Q5_K -> 0.05;
            default -> 0.11; // 4-bit
        };
        System.out.printf("%-5s relative RMS round-trip error %.4f%n", t, rel);
        assertTrue(rel < bound, t + ": " + rel);
    }
}
