package dev.lockstep.model;

import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.WorkerPool;

/**
 * Token ids 0..n-1 at positions 0..n-1 fed to a recurrent model (one sequence, a fresh state) in
 * chunks of the given sizes: the logits of every position and the final state.
 */
record ChunkedRun(float[] logits, float[] state) {

    static ChunkedRun of(Model m, int... chunks) {
        int n = java.util.Arrays.stream(chunks).sum(), vocab = m.vocabSize();
        float[] all = new float[n * vocab];
        try (WorkerPool pool = new WorkerPool(2); KvCache kv = new KvCache(0, 0, 1, 16, 1)) {
            ModelRunner r = m.newRunner(pool, n);
            ForwardBatch b = new ForwardBatch(n, 1);
            b.stateStore = new float[m.stateFloats()];
            m.initState(b.stateStore, 0);
            float[] logits = new float[n * vocab];
            int pos = 0;
            for (int c : chunks) {
                b.clear();
                int s = b.addSequence(new int[1], 0, pos);
                for (int i = 0; i < c; i++) b.addToken(s, pos + i, pos + i, true);
                r.forward(b, kv, logits);
                System.arraycopy(logits, 0, all, pos * vocab, c * vocab);
                pos += c;
            }
            return new ChunkedRun(all, b.stateStore);
        }
    }
}
