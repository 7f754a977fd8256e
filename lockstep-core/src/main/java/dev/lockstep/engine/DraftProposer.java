package dev.lockstep.engine;

import dev.lockstep.LockstepException;
import dev.lockstep.cache.BlockManager;
import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelRunner;

import java.util.List;

/**
 * Proposals from a smaller draft model with the same vocabulary (e.g. the target quantized to Q4_0,
 * or a distilled student). It keeps its own paged KV cache; per sequence, {@code draftValid} says how
 * many positions of it hold K/V of confirmed tokens. Proposing first catches the draft up on the
 * confirmed tokens it has not seen, then feeds its own greedy guesses one at a time — all sequences
 * batched in each of those forward passes.
 */
final class DraftProposer implements AutoCloseable {
    private final KvCache kv;
    private final BlockManager blocks;
    private final ModelRunner runner;
    private final ForwardBatch batch;
    private final float[] logits;
    private final int vocab, maxTokens;
    private final int[] slot, fed;
    private final Model model;

    DraftProposer(Model draft, Model target, WorkerPool pool, int blockSize, int numBlocks, int maxBatchTokens, int maxSeqs,
                  Activations activations) {
        if (draft.vocabSize() != target.vocabSize())
            throw new LockstepException(draft.file().path() + ": the draft model's vocabulary (" + draft.vocabSize()
                    + " tokens) differs from the target's (" + target.vocabSize() + "); they must share a tokenizer");
        this.model = draft;
        this.vocab = draft.vocabSize();
        this.maxTokens = maxBatchTokens;
        this.kv = new KvCache(draft.kvLayers(), draft.kvDim(), draft.kvHeadDim(), blockSize, numBlocks);
        this.blocks = new BlockManager(numBlocks, blockSize, 0L, false);
        this.runner = draft.newRunner(pool, maxBatchTokens, activations);
        this.batch = new ForwardBatch(maxBatchTokens, maxSeqs);
        this.logits = new float[maxSeqs * vocab];
        this.slot = new int[maxSeqs];
        this.fed = new int[maxSeqs];
    }

    /**
     * Proposes up to {@code want[i]} tokens for each sequence into its {@code draft} array and sets
     * {@code numDraft}. A sequence the draft cache cannot hold gets no proposal this step.
     */
    void propose(List<Sequence> seqs, int[] want) {
        int n = seqs.size();
        for (int i = 0; i < n; i++) {
            Sequence s = seqs.get(i);
            s.numDraft = 0;
            // room for every position the draft will be fed: confirmed tokens, then want-1 guesses
            if (!grow(s, s.length + want[i] - 1)) {
                release(s);
                want[i] = 0;
            }
        }
        // 1. catch up on confirmed tokens (chunked under the batch budget); the last one's logits give guess 0
        while (true) {
            batch.clear();
            int rows = 0, budget = maxTokens;
            java.util.Arrays.fill(fed, 0, n, 0);
            for (int i = 0; i < n && budget > 0; i++) {
                Sequence s = seqs.get(i);
                if (want[i] == 0 || s.draftValid >= s.length) continue;
                int take = Math.min(budget, s.length - s.draftValid);
                fed[i] = take;
                int bi = batch.addSequence(s.draftBlockTable, 0, s.draftValid);
                for (int p = s.draftValid; p < s.draftValid + take; p++) {
                    boolean last = p == s.length - 1;
                    batch.addToken(bi, s.tokens[p], p, last);
                    if (last) slot[rows++] = i;
                }
                budget -= take;
            }
            if (batch.numTokens == 0) break;
            runner.forward(batch, kv, logits);
            for (int i = 0; i < n; i++) seqs.get(i).draftValid += fed[i]; // what was fed now has K/V
            for (int r = 0; r < rows; r++) {
                Sequence s = seqs.get(slot[r]);
                s.draft[0] = argmax(logits, r * vocab);
                s.numDraft = 1;
            }
        }
        // 2. feed guesses one at a time
        for (int j = 1; ; j++) {
            batch.clear();
            int rows = 0;
            for (int i = 0; i < n; i++) {
                Sequence s = seqs.get(i);
                if (want[i] <= j || s.numDraft != j) continue;
                int pos = s.length - 1 + j;
                int bi = batch.addSequence(s.draftBlockTable, 0, pos);
                batch.addToken(bi, s.draft[j - 1], pos, true);
                slot[rows++] = i;
            }
            if (rows == 0) break;
            runner.forward(batch, kv, logits);
            for (int r = 0; r < rows; r++) {
                Sequence s = seqs.get(slot[r]);
                s.draft[j] = argmax(logits, r * vocab);
                s.numDraft = j + 1;
                s.draftValid = s.length + j; // position length-1+j now holds the guess's K/V
            }
        }
    }

    /** After verification: draft K/V beyond the confirmed tokens is stale. */
    static void rollBack(Sequence s) {
        s.draftValid = Math.min(s.draftValid, s.length - 1);
    }

    /** Greedy guess; ties go to the lowest id. */
    private int argmax(float[] l, int off) {
        return dev.lockstep.kernels.Ops.argmax(l, off, vocab);
    }

    private boolean grow(Sequence s, int tokens) {
        int nb = blocks.grow(s.draftBlockTable, s.draftNumBlocks, tokens);
        if (nb < 0) return false;
        s.draftNumBlocks = nb;
        return true;
    }

    /** Frees a sequence's draft blocks (finished, preempted, or out of draft memory). */
    void release(Sequence s) {
        blocks.release(s.draftBlockTable, 0, s.draftNumBlocks);
        s.draftNumBlocks = 0;
        s.draftValid = 0;
    }

    /** Why the draft model's file can no longer be read, or null (see {@link dev.lockstep.gguf.GgufFile#damage}). */
    String damage() {
        return model.file().damage();
    }

    @Override
    public void close() {
        kv.close();
    }
}
