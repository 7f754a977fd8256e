package dev.lockstep.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.engine.GenerationEvent;

/**
 * Token counts of one response, summed over its choices. A prompt counts once however many choices
 * it has; speculation statistics use OpenAI's predicted-output fields: proposed tokens the model
 * confirmed are {@code accepted_prediction_tokens}, the others {@code rejected_prediction_tokens}.
 */
final class Usage {
    private int prompt, completion, cached, proposed, accepted;

    /**
     * Adds a finished choice: its prompt if it is the first choice of that prompt, its completion
     * unless the request only scored the prompt.
     */
    void add(GenerationEvent.Finished f, boolean firstChoiceOfPrompt, boolean countCompletion) {
        if (firstChoiceOfPrompt) {
            prompt += f.promptTokens();
            cached += f.cachedPromptTokens();
        }
        if (countCompletion) completion += f.completionTokens();
        proposed += f.specProposed();
        accepted += f.specAccepted();
    }

    ObjectNode toJson(ObjectMapper json) {
        ObjectNode u = json.createObjectNode();
        u.put("prompt_tokens", prompt);
        u.put("completion_tokens", completion);
        u.put("total_tokens", prompt + completion);
        u.putObject("prompt_tokens_details").put("cached_tokens", cached);
        ObjectNode d = u.putObject("completion_tokens_details");
        d.put("accepted_prediction_tokens", accepted);
        d.put("rejected_prediction_tokens", proposed - accepted);
        return u;
    }
}
