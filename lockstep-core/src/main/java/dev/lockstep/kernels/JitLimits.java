package dev.lockstep.kernels;

import com.sun.management.HotSpotDiagnosticMXBean;

import java.lang.management.ManagementFactory;

/**
 * The C2 settings the kernels need (two limits raised), and a check that they are set.
 *
 * <p>A kernel such as {@code Dot256.q4_0x2} inlines some two hundred methods of the Vector API, and C2
 * adds up the trap and deoptimization counts those shared methods carry from all of the program's
 * earlier compilations. Past {@code PerMethodTrapLimit} (default 100) or half of
 * {@code PerMethodRecompilationCutoff} (default 400), C2 compiles every call it resolves from a
 * profile with a virtual call as the fallback instead of a trap; the merge of the two paths makes it
 * box every vector, and the kernel allocates per operation. Which run crosses the limit depends on
 * what ran and deoptimized before: in the bench of the 1B Q4_0 model, decoding ran 2-10x slower in
 * a third to half of the runs (LogCompilation showed {@code observe trap='class_check' ... ccount='264'}
 * beside each virtual call; with the limits raised, 0 slow runs of 8). The results are the same bits
 * either way; only speed depends on it.
 *
 * <p>(Until 2026-12-07 there was a third setting, an inlining command for
 * {@code MappedMemorySegmentImpl.dup}, which the INT8 kernels of then needed for their row slices;
 * the kernels of {@link Int8Gemm} read a rearranged copy and take no slices.)
 */
public final class JitLimits {
    private JitLimits() {}

    private static final String[] OPTIONS = {"PerMethodTrapLimit", "PerMethodRecompilationCutoff"};
    private static final long LIMIT = 100_000;

    /** The JVM options; {@code bin/lockstep}, the test JVMs and the JMH forks pass them. */
    public static final String FLAGS = "-XX:" + OPTIONS[0] + "=" + LIMIT + " -XX:" + OPTIONS[1] + "=" + LIMIT;

    private static volatile boolean warned;

    /** Whether this JVM runs with both limits at least as high as {@link #FLAGS} sets them (false if unknown). */
    public static boolean raised() {
        return Holder.RAISED;
    }

    /** Read once: VM options are fixed for the JVM's life, and the management beans cost a first call. */
    private static final class Holder {
        static final boolean RAISED = read();
    }

    private static boolean read() {
        try {
            HotSpotDiagnosticMXBean hs = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            if (hs == null) return false;
            for (String option : OPTIONS)
                if (Long.parseLong(hs.getVMOption(option).getValue()) < LIMIT) return false;
            return true;
        } catch (RuntimeException | LinkageError e) { // not HotSpot, or no management module
            return false;
        }
    }

    /** Warns once (System.Logger) when the settings are missing: decoding may then run several times slower, or allocate. */
    public static void warnIfDefault() {
        if (warned || raised()) return;
        warned = true;
        System.getLogger("dev.lockstep").log(System.Logger.Level.WARNING,
                "this JVM runs without Lockstep's C2 settings (trap limits); its kernels may then be "
                        + "compiled with boxed vectors, and decode several times slower. Start the JVM with "
                        + FLAGS + " (bin/lockstep does).");
    }
}
