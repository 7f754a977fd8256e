package dev.lockstep.model;

import dev.lockstep.cache.KvCache;

/** Runs forward passes of one model over ragged batches; owns its activation buffers (not thread-safe). */
public interface ModelRunner {
    int maxTokens();

    /**
     * Computes the batch: writes every token's K/V into {@code cache} at its sequence's block table
     * and position, and the logits of {@code b.logitTokens[i]} into {@code logits[i*vocab ..]}.
     */
    void forward(ForwardBatch b, KvCache cache, float[] logits);
}
