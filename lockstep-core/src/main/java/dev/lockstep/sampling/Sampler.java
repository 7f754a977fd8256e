package dev.lockstep.sampling;

import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.Exp;
import dev.lockstep.kernels.Ops;

import java.util.Arrays;

/**
 * Picks the next token from a row of logits, for one request at a time, deterministically: penalties,
 * then greedy argmax or (temperature, top-k, top-p, min-p) and a draw from the counter-based generator
 * keyed by (seed, position of the token being sampled, stream). The same logits, parameters, history and
 * position give the same token, always. Scratch buffers are reused (one Sampler per engine thread).
 *
 * <p>Order of the sampling steps: logit bias, penalties, temperature, top-k, top-p, min-p (as vLLM); sums run in
 * candidate order (id order, or sorted by probability when a filter needs the ranking).
 */
public final class Sampler {
    private final int vocab;
    private final float[] work;
    private final int[] counts;
    private final long[] keys;
    private final int[] cand;
    private final long[] best;
    private final float[] acc = new float[Canonical.LANES];

    public Sampler(int vocab) {
        this.vocab = vocab;
        this.work = new float[vocab];
        this.counts = new int[vocab];
        this.keys = new long[vocab];
        this.cand = new int[vocab];
        this.best = new long[vocab];
    }

    /**
     * Samples from {@code logits[off..off+vocab)}. {@code history[0..len)} are the sequence's tokens so far
     * (the first {@code promptLen} are the prompt); the new token will sit at position {@code len}.
     */
    public int sample(float[] logits, int off, SamplingParams p, int[] history, int promptLen, int len, long stream) {
        return sample(logits, off, p, history, promptLen, len, stream, null, null);
    }

    /**
     * As {@link #sample(float[], int, SamplingParams, int[], int, int, long)}, over the tokens of
     * {@code allowed} only (bit {@code id} of word {@code id / 64}; null: all) and never one of
     * {@code banned} (null: none); at least one token must remain. The others' logits become -infinity
     * before anything else, so every later step (bias, penalties, filters, the draw) sees only the
     * tokens left.
     */
    public int sample(float[] logits, int off, SamplingParams p, int[] history, int promptLen, int len, long stream,
                      long[] allowed, int[] banned) {
        float[] l = work;
        System.arraycopy(logits, off, l, 0, vocab);
        if (allowed != null)
            for (int i = 0; i < vocab; i++) if ((allowed[i >>> 6] >>> i & 1) == 0) l[i] = Float.NEGATIVE_INFINITY;
        if (banned != null) for (int t : banned) l[t] = Float.NEGATIVE_INFINITY;
        p.logitBias().apply(l);
        if (p.hasPenalties()) applyPenalties(l, p, history, promptLen, len);
        if (p.greedy()) return Ops.argmax(l, 0, vocab);

        float invT = 1f / p.temperature();
        for (int i = 0; i < vocab; i++) l[i] = l[i] * invT;
        int n; // candidates cand[0..n), in the order their probabilities are summed
        boolean sorted = p.topK() > 0 || p.topP() < 1f;
        if (sorted) {
            n = rankByLogit(l, p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab);
        } else {
            n = vocab;
            for (int i = 0; i < vocab; i++) cand[i] = i;
        }
        // unnormalised probabilities e_i = exp(l_i - max), max first in sorted order
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, l[cand[i]]);
        Arrays.fill(acc, 0f);
        for (int i = 0; i < n; i++) {
            float v = Exp.exp(l[cand[i]] - max);
            l[cand[i]] = v;
            acc[i & 15] += v;
        }
        double total = Canonical.tree(acc);
        if (p.topP() < 1f) {
            double target = p.topP() * total, cum = 0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                cum += l[cand[i]];
                if (cum >= target) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
        }
        if (p.minP() > 0f) {
            // e_max = exp(0) = 1, so the threshold is minP itself
            int k = 0;
            for (int i = 0; i < n; i++) if (l[cand[i]] >= p.minP()) cand[k++] = cand[i];
            n = k;
        }
        double kept = 0;
        for (int i = 0; i < n; i++) kept += l[cand[i]];
        double target = Philox.uniform(p.seed(), len, stream) * kept, cum = 0;
        for (int i = 0; i < n; i++) {
            cum += l[cand[i]];
            if (cum > target) return cand[i];
        }
        return cand[n - 1];
    }

    /** Puts the {@code k} largest logits' ids into {@code cand[0..k)}, largest first, ties by lower id. */
    private int rankByLogit(float[] l, int k) {
        for (int i = 0; i < vocab; i++) keys[i] = sortKey(l[i], i);
        if (k < vocab / 8) {
            // partial selection: a sorted window of the best k
            Arrays.fill(best, 0, k, Long.MAX_VALUE);
            for (int i = 0; i < vocab; i++) {
                long key = keys[i];
                if (key < best[k - 1]) {
                    int j = k - 1;
                    while (j > 0 && best[j - 1] > key) {
                        best[j] = best[j - 1];
                        j--;
                    }
                    best[j] = key;
                }
            }
            for (int i = 0; i < k; i++) cand[i] = idOf(best[i]);
        } else {
            Arrays.sort(keys); // scratch: filled again by the next call
            for (int i = 0; i < k; i++) cand[i] = idOf(keys[i]);
        }
        return k;
    }

    /** Ascending order of the key = descending value, then ascending id. */
    static long sortKey(float v, int id) {
        int bits = Float.floatToIntBits(v);
        // map floats to ints whose signed order is the float order, then flip for descending
        int ordered = bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
        long desc = 0x7FFFFFFFL - ordered; // in [0, 2^32)
        return (desc << 31) | id;
    }

    static int idOf(long key) {
        return (int) (key & 0x7FFFFFFF);
    }

    private void applyPenalties(float[] l, SamplingParams p, int[] history, int promptLen, int len) {
        if (p.repetitionPenalty() != 1f) {
            int from = p.repeatLastN() < 0 ? 0 : Math.max(0, len - p.repeatLastN());
            for (int i = from; i < len; i++) {
                int t = history[i];
                if (counts[t] == 0) {
                    counts[t] = 1;
                    l[t] = l[t] > 0 ? l[t] / p.repetitionPenalty() : l[t] * p.repetitionPenalty();
                }
            }
            for (int i = from; i < len; i++) counts[history[i]] = 0;
        }
        if (p.frequencyPenalty() != 0f || p.presencePenalty() != 0f) {
            for (int i = promptLen; i < len; i++) counts[history[i]]++;
            for (int i = promptLen; i < len; i++) {
                int t = history[i];
                if (counts[t] > 0) {
                    l[t] -= counts[t] * p.frequencyPenalty() + p.presencePenalty();
                    counts[t] = 0; // apply once per distinct token
                }
            }
        }
    }
}
