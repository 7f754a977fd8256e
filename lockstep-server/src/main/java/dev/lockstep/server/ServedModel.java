package dev.lockstep.server;

import dev.lockstep.engine.Engine;
import dev.lockstep.tokenizer.ChatTemplate;
import dev.lockstep.tokenizer.Tokenizer;

/**
 * What the server serves once loading is done: the engine, the tokenizer and chat template from the
 * model file, the model's public id, and the fingerprint that identifies the numerics.
 */
record ServedModel(String id, Engine engine, Tokenizer tokenizer, ChatTemplate template, String fingerprint,
                   long created) {

    int contextLength() {
        return engine.contextLength();
    }
}
