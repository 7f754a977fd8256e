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

    /** Wall time this runner spent in matrix products so far (0 if it does not tell). */
    default long matmulNanos() {
        return 0;
    }

    /** Wall time this runner spent in attention so far (0 if it does not tell). */
    default long attentionNanos() {
        return 0;
    }
}
