package dev.lockstep.train;

import dev.lockstep.LockstepException;
import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelRunner;

/**
 * A teacher for distillation: any model the engine loads. Its logits for the batch come from the
 * engine's own forward pass; the soft targets are softmax(logits / temperature).
 */
public final class GgufTeacher implements Trainer.Teacher {
    private final Model model;
    private final ModelRunner runner;
    private final KvCache cache;
    private final ForwardBatch fb;
    private final float[] logits;
    private final int[][] tables;

    public GgufTeacher(Model model, int vocab, int batch, int seq, WorkerPool pool) {
        if (model.vocabSize() != vocab) throw new LockstepException("the teacher's vocabulary has " + model.vocabSize()
                + " tokens, the student's " + vocab + ": they must share the tokenizer");
        this.model = model;
        int n = batch * seq, bs = 16, blocksPerSeq = (seq + bs - 1) / bs;
        this.runner = model.newRunner(pool, n);
        this.cache = new KvCache(model.kvLayers(), model.kvDim(), model.kvHeadDim(), bs, batch * blocksPerSeq);
        this.fb = new ForwardBatch(n, batch);
        this.logits = new float[n * vocab];
        this.tables = new int[batch][blocksPerSeq];
        for (int b = 0; b < batch; b++) for (int i = 0; i < blocksPerSeq; i++) tables[b][i] = b * blocksPerSeq + i;
    }

    @Override
    public void probabilities(int[] tokens, int batch, int seq, float temperature, float[] out) {
        fb.clear();
        for (int b = 0; b < batch; b++) {
            int s = fb.addSequence(tables[b], 0, 0);
            for (int t = 0; t < seq; t++) fb.addToken(s, tokens[b * seq + t], t, true);
        }
        runner.forward(fb, cache, logits);
        int V = model.vocabSize();
        for (int i = 0; i < batch * seq; i++) {
            for (int j = 0; j < V; j++) out[i * V + j] = logits[i * V + j] / temperature;
            Ops.softmax(out, i * V, V);
        }
    }
}
