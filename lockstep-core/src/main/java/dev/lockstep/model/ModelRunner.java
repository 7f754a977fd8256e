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

    /** Length of {@link #hidden}'s vectors: the model's width; 0 if the runner has no such output. */
    default int hiddenDim() {
        return 0;
    }

    /**
     * As {@link #forward}, but instead of logits writes the final hidden state (after the output
     * norm, what the output matrix would multiply) of each token {@code b.logitTokens[i]} into
     * {@code out[i*hiddenDim ..]}: the token vectors embeddings are pooled from, as llama.cpp's
     * {@code result_norm}. False (nothing computed) for a model without one.
     */
    default boolean hidden(ForwardBatch b, KvCache cache, float[] out) {
        return false;
    }

    /** Wall time this runner spent in matrix products so far (0 if it does not tell). */
    default long matmulNanos() {
        return 0;
    }

    /** Wall time this runner spent in attention so far (0 if it does not tell). */
    default long attentionNanos() {
        return 0;
    }
}
