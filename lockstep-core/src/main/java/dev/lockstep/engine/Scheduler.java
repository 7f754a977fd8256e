package dev.lockstep.engine;

import dev.lockstep.cache.BlockManager;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Continuous batching: decides, every step, which tokens of which sequences the next forward pass
 * computes, under a token budget ({@code maxBatchTokens}), a sequence budget ({@code maxSeqs}) and
 * a logits-row budget. Running sequences first, in admission order (their next decode token, or the
 * next chunk of their prompt); then waiting ones, first come first served, each taking whatever
 * prefix of its prompt the prefix cache already holds and a chunk of the rest.
 *
 * <p>When KV blocks run out, the most recently admitted running sequence is preempted: its blocks are
 * freed and it goes back to the front of the queue, to be recomputed later. Recomputation is exact
 * (batch-invariant kernels, position-keyed sampling), so preemption never changes a result.
 *
 * <p>The result of {@link #schedule()} is in {@link #scheduled} / {@link #counts}.
 */
final class Scheduler {
    private final BlockManager blocks;
    private final int maxBatchTokens, maxSeqs, maxLogitRows, blockSize;
    final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    final List<Sequence> running = new ArrayList<>();

    // output of schedule()
    final Sequence[] scheduled;
    final int[] counts;
    int numScheduled;
    /** Sequences admitted for the first time by the last schedule() (the engine's queue count drops by this). */
    int newlyAdmitted;
    volatile long preemptions;

    // scratch for prefix lookups
    private final int[] hitIds;
    private final long[] hitHashes;

    Scheduler(BlockManager blocks, EngineConfig cfg, int maxBlocksPerSeq) {
        this.blocks = blocks;
        this.maxBatchTokens = cfg.maxBatchTokens();
        this.maxSeqs = cfg.maxSeqs();
        this.maxLogitRows = cfg.maxLogitRows();
        this.blockSize = blocks.blockSize();
        this.scheduled = new Sequence[cfg.maxSeqs()];
        this.counts = new int[cfg.maxSeqs()];
        this.hitIds = new int[maxBlocksPerSeq];
        this.hitHashes = new long[maxBlocksPerSeq];
    }

    boolean hasWork() {
        return !running.isEmpty() || !waiting.isEmpty();
    }

    /** Recurrent models: one state slot per running sequence (null for attention-only models). */
    dev.lockstep.cache.StateSlots slots;

    /** Set by the engine when a draft model proposes: its blocks are freed with the sequence's. */
    DraftProposer draft;

    /**
     * Logits rows the positions {@code [c, c+n)} of {@code s} need: scored prompt tokens, the last
     * confirmed token, and every proposed (draft) token after it.
     */
    static int logitRows(Sequence s, int c, int n) {
        int rows = 0;
        if (s.wantsPromptLogprobs()) rows += Math.max(0, Math.min(c + n, s.promptLen - 1) - c);
        int from = Math.max(c, s.length - 1);
        if (c + n > from) rows += c + n - from;
        return rows;
    }

    /** The largest n' <= n whose logits rows fit in {@code budget}. */
    private static int fitLogits(Sequence s, int c, int n, int budget) {
        while (n > 0 && logitRows(s, c, n) > budget) {
            if (c + n > s.length) { // drop a proposed token first
                n--;
                continue;
            }
            // prompt scoring needs a row per token: shrink to the budget; else stop short of the last token
            n = s.wantsPromptLogprobs() && c < s.promptLen - 1 ? Math.min(n - 1, budget) : Math.min(n - 1, s.length - 1 - c);
        }
        return Math.max(n, 0);
    }

    void schedule() {
        numScheduled = 0;
        int budget = maxBatchTokens, logitBudget = maxLogitRows;
        boolean preempted = false;
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence s = running.get(i);
            if (s.parked) continue; // waiting for its grammar, a logits row set aside
            // a prompt chunk leaves one token of budget for each running sequence after it (their decodes)
            int room = Math.max(1, budget - (running.size() - 1 - i));
            int n = fitLogits(s, s.computed, Math.min(s.length - s.computed + s.numDraft, room), logitBudget);
            s.numDraft = Math.max(0, Math.min(s.numDraft, s.computed + n - s.length)); // what the budgets left of the proposal
            if (n == 0) continue;
            boolean ok = true;
            while (!grow(s, s.computed + n)) {
                if (s.numDraft > 0) { // speculation never preempts anyone: drop the proposal instead
                    n -= s.numDraft;
                    s.numDraft = 0;
                    continue;
                }
                Sequence victim = running.getLast();
                preempt(victim);
                preempted = true;
                if (victim == s) {
                    ok = false;
                    break;
                }
            }
            if (!ok) break; // s itself was preempted: it was the last running sequence
            add(s, n);
            budget -= n;
            logitBudget -= logitRows(s, s.computed, n);
        }
        if (preempted) return; // no admissions in a step that had to preempt
        while (budget > 0 && running.size() < maxSeqs && !waiting.isEmpty() && numScheduled < scheduled.length) {
            Sequence s = waiting.peekFirst();
            int hits = 0;
            if (!s.prefixLooked && blocks.prefixCaching() && !s.wantsPromptLogprobs()) {
                // keep at least one token to compute: its logits give the next token
                hits = blocks.lookupPrefix(s.tokens, s.length, (s.length - 1) / blockSize, hitIds, hitHashes);
            }
            int start = hits * blockSize;
            int n = fitLogits(s, start, Math.min(s.length - start, budget), logitBudget);
            if (n == 0) break;
            int needed = blocks.blocksFor(start + n) - hits;
            if (blocks.available() - blocks.countIdle(hitIds, hits) < needed) break; // wait for memory, FCFS
            waiting.pollFirst();
            if (!s.prefixLooked) {
                blocks.recordLookup(s.promptLen, Math.min(start, s.promptLen));
                s.cachedPromptTokens = Math.min(start, s.promptLen);
            }
            s.prefixLooked = true;
            for (int h = 0; h < hits; h++) {
                blocks.acquire(hitIds[h]);
                s.blockTable[h] = hitIds[h];
                s.blockHashes[h] = hitHashes[h];
            }
            s.numBlocks = hits;
            s.hashedBlocks = hits;
            s.computed = start;
            if (!grow(s, start + n)) throw new IllegalStateException("blocks vanished during admission");
            s.state = Sequence.State.RUNNING;
            if (slots != null) s.stateSlot = slots.acquire(); // fresh: recurrent sequences restart from position 0
            if (!s.admitted) {
                s.admitted = true;
                newlyAdmitted++;
            }
            running.add(s);
            add(s, n);
            budget -= n;
            logitBudget -= logitRows(s, start, n);
        }
    }

    private void add(Sequence s, int n) {
        scheduled[numScheduled] = s;
        counts[numScheduled++] = n;
    }

    /** Allocates blocks so that {@code s} can hold {@code tokens} tokens; false if memory is short. */
    private boolean grow(Sequence s, int tokens) {
        int nb = blocks.grow(s.blockTable, s.numBlocks, tokens);
        if (nb < 0) return false;
        s.numBlocks = nb;
        return true;
    }

    /** Frees every block of a running sequence and puts it back at the front of the queue. */
    void preempt(Sequence s) {
        release(s);
        s.numDraft = 0;
        running.remove(s);
        s.state = Sequence.State.WAITING;
        s.prefixLooked = false;
        s.computed = 0;
        s.parked = false; // a row it set aside is recomputed with the rest
        if (s.promptLogprobs != null) s.promptLogprobs.clear();
        preemptions++;
        waiting.addFirst(s);
    }

    /** Returns a sequence's blocks to the pool. */
    void release(Sequence s) {
        blocks.release(s.blockTable, 0, s.numBlocks);
        s.numBlocks = 0;
        s.hashedBlocks = 0;
        if (draft != null && s.draftNumBlocks > 0) draft.release(s);
        if (s.stateSlot >= 0) {
            slots.release(s.stateSlot);
            s.stateSlot = -1;
        }
    }

    /** Frees blocks past those holding {@code tokens} positions (K/V of rejected proposals). */
    void truncate(Sequence s, int tokens) {
        int keep = blocks.blocksFor(tokens);
        blocks.release(s.blockTable, keep, s.numBlocks);
        s.numBlocks = Math.min(s.numBlocks, keep);
    }

    /** Removes a sequence (finished or cancelled) from the scheduler and frees its blocks. */
    void remove(Sequence s) {
        if (s.state == Sequence.State.RUNNING) {
            running.remove(s);
            release(s);
        } else if (s.state == Sequence.State.WAITING) {
            waiting.remove(s);
        }
        s.state = Sequence.State.FINISHED;
    }

    /** Registers the sequence's newly filled blocks in the prefix cache. */
    void registerFullBlocks(Sequence s) {
        int full = s.computed / blockSize;
        for (int j = s.hashedBlocks; j < full; j++) {
            long parent = j == 0 ? blocks.rootHash() : s.blockHashes[j - 1];
            s.blockHashes[j] = blocks.register(s.blockTable[j], parent, s.tokens, j * blockSize);
        }
        if (full > s.hashedBlocks) s.hashedBlocks = full;
    }
}
