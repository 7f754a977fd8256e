package dev.lockstep.bench;

import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelRunner;

import java.util.Arrays;

/**
 * What speculative decoding's verification costs against a plain decode step: the forward pass of
 * one sequence's last token, and of that token followed by {@code k} proposed ones (logits for all
 * {@code k + 1}, as the engine verifies them), both at the same position of a sequence with a
 * context of 256 tokens. With the products bound by memory, the extra tokens ride on weights already
 * read; the ratio says how far from free they are. Measured on the model runner directly (the
 * engine's scheduling and sampling are the same for both and cost under 0.1 ms a step).
 */
public final class VerifyCost {
    private VerifyCost() {}

    /** Median milliseconds of a forward pass of 1 and of {@code 1 + k} tokens, in that order. */
    public static double[] measure(Model m, int threads, Activations activations, int k, int reps) {
        if (m.stateFloats() > 0) return null; // recurrent models verify by replaying their state: not this measurement
        int context = 256, blockSize = 16, blocks = (context + k + 1 + blockSize - 1) / blockSize + 1;
        try (WorkerPool pool = new WorkerPool(threads);
             KvCache kv = new KvCache(m.kvLayers(), m.kvDim(), m.kvHeadDim(), blockSize, blocks)) {
            ModelRunner runner = m.newRunner(pool, Math.max(context, k + 1), activations);
            int[] table = new int[blocks];
            for (int i = 0; i < blocks; i++) table[i] = i;
            float[] logits = new float[(k + 1) * m.vocabSize()];
            ForwardBatch b = new ForwardBatch(Math.max(context, k + 1), 1);
            b.addSequence(table, 0, 0); // the context, once
            for (int p = 0; p < context; p++) b.addToken(0, 3 + p % 100, p, p == context - 1);
            runner.forward(b, kv, logits);
            double[] one = new double[reps], many = new double[reps];
            for (int warm = 0; warm < 3; warm++) {
                step(runner, b, kv, logits, table, context, 1);
                step(runner, b, kv, logits, table, context, k + 1);
            }
            for (int r = 0; r < reps; r++) { // interleaved, so drift in machine speed hits both alike
                one[r] = step(runner, b, kv, logits, table, context, 1);
                many[r] = step(runner, b, kv, logits, table, context, k + 1);
            }
            return new double[]{median(one), median(many)};
        }
    }

    /** One forward pass of {@code n} tokens at positions {@code context ..}; milliseconds. */
    private static double step(ModelRunner runner, ForwardBatch b, KvCache kv, float[] logits, int[] table, int context, int n) {
        b.clear();
        int s = b.addSequence(table, 0, context);
        for (int i = 0; i < n; i++) b.addToken(s, 5 + i, context + i, true);
        long t0 = System.nanoTime();
        runner.forward(b, kv, logits);
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
