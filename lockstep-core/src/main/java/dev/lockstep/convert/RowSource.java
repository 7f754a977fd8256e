package dev.lockstep.convert;

/** Produces float rows of a tensor on demand (a generator or a dequantizer), thread-safely. */
@FunctionalInterface
public interface RowSource {
    /** Fills {@code out[0 .. count*rowLength)} with rows {@code first .. first+count). */
    void rows(long first, int count, float[] out);
}
