package dev.lockstep.sampling;

import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.Ops;

/**
 * Log-probabilities of the model's raw distribution (before penalties and temperature, as the OpenAI
 * API reports them): logprob_i = (l_i - max) - log(sum_j exp(l_j - max)), the sum in the canonical
 * order. A token's logprob depends only on its own logits row, so a generated token and the same
 * token scored in a prompt get the same bits.
 */
public final class Logprobs {
    private final int vocab;
    private final float[] work, lanes = new float[Canonical.LANES];

    /** A token and its log-probability. */
    public record TokenLogprob(int token, float logprob) {}

    /** The logprob of one chosen token and the {@code top} most likely alternatives. */
    public record Entry(int token, float logprob, TokenLogprob[] top) {}

    public Logprobs(int vocab) {
        this.vocab = vocab;
        this.work = new float[vocab];
    }

    /** log Z relative to max: returns {max, logZ}. */
    private float[] normalizer(float[] logits, int off) {
        float max = Ops.max(logits, off, vocab);
        System.arraycopy(logits, off, work, 0, vocab);
        float z = Ops.expShiftSum(work, 0, vocab, max, lanes);
        return new float[]{max, (float) StrictMath.log(z)};
    }

    public Entry entry(float[] logits, int off, int token, int top) {
        float[] ml = normalizer(logits, off);
        float lp = (logits[off + token] - ml[0]) - ml[1];
        TokenLogprob[] alts = new TokenLogprob[Math.min(top, vocab)];
        if (alts.length > 0) {
            long[] best = new long[alts.length];
            java.util.Arrays.fill(best, Long.MAX_VALUE);
            for (int i = 0; i < vocab; i++) {
                long key = Sampler.sortKey(logits[off + i], i);
                if (key < best[best.length - 1]) {
                    int j = best.length - 1;
                    while (j > 0 && best[j - 1] > key) {
                        best[j] = best[j - 1];
                        j--;
                    }
                    best[j] = key;
                }
            }
            for (int i = 0; i < alts.length; i++) {
                int id = Sampler.idOf(best[i]);
                alts[i] = new TokenLogprob(id, (logits[off + id] - ml[0]) - ml[1]);
            }
        }
        return new Entry(token, lp, alts);
    }
}
