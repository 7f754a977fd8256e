package dev.lockstep.bench;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Measures memory read bandwidth the way decoding uses memory: {@code threads} threads each streaming
 * through their own part of a buffer much larger than the caches. The best of a few passes is reported.
 */
public final class MemoryBandwidth {
    private MemoryBandwidth() {}

    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    /** Bytes per second. */
    public static double measure(int threads, long bytes, int passes) throws InterruptedException {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment m = arena.allocate(bytes, 4096);
            m.fill((byte) 1);
            long[] sink = new long[threads];
            return BestOfPasses.rate(threads, passes, bytes, id -> sink[id] = read(m, bytes / threads * id, bytes / threads * (id + 1)));
        }
    }

    private static long read(MemorySegment m, long from, long to) {
        int step = I.vectorByteSize();
        IntVector a = IntVector.zero(I), b = a, c = a, d = a;
        long o = from;
        for (; o + 4L * step <= to; o += 4L * step) {
            a = a.add(IntVector.fromMemorySegment(I, m, o, ByteOrder.LITTLE_ENDIAN));
            b = b.add(IntVector.fromMemorySegment(I, m, o + step, ByteOrder.LITTLE_ENDIAN));
            c = c.add(IntVector.fromMemorySegment(I, m, o + 2L * step, ByteOrder.LITTLE_ENDIAN));
            d = d.add(IntVector.fromMemorySegment(I, m, o + 3L * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).add(c).add(d).lane(0);
    }
}
