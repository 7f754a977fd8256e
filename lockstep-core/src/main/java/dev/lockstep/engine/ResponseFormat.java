package dev.lockstep.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.sampling.ByteAutomaton;
import dev.lockstep.sampling.GrammarAutomaton;
import dev.lockstep.sampling.JsonGrammar;
import dev.lockstep.sampling.JsonSchemaGrammar;
import dev.lockstep.sampling.TokenMasks;

/**
 * What shape the generated text must have. A constrained format is decoded with a byte automaton
 * ({@link ByteAutomaton}): each step samples only among tokens whose bytes keep the output a prefix of
 * something the automaton accepts, and the request finishes (reason {@code stop}) the moment the value
 * is complete. The allowed set depends only on the request's own output, so every guarantee of the
 * engine holds for constrained requests as for any other.
 *
 * <ul>
 *   <li>{@link #TEXT}: unconstrained;</li>
 *   <li>{@link #JSON_OBJECT}: any one JSON object (OpenAI's {@code json_object}, {@link JsonGrammar});</li>
 *   <li>{@link #jsonSchema}: a value a JSON schema accepts (OpenAI's {@code json_schema},
 *       {@link JsonSchemaGrammar}); its automaton is this format's own, so one format serves one
 *       request's choices.</li>
 * </ul>
 */
public final class ResponseFormat {
    public static final ResponseFormat TEXT = new ResponseFormat("text", null);
    public static final ResponseFormat JSON_OBJECT = new ResponseFormat("JSON object", JsonGrammar.OBJECT);

    private final String description;
    private final ByteAutomaton automaton;
    /** The engine's masks of this format's automaton, shared by the requests that share the format (engine thread only). */
    TokenMasks masks;

    private ResponseFormat(String description, ByteAutomaton automaton) {
        this.description = description;
        this.automaton = automaton;
    }

    /**
     * Output that {@code schema} accepts (its root an object schema); throws
     * {@link JsonSchemaGrammar.UnsupportedSchemaException} naming what it cannot enforce.
     */
    public static ResponseFormat jsonSchema(String name, JsonNode schema) {
        return new ResponseFormat("JSON schema" + (name == null ? "" : " '" + name + "'"),
                new GrammarAutomaton(JsonSchemaGrammar.compile(schema)));
    }

    public boolean constrained() {
        return automaton != null;
    }

    /** The automaton of a constrained format (null for text). */
    public ByteAutomaton automaton() {
        return automaton;
    }

    public String describe() {
        return description;
    }

    @Override
    public String toString() {
        return description;
    }
}
