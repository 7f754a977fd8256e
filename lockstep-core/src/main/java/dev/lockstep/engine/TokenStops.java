package dev.lockstep.engine;

import java.util.Arrays;

/**
 * vLLM's {@code stop_token_ids} and {@code min_tokens}: token ids that end the output when generated
 * (the id is in the output, its text is not, as with end-of-generation tokens), and how many tokens
 * must come before an end-of-generation or stop token may be generated at all (until then those
 * tokens' logits are -infinity). Stop strings are not held back by {@code minTokens}.
 */
public record TokenStops(int[] ids, int minTokens) {
    public static final TokenStops NONE = new TokenStops(new int[0], 0);

    public TokenStops {
        ids = ids == null ? new int[0] : ids.clone();
        if (minTokens < 0) throw new IllegalArgumentException("min_tokens must be >= 0, got " + minTokens);
    }

    public boolean stops(int token) {
        for (int id : ids) if (id == token) return true;
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenStops t && Arrays.equals(ids, t.ids) && minTokens == t.minTokens;
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + minTokens;
    }

    @Override
    public String toString() {
        return "TokenStops" + Arrays.toString(ids) + " min " + minTokens;
    }
}
