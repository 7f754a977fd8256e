package dev.lockstep.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.sampling.ByteAutomaton;
import dev.lockstep.sampling.Gbnf;
import dev.lockstep.sampling.Grammar;
import dev.lockstep.sampling.GrammarAutomaton;
import dev.lockstep.sampling.GrammarLimitException;
import dev.lockstep.sampling.GrammarMeter;
import dev.lockstep.sampling.JsonGrammar;
import dev.lockstep.sampling.JsonSchemaGrammar;

import java.util.List;
import java.util.function.Function;

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
 *
 * <p>A schema is compiled where the request arrives, not on the engine's threads, and refused there
 * (with the limit and where) if its grammar is too big or its parse paths blow up within the first
 * bytes of output ({@link GrammarAutomaton#probe}). What it costs later is bounded per computation
 * on the engine's grammar thread ({@link GrammarWorker}).
 */
public final class ResponseFormat {
    public static final ResponseFormat TEXT = new ResponseFormat("text", null);
    public static final ResponseFormat JSON_OBJECT = new ResponseFormat("JSON object", JsonGrammar.OBJECT);

    /** States the compile-time probe explores, and the work it may do (a few milliseconds). */
    static final int PROBE_STATES = 2_000;
    static final long PROBE_WORK = 2_000_000;

    private final String description;
    private final ByteAutomaton automaton;

    /** A format of any automaton (package-private: tests use automata of their own). */
    ResponseFormat(String description, ByteAutomaton automaton) {
        this.description = description;
        this.automaton = automaton;
    }

    /**
     * Output that {@code schema} accepts (its root an object schema); throws
     * {@link JsonSchemaGrammar.UnsupportedSchemaException} naming what it cannot enforce.
     */
    public static ResponseFormat jsonSchema(String name, JsonNode schema) {
        return new ResponseFormat("JSON schema" + (name == null ? "" : " '" + name + "'"), probed(JsonSchemaGrammar.compile(schema),
                why -> new JsonSchemaGrammar.UnsupportedSchemaException("the schema is too ambiguous to enforce: " + why)));
    }

    /**
     * Output that a GBNF grammar accepts (llama.cpp's {@code grammar}, {@link Gbnf}); throws
     * {@link Gbnf.GbnfException} naming what does not parse, or if the grammar is too ambiguous.
     */
    public static ResponseFormat gbnf(String source) {
        return new ResponseFormat("GBNF grammar", probed(Gbnf.compile(source),
                why -> new Gbnf.GbnfException("the grammar is too ambiguous to enforce: " + why)));
    }

    /** The automaton of {@code g}, probed from its start; a blow-up the probe finds is thrown as {@code refusal} makes it. */
    private static GrammarAutomaton probed(Grammar g, Function<String, RuntimeException> refusal) {
        GrammarAutomaton a = new GrammarAutomaton(g);
        try {
            a.probe(PROBE_STATES, GrammarMeter.of(PROBE_WORK));
        } catch (GrammarLimitException.OverBudget probeDone) {
            // the probe's own budget ran out before it found anything wrong: the grammar thread's bounds hold later
        } catch (GrammarLimitException e) {
            throw refusal.apply(e.getMessage());
        }
        return a;
    }

    /**
     * Output that is exactly one of {@code choices} (vLLM's {@code guided_choice}): a grammar whose
     * root is the choices as literal alternatives.
     */
    public static ResponseFormat choice(List<String> choices) {
        Grammar.Builder g = new Grammar.Builder();
        int root = g.rule("choice");
        for (String c : choices) g.alt(root, g.literal(c));
        return new ResponseFormat("one of " + choices.size() + " choices", new GrammarAutomaton(g.build(root)));
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
