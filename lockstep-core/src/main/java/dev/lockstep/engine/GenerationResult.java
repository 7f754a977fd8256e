package dev.lockstep.engine;

import dev.lockstep.sampling.Logprobs;

import java.util.List;

/** A finished request, collected: generated token ids, text, logprobs (if asked) and how it ended. */
public record GenerationResult(int[] tokens, String text, List<Logprobs.Entry> logprobs,
                               List<Logprobs.Entry> promptLogprobs, GenerationEvent.Finished finish) {
    public FinishReason reason() {
        return finish.reason();
    }
}
