package dev.lockstep.jmh;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Quantize;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Seeded random weights (Gaussian, sigma 0.02, as in a trained model) quantized into off-heap memory, as a mapped file is. */
final class RandomWeights {
    private RandomWeights() {}

    static MemorySegment quantized(Arena arena, GgmlType type, int count, Random rnd) {
        float[] w = new float[count];
        for (int i = 0; i < count; i++) w[i] = (float) rnd.nextGaussian() * 0.02f;
        byte[] q = Quantize.quantize(type, w);
        MemorySegment data = arena.allocate(q.length, 64);
        MemorySegment.copy(MemorySegment.ofArray(q), 0, data, 0, q.length);
        return data;
    }
}
