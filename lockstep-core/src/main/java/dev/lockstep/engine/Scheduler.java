package dev.lockstep.engine;

import dev.lockstep.cache.BlockManager;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Continuous batching: decides, every step, which tokens of which sequences the next forward pass
 * computes, under a token budget ({@code maxBatchTokens}), a sequence budget ({@code maxSeqs}) and
 * a logits-row budget.
 *
 * <p><b>Fair shares between requests</b>, not first come first served between sequences (a request:
 * the sequences submitted together, one HTTP request's prompts times its choices, {@link RequestGroup}):
 * <ol>
 *   <li>The step's token budget goes to running sequences in the order of their request's service so
 *       far (tokens computed for it), least first, so a request that just arrived is served before
 *       one that has computed for a while; each prompt chunk leaves a token for every sequence after
 *       it (their decodes).</li>
 *   <li>Waiting sequences are admitted whose request has the fewest running sequences first (then
 *       the least served, then the earliest), each taking whatever prefix of its prompt the prefix
 *       cache holds and a chunk of the rest.</li>
 *   <li>While a request waits for a running slot and another holds more than its share (maxSeqs over
 *       the requests with work), that one gives its most recently admitted sequence back: a 4-token
 *       probe gets a slot within a step however many choices a big request runs.</li>
 * </ol>
 *
 * <p>When KV blocks run out, the most recently admitted running sequence is preempted: its blocks are
 * freed and it goes back to the front of the queue, to be recomputed later. Recomputation is exact
 * (batch-invariant kernels, position-keyed sampling), so neither preemption nor any order of service
 * ever changes a result.
 *
 * <p>The result of {@link #schedule()} is in {@link #scheduled} / {@link #counts}.
 */
final class Scheduler {
    private final BlockManager blocks;
    private final int maxBatchTokens, maxSeqs, maxLogitRows, blockSize;
    final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    /** In admission order (the last is the first to give its blocks back). */
    final List<Sequence> running = new ArrayList<>();
    /** Running sequences in the order the step's budget goes to them (scratch, reused). */
    private final List<Sequence> order = new ArrayList<>();
    private static final Comparator<Sequence> LEAST_SERVED =
            Comparator.<Sequence>comparingLong(s -> s.group.service).thenComparingLong(s -> s.admittedAt);

    // output of schedule()
    final Sequence[] scheduled;
    final int[] counts;
    int numScheduled;
    /** Requests whose last never-admitted sequence the last schedule() admitted (the engine's queue count drops by this). */
    int groupsAdmitted;
    volatile long preemptions;
    private long steps, admissions;

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
        steps++;
        int budget = maxBatchTokens, logitBudget = maxLogitRows;
        boolean rebalanced = shareSlots();
        order.clear();
        for (Sequence s : running) if (!s.parked) order.add(s); // parked: waiting for its grammar
        order.sort(LEAST_SERVED);
        boolean preempted = false;
        for (int i = 0; i < order.size() && budget > 0; i++) {
            Sequence s = order.get(i);
            if (s.state != Sequence.State.RUNNING) continue; // preempted for memory earlier in this loop
            // a prompt chunk leaves one token of budget for each running sequence after it (their decodes)
            int room = Math.max(1, budget - (order.size() - 1 - i));
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
                Sequence victim = lastUnscheduled(); // never one already in this step's batch (s itself is not yet)
                preempt(victim);
                preempted = true;
                if (victim == s) {
                    ok = false;
                    break;
                }
            }
            if (!ok) continue; // s itself gave its blocks back
            add(s, n);
            budget -= n;
            logitBudget -= logitRows(s, s.computed, n);
        }
        if (preempted && !rebalanced) return; // no admissions in a step that had to preempt for memory
        while (budget > 0 && running.size() < maxSeqs && !waiting.isEmpty() && numScheduled < scheduled.length) {
            Sequence s = nextToAdmit();
            int hits = 0;
            if (!s.prefixLooked && blocks.prefixCaching() && !s.wantsPromptLogprobs()) {
                // keep at least one token to compute: its logits give the next token
                hits = blocks.lookupPrefix(s.tokens, s.length, (s.length - 1) / blockSize, hitIds, hitHashes);
            }
            int start = hits * blockSize;
            int n = fitLogits(s, start, Math.min(s.length - start, budget), logitBudget);
            if (n == 0) break;
            int needed = blocks.blocksFor(start + n) - hits;
            if (blocks.available() - blocks.countIdle(hitIds, hits) < needed) break; // wait for memory, in turn
            waiting.remove(s);
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
            s.admittedAt = admissions++;
            s.group.running++;
            if (slots != null) s.stateSlot = slots.acquire(); // fresh: recurrent sequences restart from position 0
            if (!s.admitted) {
                s.admitted = true;
                if (--s.group.neverAdmitted == 0) groupsAdmitted++;
            }
            running.add(s);
            add(s, n);
            budget -= n;
            logitBudget -= logitRows(s, start, n);
        }
    }

    /**
     * The waiting sequence to admit next: the one whose request runs the fewest sequences, then the
     * least served, then the one queued first (a preempted sequence is at the front of the queue).
     */
    private Sequence nextToAdmit() {
        Sequence best = null;
        for (Sequence s : waiting) {
            if (best == null || s.group.running < best.group.running
                    || s.group.running == best.group.running && s.group.service < best.group.service) best = s;
        }
        return best;
    }

    /**
     * Rule 3 of the class comment: no slot free, a request waiting with fewer running sequences than
     * its share, another above its share: the one above gives back its most recently admitted
     * sequence (at most one per step). True if it did.
     */
    private boolean shareSlots() {
        if (waiting.isEmpty() || running.size() < maxSeqs) return false;
        Sequence next = nextToAdmit();
        int share = Math.max(1, maxSeqs / groupsWithWork());
        if (next.group.running >= share) return false;
        Sequence victim = null;
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence s = running.get(i);
            if (s.group.running > share && (victim == null || s.group.running > victim.group.running)) victim = s;
        }
        if (victim == null) return false;
        preempt(victim);
        return true;
    }

    /** Requests with a sequence running or waiting (counted with a stamp: no set per step). */
    private int groupsWithWork() {
        int n = 0;
        for (Sequence s : running) if (s.group.countedAt != steps) {
            s.group.countedAt = steps;
            n++;
        }
        for (Sequence s : waiting) if (s.group.countedAt != steps) {
            s.group.countedAt = steps;
            n++;
        }
        return n;
    }

    private void add(Sequence s, int n) {
        scheduled[numScheduled] = s;
        counts[numScheduled++] = n;
        s.group.service += n;
        s.scheduledStep = steps;
    }

    /** The most recently admitted running sequence not in this step's batch yet. */
    private Sequence lastUnscheduled() {
        for (int i = running.size() - 1; i >= 0; i--) if (running.get(i).scheduledStep != steps) return running.get(i);
        throw new IllegalStateException("every running sequence is scheduled, yet one asks for blocks");
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
        s.group.running--;
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
            s.group.running--;
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
