package dev.lockstep.bench;

import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures the machine's 16-bit multiply-add throughput the way the INT8-activation kernels use it
 * ({@code Int8Gemm}: a 16-bit multiply and an add per 32 products on 512-bit vectors, 16 on 256-bit):
 * {@code threads} threads, each running sixteen independent sum chains on registers, whose products
 * all change every iteration (one vector add), so the JIT cannot hoist them. Products per second:
 * the INT8 mode's prompt products are reported against it, as the f32 mode's against
 * {@link FmaPeak}. If a JDK or code change left those kernels scalar (or boxed their vectors), their
 * share of this peak would fall by an order of magnitude, which is what the number is for.
 */
public final class Int16Peak {
    private Int16Peak() {}

    private static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED;
    private static final int CHAINS = 16;

    /** 16-bit products per second. */
    public static double measure(int threads, long iterationsPerThread, int passes) throws InterruptedException {
        short[] sink = new short[threads];
        double products = (double) S.length() * CHAINS * iterationsPerThread * threads;
        return BestOfPasses.rate(threads, passes, products, id -> sink[id] = spin(iterationsPerThread, (short) (3 + id)));
    }

    private static short spin(long iterations, short seed) {
        ShortVector x = ShortVector.broadcast(S, seed), one = ShortVector.broadcast(S, (short) 1), two = one.add(one);
        ShortVector b0 = x.add((short) 1), b1 = x.add((short) 2), b2 = x.add((short) 3), b3 = x.add((short) 4);
        ShortVector b4 = x.add((short) 5), b5 = x.add((short) 6), b6 = x.add((short) 7), b7 = x.add((short) 8);
        ShortVector c0 = x, c1 = x, c2 = x, c3 = x, c4 = x, c5 = x, c6 = x, c7 = x;
        ShortVector c8 = x, c9 = x, c10 = x, c11 = x, c12 = x, c13 = x, c14 = x, c15 = x;
        for (long i = 0; i < iterations; i++) {
            x = x.add(one);
            ShortVector y = x.add(two); // a second operand, also new each time
            c0 = c0.add(x.mul(b0)); c1 = c1.add(x.mul(b1)); c2 = c2.add(x.mul(b2)); c3 = c3.add(x.mul(b3));
            c4 = c4.add(x.mul(b4)); c5 = c5.add(x.mul(b5)); c6 = c6.add(x.mul(b6)); c7 = c7.add(x.mul(b7));
            c8 = c8.add(y.mul(b0)); c9 = c9.add(y.mul(b1)); c10 = c10.add(y.mul(b2)); c11 = c11.add(y.mul(b3));
            c12 = c12.add(y.mul(b4)); c13 = c13.add(y.mul(b5)); c14 = c14.add(y.mul(b6)); c15 = c15.add(y.mul(b7));
        }
        ShortVector s = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7)
                .add(c8).add(c9).add(c10).add(c11).add(c12).add(c13).add(c14).add(c15);
        return s.lane(1); // the value only keeps the loop alive
    }
}
