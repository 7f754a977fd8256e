package dev.lockstep.engine;

import dev.lockstep.sampling.Logprobs;

import java.util.List;

/** What a request's stream delivers, in order: prompt logprobs (if asked), tokens, then one Finished. */
public sealed interface GenerationEvent {

    /** Logprob entries of prompt tokens 1..n-1 (token 0 has none), when the request asked for them. */
    record PromptLogprobs(List<Logprobs.Entry> entries) implements GenerationEvent {}

    /**
     * A generated token. {@code text} is the new text it completes (may be empty: part of a UTF-8
     * character, an end-of-generation token, or text held back while it might start a stop string).
     */
    record Token(int token, Logprobs.Entry logprob, String text) implements GenerationEvent {}

    /**
     * The end: reason, final text not yet delivered, token counts, for ERROR a message, and speculation
     * statistics (tokens proposed, proposals accepted, verification steps).
     */
    record Finished(FinishReason reason, String text, int promptTokens, int completionTokens, int cachedPromptTokens,
                    String message, int specProposed, int specAccepted, int specSteps) implements GenerationEvent {}
}
