package dev.lockstep.kernels;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * A scratch {@code float[]} used from its first float on a 64-byte cache line ({@link #start()}).
 *
 * <p>Why: the tiled kernels are nothing but 64-byte loads and FMAs, and a 64-byte load that straddles
 * two cache lines costs two. The JVM aligns arrays to 8 bytes only, so a scratch array's loads were
 * aligned or not by luck of the allocation: measured in one JVM, alternating, the 4x4 tile kernel ran
 * at 48 GFLOP/s from aligned arrays and 33 from misaligned ones (2048-long rows, 64 x 64 tile), and
 * the two-row by eight-token kernel 40% faster.
 *
 * <p>How: Java has no address-of for heap arrays, but the foreign function interface may pass a heap
 * array to a native function marked critical (the array is pinned for the call), and C's
 * {@code memmove(p, p, 0)} returns {@code p}. The answer holds until the garbage collector moves the
 * array, so callers ask again per product. Only speed depends on it: the start changes which floats
 * of the scratch array hold the data, never a result. Where the call is not available the start is 0.
 */
final class AlignedFloats {
    private static final int SPARE = 16; // floats per cache line
    private static final MethodHandle MEMMOVE = memmove();

    final float[] array;
    private final MemorySegment view; // made once: asking for the address allocates nothing

    AlignedFloats(int capacity) {
        this.array = new float[capacity + SPARE];
        this.view = MemorySegment.ofArray(array);
    }

    /** Floats usable from any {@link #start()}. */
    int capacity() {
        return array.length - SPARE;
    }

    /** The first index (0 to 15) whose address is a multiple of 64 bytes, now; 0 if unknown. */
    int start() {
        if (MEMMOVE == null) return 0;
        try {
            long address = (long) MEMMOVE.invokeExact(view, view, 0L);
            return (int) ((64 - (address & 63)) & 63) / Float.BYTES;
        } catch (Throwable e) {
            return 0;
        }
    }

    /** {@code current} if it holds {@code capacity} floats, else a new one. */
    static AlignedFloats atLeast(AlignedFloats current, int capacity) {
        return current != null && current.capacity() >= capacity ? current : new AlignedFloats(capacity);
    }

    private static MethodHandle memmove() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.downcallHandle(linker.defaultLookup().find("memmove").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                    Linker.Option.critical(true));
        } catch (RuntimeException | Error e) { // no native access: kernels run unaligned, with the same results
            return null;
        }
    }
}
