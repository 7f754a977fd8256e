package dev.lockstep.engine;

/**
 * Prompt lookup: find the latest earlier occurrence of the sequence's last n tokens (longest n first)
 * and propose the tokens that followed it. No model, no state; strong when the output repeats or
 * edits its input (rewriting, code, extraction, retrieval-augmented answers).
 */
final class NgramProposer {
    private NgramProposer() {}

    /**
     * Writes up to {@code max} proposed tokens continuing {@code tokens[0, len)} into {@code out};
     * returns how many.
     */
    static int propose(int[] tokens, int len, int max, int nMin, int nMax, int[] out) {
        for (int n = Math.min(nMax, len - 1); n >= nMin; n--) {
            int suffix = len - n;
            // latest match first: the most recent context is the best predictor of what comes next
            for (int start = suffix - 1; start >= 0; start--) {
                if (!matches(tokens, start, suffix, n)) continue;
                int from = start + n;
                int k = Math.min(max, len - from);
                if (k <= 0) continue;
                System.arraycopy(tokens, from, out, 0, k);
                return k;
            }
        }
        return 0;
    }

    private static boolean matches(int[] t, int a, int b, int n) {
        for (int i = 0; i < n; i++) if (t[a + i] != t[b + i]) return false;
        return true;
    }
}
