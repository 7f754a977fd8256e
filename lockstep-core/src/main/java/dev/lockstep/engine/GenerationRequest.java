package dev.lockstep.engine;

import dev.lockstep.sampling.SamplingParams;

import java.util.List;
import java.util.Set;

/**
 * What to generate: a prompt (token ids), how to sample, when to stop, what to report.
 *
 * @param maxTokens      tokens to generate at most (-1: up to the context length)
 * @param stop           strings that end the output (not included in it)
 * @param ignoreEos      keep generating after end-of-generation tokens (benchmarks)
 * @param logprobs       -1: no logprobs; k >= 0: each generated token's logprob and its top k alternatives
 * @param promptLogprobs also score every prompt token (k alternatives as for {@code logprobs})
 * @param stream         random stream index (choices of one prompt sampled with one seed differ by stream)
 * @param spec           speculation for this request (null: the engine's default); never changes the output
 * @param format         plain text, or constrained: JSON mode, a JSON schema ({@link ResponseFormat})
 * @param tokenStops     token ids that end the output, and tokens to generate before any end may ({@link TokenStops})
 * @param shownSpecial   control tokens whose text the output shows (a chat reply's tool-call and thinking markers, which
 *                       the reply is parsed by); other control tokens add no text
 * @param includeStop    a stop string that ends the output is part of it (vLLM's include_stop_str_in_output)
 */
public record GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                                int logprobs, boolean promptLogprobs, long stream,
                                SpecConfig.Mode spec, ResponseFormat format, TokenStops tokenStops, Set<Integer> shownSpecial,
                                boolean includeStop) {

    public GenerationRequest {
        prompt = prompt.clone();
        shownSpecial = shownSpecial == null ? Set.of() : Set.copyOf(shownSpecial);
        stop = stop == null ? List.of() : List.copyOf(stop);
        if (sampling == null) sampling = SamplingParams.GREEDY;
        if (format == null) format = ResponseFormat.TEXT;
        if (tokenStops == null) tokenStops = TokenStops.NONE;
    }

    public GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                             int logprobs, boolean promptLogprobs, long stream, SpecConfig.Mode spec, ResponseFormat format,
                             TokenStops tokenStops) {
        this(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, format, tokenStops, Set.of(), false);
    }

    public GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                             int logprobs, boolean promptLogprobs, long stream, SpecConfig.Mode spec, ResponseFormat format) {
        this(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, format, TokenStops.NONE);
    }

    public GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                             int logprobs, boolean promptLogprobs, long stream, SpecConfig.Mode spec) {
        this(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, ResponseFormat.TEXT);
    }

    public GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, List<String> stop, boolean ignoreEos,
                             int logprobs, boolean promptLogprobs, long stream) {
        this(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, null);
    }

    public GenerationRequest withSpec(SpecConfig.Mode m) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, m, format, tokenStops, shownSpecial, includeStop);
    }

    public GenerationRequest withFormat(ResponseFormat f) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, f, tokenStops, shownSpecial, includeStop);
    }

    public GenerationRequest withTokenStops(TokenStops t) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, format, t, shownSpecial, includeStop);
    }

    public static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, SamplingParams.GREEDY, maxTokens, List.of(), false, -1, false, 0);
    }

    public GenerationRequest withLogprobs(int k) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, k, promptLogprobs, stream, spec, format, tokenStops, shownSpecial, includeStop);
    }

    public GenerationRequest withPromptLogprobs(boolean on) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, on, stream, spec, format, tokenStops, shownSpecial, includeStop);
    }

    public GenerationRequest withIgnoreEos(boolean on) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, on, logprobs, promptLogprobs, stream, spec, format, tokenStops, shownSpecial, includeStop);
    }

    public GenerationRequest withStop(List<String> s) {
        return new GenerationRequest(prompt, sampling, maxTokens, s, ignoreEos, logprobs, promptLogprobs, stream, spec, format, tokenStops, shownSpecial, includeStop);
    }

    public GenerationRequest withShownSpecial(Set<Integer> ids) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, format, tokenStops, ids, includeStop);
    }

    public GenerationRequest withIncludeStop(boolean on) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, stream, spec, format, tokenStops,
                shownSpecial, on);
    }

    public GenerationRequest withStream(long s) {
        return new GenerationRequest(prompt, sampling, maxTokens, stop, ignoreEos, logprobs, promptLogprobs, s, spec, format, tokenStops, shownSpecial, includeStop);
    }
}
