package dev.lockstep.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures the machine's f32 multiply-add throughput the way the prompt kernels use it: {@code threads}
 * threads, each running sixteen independent FMA chains on registers (enough to cover the FMA latency;
 * ten chains measured 8% lower here), no memory traffic. The prompt test's GFLOP/s is reported against
 * it, as decoding's bytes/s are against {@link MemoryBandwidth}. The best of a few passes is reported.
 */
public final class FmaPeak {
    private FmaPeak() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 16;

    /** FLOP per second (a multiply-add counts two). */
    public static double measure(int threads, long iterationsPerThread, int passes) throws InterruptedException {
        float[] sink = new float[threads];
        double flop = 2.0 * F.length() * CHAINS * iterationsPerThread * threads;
        return BestOfPasses.rate(threads, passes, flop, id -> sink[id] = spin(iterationsPerThread, 0.5f + id));
    }

    /** Sixteen chains c = c * b + a; the result is returned so the JIT cannot drop the work. */
    private static float spin(long iterations, float seed) {
        FloatVector a = FloatVector.broadcast(F, seed), b = FloatVector.broadcast(F, 0.999f);
        FloatVector c0 = a, c1 = a.add(1), c2 = a.add(2), c3 = a.add(3), c4 = a.add(4), c5 = a.add(5), c6 = a.add(6), c7 = a.add(7);
        FloatVector c8 = a.add(8), c9 = a.add(9), c10 = a.add(10), c11 = a.add(11), c12 = a.add(12), c13 = a.add(13), c14 = a.add(14), c15 = a.add(15);
        for (long i = 0; i < iterations; i++) {
            c0 = c0.fma(b, a); c1 = c1.fma(b, a); c2 = c2.fma(b, a); c3 = c3.fma(b, a);
            c4 = c4.fma(b, a); c5 = c5.fma(b, a); c6 = c6.fma(b, a); c7 = c7.fma(b, a);
            c8 = c8.fma(b, a); c9 = c9.fma(b, a); c10 = c10.fma(b, a); c11 = c11.fma(b, a);
            c12 = c12.fma(b, a); c13 = c13.fma(b, a); c14 = c14.fma(b, a); c15 = c15.fma(b, a);
        }
        FloatVector s = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7)
                .add(c8).add(c9).add(c10).add(c11).add(c12).add(c13).add(c14).add(c15);
        return s.reduceLanes(VectorOperators.ADD); // any order: the value only keeps the loop alive
    }
}
