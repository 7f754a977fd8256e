package dev.lockstep.bench;

import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelRunner;

import java.util.List;

/**
 * The f32 and INT8 activation modes side by side on the same windows of text: each window's
 * next-token distributions at every position, from both modes, compared in float64 (as llama.cpp's
 * {@code perplexity --kl-divergence} compares a quantized model with its base): the mean
 * Kullback-Leibler divergence of the INT8 distribution from the f32 one, how often their most likely
 * tokens agree, and each mode's loss on the text's actual next tokens.
 */
public final class ActivationComparison {
    private ActivationComparison() {}

    /** Over all scored positions: mean KL(f32 || int8) in nats, top-1 agreement, each mode's mean loss. */
    public record Result(long positions, double meanKl, double maxKl, double top1Agreement, double lossF32, double lossInt8) {}

    public static Result compare(Model m, int threads, List<int[]> windows) {
        int window = windows.getFirst().length, vocab = m.vocabSize(), blockSize = 16, blocks = (window + blockSize - 1) / blockSize;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        float[] a = new float[window * vocab], b = new float[window * vocab];
        double kl = 0, maxKl = 0, nllA = 0, nllB = 0;
        long positions = 0, agree = 0;
        try (WorkerPool pool = new WorkerPool(threads);
             KvCache kv = new KvCache(m.kvLayers(), m.kvDim(), m.kvHeadDim(), blockSize, blocks)) {
            ModelRunner f32 = m.newRunner(pool, window, Activations.F32), int8 = m.newRunner(pool, window, Activations.INT8);
            ForwardBatch batch = new ForwardBatch(window, 1);
            float[] state = m.stateFloats() > 0 ? new float[m.stateFloats()] : null;
            for (int[] w : windows) {
                forward(m, f32, batch, kv, table, state, w, a);
                forward(m, int8, batch, kv, table, state, w, b);
                for (int i = 0; i + 1 < window; i++) {
                    int o = i * vocab;
                    double za = logSumExp(a, o, vocab), zb = logSumExp(b, o, vocab), d = 0;
                    for (int v = 0; v < vocab; v++) {
                        double la = a[o + v] - za, lb = b[o + v] - zb;
                        d += Math.exp(la) * (la - lb);
                    }
                    kl += d;
                    maxKl = Math.max(maxKl, d);
                    if (argmax(a, o, vocab) == argmax(b, o, vocab)) agree++;
                    nllA -= a[o + w[i + 1]] - za;
                    nllB -= b[o + w[i + 1]] - zb;
                    positions++;
                }
            }
        }
        return new Result(positions, kl / positions, maxKl, (double) agree / positions, nllA / positions, nllB / positions);
    }

    /** One window from position 0, logits at every position into {@code logits}. */
    private static void forward(Model m, ModelRunner r, ForwardBatch batch, KvCache kv, int[] table, float[] state, int[] w, float[] logits) {
        batch.clear();
        if (state != null) {
            m.initState(state, 0);
            batch.stateStore = state;
        }
        int s = batch.addSequence(table, 0, 0);
        for (int i = 0; i < w.length; i++) batch.addToken(s, w[i], i, true);
        r.forward(batch, kv, logits);
    }

    private static double logSumExp(float[] x, int o, int n) {
        double max = Double.NEGATIVE_INFINITY, s = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, x[o + i]);
        for (int i = 0; i < n; i++) s += Math.exp(x[o + i] - max);
        return max + Math.log(s);
    }

    private static int argmax(float[] x, int o, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[o + i] > x[o + best]) best = i;
        return best;
    }
}
