package dev.lockstep.engine;

import dev.lockstep.LockstepException;

import java.util.Locale;

/**
 * Speculative decoding settings. A proposer guesses up to {@code draftMax} tokens; the target model
 * computes all of them in one forward pass (inside the normal continuous-batching step) and each
 * position's token is sampled exactly as plain decoding would sample it; a guess is kept only while
 * it equals that token. Output tokens and logprob bits are therefore those of plain decoding.
 *
 * @param mode      who proposes: nobody, prompt lookup (n-gram), or a draft model
 * @param draftMax  tokens proposed per step at most
 * @param draftMin  fewer proposed tokens than this are not worth a verification: decode plainly
 * @param ngramMax  longest suffix matched by prompt lookup
 * @param ngramMin  shortest suffix matched by prompt lookup
 */
public record SpecConfig(Mode mode, int draftMax, int draftMin, int ngramMax, int ngramMin) {

    public enum Mode {
        OFF, NGRAM, DRAFT;

        public static Mode parse(String s, String param) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new LockstepException(param + " must be off, ngram or draft; got '" + s + "'");
            }
        }
    }

    public static final SpecConfig OFF = new SpecConfig(Mode.OFF, 4, 1, 3, 1);

    public SpecConfig {
        if (draftMax < 1 || draftMax > 32) throw new LockstepException("--draft-max must be between 1 and 32, got " + draftMax);
        if (draftMin < 1 || draftMin > draftMax)
            throw new LockstepException("--draft-min must be between 1 and --draft-max (" + draftMax + "), got " + draftMin);
        if (ngramMin < 1 || ngramMax < ngramMin) throw new LockstepException("n-gram sizes must satisfy 1 <= min <= max");
    }

    public SpecConfig withMode(Mode m) {
        return new SpecConfig(m, draftMax, draftMin, ngramMax, ngramMin);
    }

    public SpecConfig withDraft(int max, int min) {
        return new SpecConfig(mode, max, min, ngramMax, ngramMin);
    }
}
