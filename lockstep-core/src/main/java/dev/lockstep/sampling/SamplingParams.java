package dev.lockstep.sampling;

import dev.lockstep.LockstepException;

/**
 * How one request picks its tokens. Every field is per request: two requests in the same batch never
 * influence each other's choice, and greedy-vs-sampling is decided here, never per batch.
 *
 * @param temperature       0 = greedy (argmax, ties to the lowest id)
 * @param topK              keep the k most likely tokens (0 = off)
 * @param topP              keep the smallest set whose probability reaches p (1 = off)
 * @param minP              drop tokens below minP x the top probability (0 = off)
 * @param repetitionPenalty llama.cpp/CTRL penalty on tokens of the last {@code repeatLastN} (1 = off)
 * @param repeatLastN       window of the repetition penalty over prompt + output (-1 = all)
 * @param frequencyPenalty  OpenAI: minus this x count of the token in the output so far
 * @param presencePenalty   OpenAI: minus this if the token occurred in the output so far
 * @param seed              key of the counter-based generator
 * @param logitBias         OpenAI's {@code logit_bias}, added to the logits before everything else
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty,
                             int repeatLastN, float frequencyPenalty, float presencePenalty, long seed,
                             LogitBias logitBias) {

    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0L);

    /** Without a logit bias. */
    public SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty,
                          int repeatLastN, float frequencyPenalty, float presencePenalty, long seed) {
        this(temperature, topK, topP, minP, repetitionPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed,
                LogitBias.NONE);
    }

    public SamplingParams {
        if (logitBias == null) logitBias = LogitBias.NONE;
        check(temperature >= 0 && temperature <= 100 && Float.isFinite(temperature), "temperature", temperature, "[0, 100]");
        check(topK >= 0, "top_k", topK, ">= 0");
        check(topP > 0 && topP <= 1, "top_p", topP, "(0, 1]");
        check(minP >= 0 && minP <= 1, "min_p", minP, "[0, 1]");
        check(repetitionPenalty > 0 && repetitionPenalty <= 10, "repetition_penalty", repetitionPenalty, "(0, 10]");
        check(repeatLastN >= -1, "repeat_last_n", repeatLastN, ">= -1");
        check(frequencyPenalty >= -2 && frequencyPenalty <= 2, "frequency_penalty", frequencyPenalty, "[-2, 2]");
        check(presencePenalty >= -2 && presencePenalty <= 2, "presence_penalty", presencePenalty, "[-2, 2]");
    }

    private static void check(boolean ok, String name, double value, String range) {
        if (!ok) throw new InvalidParameterException(name, name + " = " + value + " is out of range " + range);
    }

    public boolean greedy() {
        return temperature == 0f;
    }

    public boolean hasPenalties() {
        return repetitionPenalty != 1f || frequencyPenalty != 0f || presencePenalty != 0f;
    }

    public SamplingParams withSeed(long s) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, s, logitBias);
    }

    public SamplingParams withLogitBias(LogitBias b) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, seed, b);
    }

    /** A request parameter out of its allowed range; names the parameter (for the API's {@code param}). */
    public static final class InvalidParameterException extends LockstepException {
        private final String param;

        public InvalidParameterException(String param, String message) {
            super(message);
            this.param = param;
        }

        public String param() {
            return param;
        }
    }
}
