package dev.lockstep.engine;

/**
 * What shape the generated text must have. {@code JSON_OBJECT} is constrained decoding ("JSON mode",
 * OpenAI's {@code response_format: {"type": "json_object"}}): each step samples only among tokens that
 * keep the output a prefix of one JSON object ({@link dev.lockstep.sampling.JsonGrammar}), and the
 * request finishes (reason {@code stop}) the moment the object closes. The allowed set depends only
 * on the request's own output, so the guarantees of the engine hold for it as for any request.
 */
public enum ResponseFormat {
    TEXT,
    JSON_OBJECT
}
