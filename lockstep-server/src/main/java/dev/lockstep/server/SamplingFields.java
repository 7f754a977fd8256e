package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.LockstepException;
import dev.lockstep.engine.SpecConfig;
import dev.lockstep.engine.TokenStops;
import dev.lockstep.sampling.SamplingParams;

import java.util.List;
import java.util.Set;

/**
 * The generation fields shared by chat and text completions, with the OpenAI API's defaults and ranges.
 * One deliberate difference: an absent {@code seed} means seed 0, not a random one, so that the same
 * request always gets the same response (the server's promise; pass a seed to vary it).
 */
record SamplingFields(SamplingParams sampling, int n, int maxTokens, List<String> stop, boolean stream,
                      boolean includeUsage, boolean ignoreEos, SpecConfig.Mode spec, TokenStops tokenStops) {

    static final int MAX_N = 16;
    static final int MAX_STOP = 16;
    static final int MAX_LOGIT_BIAS = 1024;
    static final int MAX_STOP_TOKEN_IDS = 64;

    /** The fields {@link #parse} reads (and {@code model}); an endpoint adds its own ({@link #fields}). */
    private static final Set<String> FIELDS = Set.of("model", "temperature", "top_p", "top_k", "min_p",
            "presence_penalty", "frequency_penalty", "repetition_penalty", "seed", "n", "max_tokens",
            "max_completion_tokens", "stop", "stream", "stream_options", "user", "ignore_eos", "speculation",
            "logit_bias", "min_tokens", "stop_token_ids");

    /** The shared fields plus an endpoint's own: everything else is refused ({@link Fields#only}). */
    static Set<String> fields(String... endpointOwn) {
        return Fields.union(FIELDS, Set.copyOf(List.of(endpointOwn)));
    }

    /** Lockstep's extension {@code "speculation": "off" | "ngram" | "draft"}: never changes the output, only the speed. */
    static SpecConfig.Mode speculation(Fields f) {
        String s = f.string("speculation", null);
        if (s == null) return null;
        try {
            return SpecConfig.Mode.parse(s, "speculation");
        } catch (LockstepException e) {
            throw ApiException.badRequest("speculation", e.getMessage());
        }
    }

    /** vLLM's {@code stop_token_ids} and {@code min_tokens}. */
    static TokenStops tokenStops(Fields f, int maxTokens, int vocab) {
        int min = f.integer("min_tokens", 0, 0, maxTokens > 0 ? maxTokens : Integer.MAX_VALUE);
        JsonNode ids = f.node("stop_token_ids");
        if (ids == null) return min == 0 ? TokenStops.NONE : new TokenStops(new int[0], min);
        if (!ids.isArray()) throw Fields.wrongType("stop_token_ids", "a list of token ids", ids);
        if (ids.size() > MAX_STOP_TOKEN_IDS)
            throw ApiException.badRequest("stop_token_ids", "stop_token_ids has " + ids.size() + " entries; at most " + MAX_STOP_TOKEN_IDS + " are allowed");
        return new TokenStops(Fields.tokenIds(ids, "stop_token_ids", vocab), min);
    }

    /** The shared fields; {@code vocab}: the model's, for the token ids a request names. */
    static SamplingFields parse(Fields f, int defaultMaxTokens, int vocab) {
        float temperature = f.number("temperature", 1f, 0, 2);
        float topP = f.number("top_p", 1f, 0, 1);
        if (topP == 0f) throw ApiException.badRequest("top_p", "top_p must be greater than 0, got 0");
        int topK = f.integer("top_k", 0, -1, Integer.MAX_VALUE);
        if (topK < 0) topK = 0; // vLLM spells "off" as -1
        float minP = f.number("min_p", 0f, 0, 1);
        float presence = f.number("presence_penalty", 0f, -2, 2);
        float frequency = f.number("frequency_penalty", 0f, -2, 2);
        float repetition = f.number("repetition_penalty", 1f, 0.01, 10);
        long seed = f.int64("seed", 0L);
        int n = f.integer("n", 1, 1, MAX_N);
        int maxTokens = defaultMaxTokens;
        if (f.has("max_completion_tokens")) maxTokens = f.integer("max_completion_tokens", -1, 1, Integer.MAX_VALUE);
        else if (f.has("max_tokens")) maxTokens = f.integer("max_tokens", -1, 1, Integer.MAX_VALUE);
        List<String> stop = f.stringOrList("stop", MAX_STOP);
        boolean stream = f.bool("stream", false);
        boolean includeUsage = false;
        JsonNode so = f.node("stream_options");
        if (so != null) {
            if (!so.isObject()) throw Fields.wrongType("stream_options", "an object", so);
            if (!stream) throw ApiException.badRequest("stream_options", "stream_options is only allowed when stream is true");
            includeUsage = new Fields(so).bool("include_usage", false);
        }
        f.string("user", null); // accepted for compatibility; type-checked, not used
        boolean ignoreEos = f.bool("ignore_eos", false);
        SpecConfig.Mode spec = speculation(f);
        SamplingParams p = new SamplingParams(temperature, topK, topP, minP, repetition, 64, frequency, presence, seed,
                f.logitBias("logit_bias", MAX_LOGIT_BIAS));
        return new SamplingFields(p, n, maxTokens, stop, stream, includeUsage, ignoreEos, spec, tokenStops(f, maxTokens, vocab));
    }
}
