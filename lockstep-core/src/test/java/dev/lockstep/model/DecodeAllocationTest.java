package dev.lockstep.model;

import dev.lockstep.cache.KvCache;
import dev.lockstep.convert.QuantPolicy;
import dev.lockstep.convert.Synthesizer;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.WorkerPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Steady-state decoding allocates nothing: once the JIT has compiled the kernels, a decode step of
 * one sequence, and of eight (the batched kernels), allocates not a byte on the calling thread or on
 * the pool's workers. The model is the synthesizer's 512-wide "small" shape, big enough that the
 * kernels run the paths of real models (a C2 inlining cut-off inside a row kernel once boxed a vector
 * per matrix row there: 32 MB per step of a 1B model; a softmax, 0.5 MB per step here; on AVX-512, the
 * 512-bit Q6_K row kernel's final tree and the SwiGLU's exp, 0.8 MB per step).
 *
 * <p>Compilation takes its time, so the test decodes windows of steps until three in a row allocate
 * nothing, for at most {@link #MAX_WINDOWS} windows; code that allocates per step never gets there.
 */
class DecodeAllocationTest {
    private static final int STEPS = 20, MAX_WINDOWS = 150, ZERO_WINDOWS = 3;

    @TempDir
    static Path dir;

    @Test
    void q8_0DecodingAllocatesNothing() throws Exception {
        check("Q8_0", Activations.F32);
    }

    @Test
    void q4_0DecodingWithInt8ActivationsAllocatesNothing() throws Exception {
        check("Q4_0", Activations.INT8);
    }

    /** The K-quant row kernels (Q4_K, and Q6_K for ffn_down, attn_v and the output matrix). */
    @Test
    void q4_K_MDecodingAllocatesNothing() throws Exception {
        check("Q4_K_M", Activations.F32);
    }

    /** The INT8 kernels of the K-quants, one token and four (a C1 compile that failed once left one of them unboxed in no tier). */
    @Test
    void q4_K_MDecodingWithInt8ActivationsAllocatesNothing() throws Exception {
        check("Q4_K_M", Activations.INT8);
    }

    private static void check(String type, Activations activations) throws Exception {
        Path file = dir.resolve("small-" + type + ".gguf");
        Synthesizer.write(Synthesizer.preset("small", null), QuantPolicy.parse(type, false), 7, null, file, b -> {});
        try (GgufFile f = GgufFile.open(file)) {
            Model m = ModelLoader.load(f);
            for (int seqs : new int[]{1, 8}) decode(m, seqs, activations, type);
        }
    }

    private static void decode(Model m, int seqs, Activations activations, String what) {
        int blockSize = 16, perSeq = 4096 / blockSize;
        try (WorkerPool pool = new WorkerPool(2);
             KvCache kv = new KvCache(m.kvLayers(), m.kvDim(), m.kvHeadDim(), blockSize, perSeq * seqs)) {
            ModelRunner runner = m.newRunner(pool, seqs, activations);
            ForwardBatch b = new ForwardBatch(seqs, seqs);
            int[][] tables = new int[seqs][perSeq];
            for (int s = 0; s < seqs; s++) for (int i = 0; i < perSeq; i++) tables[s][i] = s * perSeq + i;
            float[] logits = new float[seqs * m.vocabSize()];
            Allocation counter = new Allocation();
            List<Long> perStep = new ArrayList<>();
            int pos = 0, zeros = 0;
            for (int window = 0; window < MAX_WINDOWS && zeros < ZERO_WINDOWS; window++) {
                long before = counter.bytes();
                for (int step = 0; step < STEPS; step++, pos++) {
                    b.clear();
                    for (int s = 0; s < seqs; s++) b.addToken(b.addSequence(tables[s], s, pos), (pos * 7 + s) % 500, pos, true);
                    runner.forward(b, kv, logits);
                }
                long bytes = counter.bytes() - before - counter.ownBytes;
                perStep.add(bytes / STEPS);
                zeros = bytes == 0 ? zeros + 1 : 0;
            }
            if (zeros < ZERO_WINDOWS)
                fail(what + " " + activations + ", " + seqs + " sequences: decoding still allocates after " + pos
                        + " steps; bytes per step in the last windows: " + perStep.subList(Math.max(0, perStep.size() - 8), perStep.size()));
        }
    }

    /** Bytes allocated so far by this thread and the pools' workers (which are idle unless working). */
    private static final class Allocation {
        private final com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        private final long[] ids;
        /** What one reading allocates itself (its result array), measured by two readings in a row. */
        final long ownBytes;

        Allocation() {
            List<Long> l = new ArrayList<>();
            for (Thread t : Thread.getAllStackTraces().keySet())
                if (t == Thread.currentThread() || t.getName().startsWith("lockstep-worker-")) l.add(t.threadId());
            ids = l.stream().mapToLong(Long::longValue).toArray();
            bytes();
            long a = bytes();
            ownBytes = bytes() - a;
        }

        long bytes() {
            long sum = 0;
            for (long v : mx.getThreadAllocatedBytes(ids)) sum += v;
            return sum;
        }
    }
}
