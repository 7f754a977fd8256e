package dev.lockstep.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonSchemaGrammarTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static final String PERSON = """
            {"type": "object", "title": "a person",
             "properties": {
               "name": {"type": "string", "description": "full name"},
               "age": {"type": "integer"},
               "score": {"type": "number"},
               "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
               "address": {"$ref": "#/$defs/Address"},
               "nick": {"type": "string"},
               "kind": {"const": "person"},
               "extra": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
               "friends": {"type": "array", "items": {"$ref": "#"}, "minItems": 0}
             },
             "required": ["name", "age", "tags", "kind"],
             "additionalProperties": false,
             "$defs": {"Address": {"type": "object", "properties": {"street": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                                   "required": ["street", "zip"]}}}
            """;

    static ByteAutomaton automaton(String schema) throws Exception {
        return new GrammarAutomaton(JsonSchemaGrammar.compile(JSON.readTree(schema)));
    }

    static Schema validator(String schema) {
        return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(schema);
    }

    /** The compiler refuses {@code schema} with a message that contains {@code fragment}. */
    static void assertRefused(String schema, String fragment) {
        var e = assertThrows(JsonSchemaGrammar.UnsupportedSchemaException.class, () -> JsonSchemaGrammar.compile(JSON.readTree(schema)));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    static boolean done(ByteAutomaton a, String doc) {
        return a.isDone(a.run(a.start(), doc.getBytes(StandardCharsets.UTF_8)));
    }

    /** Every proper prefix alive and not done, the whole done. */
    static void assertAccepted(ByteAutomaton a, String doc) {
        byte[] b = doc.getBytes(StandardCharsets.UTF_8);
        long s = a.start();
        for (int i = 0; i < b.length; i++) {
            assertFalse(a.isDone(s), "done too early: " + doc);
            s = a.step(s, b[i] & 0xFF);
            assertNotEquals(ByteAutomaton.REJECT, s, "rejected at byte " + i + " of " + doc);
        }
        assertTrue(a.isDone(s), "not done: " + doc);
    }

    @Test
    void acceptsDocumentsOfTheSchemaInItsKeyOrder() throws Exception {
        ByteAutomaton a = automaton(PERSON);
        Schema v = validator(PERSON);
        for (String doc : new String[]{
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[],\"kind\":\"person\"}",
                "{\"name\": \"Ann \\u00e9\\ud83d\\ude00\", \"age\": -3, \"score\": 1.5e-3, \"tags\": [\"a\", \"c\"], "
                        + "\"address\": {\"street\": \"Main\", \"zip\": null}, \"nick\": \"A\", \"kind\": \"person\", \"extra\": true,"
                        + " \"friends\": [{\"name\":\"Bo\",\"age\":0,\"tags\":[\"b\"],\"kind\":\"person\"}]}",
                "{ \"name\" : \"x\", \"age\" : 7, \"tags\" : [ \"b\", \"b\", \"b\" ], \"kind\" : \"person\" }"}) {
            assertAccepted(a, doc);
            assertEquals(List.of(), v.validate(JSON.readTree(doc)), doc);
        }
        // compact whitespace: no newlines, no runs of spaces (a model cannot spend its tokens on them)
        for (String doc : new String[]{"{\n\"name\":\"x\",\"age\":7,\"tags\":[],\"kind\":\"person\"}",
                "{\"name\":  \"x\",\"age\":7,\"tags\":[],\"kind\":\"person\"}"}) {
            long s = a.start();
            for (byte b : doc.getBytes(StandardCharsets.UTF_8)) if (s != ByteAutomaton.REJECT) s = a.step(s, b & 0xFF);
            assertEquals(ByteAutomaton.REJECT, s, doc);
        }
    }

    @Test
    void refusesWhatTheSchemaDoesNot() throws Exception {
        ByteAutomaton a = automaton(PERSON);
        String ok = "{\"name\":\"Ann\",\"age\":41,\"tags\":[],\"kind\":\"person\"}";
        assertTrue(done(a, ok));
        for (String doc : new String[]{
                "{\"age\":41,\"tags\":[],\"kind\":\"person\"}", // a required key missing
                "{\"age\":41,\"name\":\"Ann\",\"tags\":[],\"kind\":\"person\"}", // another order
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[],\"kind\":\"person\",\"x\":1}", // a key it does not list
                "{\"name\":\"Ann\",\"age\":4.5,\"tags\":[],\"kind\":\"person\"}", // not an integer
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[\"d\"],\"kind\":\"person\"}", // not in the enum
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[\"a\",\"a\",\"a\",\"a\"],\"kind\":\"person\"}", // past maxItems
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[],\"kind\":\"human\"}", // not the const
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[],\"address\":{\"street\":\"M\",\"zip\":5},\"kind\":\"person\"}",
                "{\"name\":\"\\ud83d\",\"age\":41,\"tags\":[],\"kind\":\"person\"}", // a lone surrogate
                "{\"name\":\"Ann\",\"age\":0123,\"tags\":[],\"kind\":\"person\"}",
                "{\"name\":\"Ann\",\"age\":12345678901234567,\"tags\":[],\"kind\":\"person\"}", // 17 digits
                "{\"name\":\"Ann\",\"age\":41,\"tags\":[],\"kind\":\"person\"} "})
            assertFalse(done(a, doc), doc);
    }

    @Test
    void whatCannotBeEnforcedIsRefusedWithItsPlace() {
        for (String[] c : new String[][]{
                {"{\"type\": \"object\", \"properties\": {\"zip\": {\"type\": \"string\", \"pattern\": \"^[0-9]+$\"}}}", "'pattern' at /properties/zip"},
                {"{\"type\": \"object\", \"additionalProperties\": true}", "additionalProperties at the root"},
                {"{\"type\": \"array\"}", "root of the schema must be an object"},
                {"{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"http://x/y\"}}}", "$ref 'http://x/y'"},
                {"{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/Missing\"}}}", "points at nothing"},
                {"{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"array\", \"maxItems\": 1000}}}", "above 64"},
                {"{\"type\": \"object\", \"properties\": {\"a\": {}}, \"required\": [\"b\"]}", "names 'b'"},
                {"{\"type\": \"object\", \"properties\": {\"a\": {\"oneOf\": [{}]}}}", "'oneOf' at /properties/a"}})
            assertRefused(c[0], c[1]);
    }

    /** Sound: whatever a random walk through the grammar completes, the validator accepts. */
    @Test
    void everyCompletedWalkIsValid() throws Exception {
        ByteAutomaton a = automaton(PERSON);
        Schema v = validator(PERSON);
        int completed = 0;
        for (long seed = 0; seed < 80; seed++) {
            String doc = walk(a, new Random(seed), 600);
            if (doc == null) continue; // the walk ran out of room
            completed++;
            assertEquals(List.of(), v.validate(JsonGrammarTest.STRICT.readTree(doc)), doc);
        }
        assertTrue(completed >= 40, "walks that completed: " + completed);
    }

    /** A random walk of allowed bytes (closing ones preferred) until done; null if it needs more than {@code max}. */
    static String walk(ByteAutomaton a, Random r, int max) {
        String closers = "\"]},0123456789tfn";
        long s = a.start();
        byte[] out = new byte[max];
        int n = 0;
        while (!a.isDone(s)) {
            if (n == max) return null;
            List<Integer> allowed = new ArrayList<>(), preferred = new ArrayList<>();
            for (int b = 0; b < 256; b++) {
                if (a.step(s, b) == ByteAutomaton.REJECT) continue;
                allowed.add(b);
                if (closers.indexOf(b) >= 0) preferred.add(b);
            }
            assertFalse(allowed.isEmpty(), "a live state always has a next byte");
            List<Integer> from = !preferred.isEmpty() && r.nextInt(4) > 0 ? preferred : allowed;
            int b = from.get(r.nextInt(from.size()));
            out[n++] = (byte) b;
            s = a.step(s, b);
        }
        return new String(out, 0, n, StandardCharsets.UTF_8);
    }

    /** The schema's key order and nesting: a model cannot write anything else, token by token. */
    @Test
    void recursionAndOptionalMembersNeedNoBacktracking() throws Exception {
        ByteAutomaton a = automaton("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"boolean\"},"
                + " \"c\": {\"type\": \"string\"}}}");
        for (String doc : new String[]{"{}", "{\"a\":1}", "{\"b\":true}", "{\"a\":1,\"c\":\"\"}", "{\"c\":\"x\"}", "{\"a\":1,\"b\":false,\"c\":\"\"}"})
            assertAccepted(a, doc);
        for (String doc : new String[]{"{,}", "{\"a\":1,}", "{\"c\":\"x\",\"a\":1}", "{\"b\":1}"})
            assertFalse(done(a, doc), doc);
        GrammarAutomaton g = (GrammarAutomaton) a;
        assertTrue(g.stateCount() < 200, "states are interned: " + g.stateCount());
    }

    /** $refs that lead only to each other end, as "no value", or as the alternatives that do read bytes. */
    @Test
    void referenceCyclesTerminate() throws Exception {
        assertRefused("{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/A\"}}, \"required\": [\"a\"],"
                + " \"$defs\": {\"A\": {\"$ref\": \"#/$defs/A\"}}}", "no value can match");
        ByteAutomaton a = automaton("{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/A\"}}, \"required\": [\"a\"],"
                + " \"$defs\": {\"A\": {\"anyOf\": [{\"$ref\": \"#/$defs/A\"}, {\"type\": \"null\"}]}}}");
        assertAccepted(a, "{\"a\":null}");
        assertFalse(done(a, "{\"a\":1}"));
        // an optional property whose schema matches nothing is pruned: no reply can start it and die
        ByteAutomaton b = automaton("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"$ref\": \"#/$defs/B\"}},"
                + " \"required\": [\"a\"], \"$defs\": {\"B\": {\"$ref\": \"#/$defs/B\"}}}");
        assertAccepted(b, "{\"a\":1}");
        assertEquals(ByteAutomaton.REJECT, b.run(b.start(), "{\"a\":1,".getBytes(StandardCharsets.UTF_8)));
    }

    static final String STRINGS = "{\"type\": \"object\", \"properties\": {"
            + "\"code\": {\"type\": \"string\", \"minLength\": 2, \"maxLength\": 4},"
            + " \"day\": {\"type\": \"string\", \"format\": \"date\"},"
            + " \"at\": {\"type\": \"string\", \"format\": \"date-time\"},"
            + " \"id\": {\"type\": \"string\", \"format\": \"uuid\"},"
            + " \"nick\": {\"anyOf\": [{\"type\": \"string\", \"maxLength\": 3}, {\"type\": \"null\"}]}},"
            + " \"required\": [\"code\", \"day\", \"at\", \"id\", \"nick\"]}";

    /** String lengths (in code points) and the date, time, date-time and uuid formats. */
    @Test
    void stringLengthsAndFormats() throws Exception {
        ByteAutomaton a = automaton(STRINGS);
        String rest = ",\"day\":\"2024-02-28\",\"at\":\"2024-01-02T03:04:05.123+01:00\",\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"nick\":null}";
        for (String code : new String[]{"ab", "abcd", "a\u20ac\ud83d\ude00b", "\\n\\t"}) assertAccepted(a, "{\"code\":\"" + code + "\"" + rest);
        for (String code : new String[]{"a", "abcde", "\u20ac\u20ac\u20ac\u20ac\u20ac"}) assertFalse(done(a, "{\"code\":\"" + code + "\"" + rest), code);
        String head = "{\"code\":\"ab\",\"day\":\"";
        for (String day : new String[]{"2024-02-29", "2024-13-01", "2024-04-31", "2024-00-10", "24-01-01"})
            assertFalse(done(a, head + day + rest.substring(rest.indexOf("\",\"at"))), day);
        assertAccepted(a, "{\"code\":\"ab\",\"day\":\"1999-12-31\",\"at\":\"2024-01-02T23:59:59Z\",\"id\":\"ABCDEF00-0000-0000-0000-000000000000\",\"nick\":\"abc\"}");
        assertFalse(done(a, "{\"code\":\"ab\",\"day\":\"1999-12-31\",\"at\":\"2024-01-02T24:00:00Z\",\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"nick\":null}"));

        // sound with the validator's format assertions on: every completed random walk is valid
        Schema v = validator(STRINGS);
        int completed = 0;
        for (long seed = 0; seed < 60; seed++) {
            String doc = walk(a, new Random(seed), 800);
            if (doc == null) continue;
            completed++;
            var errors = v.validate(JsonGrammarTest.STRICT.readTree(doc), ctx -> ctx.executionConfig(b -> b.formatAssertionsEnabled(true)));
            assertEquals(List.of(), errors, doc);
        }
        assertTrue(completed >= 20, "walks that completed: " + completed);

        for (String[] c : new String[][]{
                {"{\"type\": \"object\", \"properties\": {\"e\": {\"type\": \"string\", \"format\": \"email\"}}}", "format 'email'"},
                {"{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\", \"maxLength\": 3}}}", "type \"string\" alone"},
                {"{\"type\": \"object\", \"properties\": {\"n\": {\"enum\": [\"a\"], \"format\": \"date\"}}}", "type \"string\" alone"},
                {"{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"string\", \"maxLength\": 5000}}}", "above 1024"}})
            assertRefused(c[0], c[1]);
    }

    /** Integer bounds: exactly the integers in range, spelled without leading zeros; numbers with bounds are refused. */
    @Test
    void integerBounds() throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\", \"minimum\": -5, \"maximum\": 120},"
                + " \"b\": {\"type\": \"integer\", \"exclusiveMinimum\": 99, \"exclusiveMaximum\": 1000.5},"
                + " \"c\": {\"type\": \"integer\", \"minimum\": -2000, \"maximum\": -1000}}, \"required\": [\"a\", \"b\", \"c\"]}";
        ByteAutomaton a = automaton(schema);
        java.util.function.IntFunction<String> docA = x -> "{\"a\":" + x + ",\"b\":100,\"c\":-1500}";
        for (int x = -10; x <= 130; x++) assertEquals(x >= -5 && x <= 120, done(a, docA.apply(x)), "a = " + x);
        for (int x = 95; x <= 1005; x++) assertEquals(x > 99 && x <= 1000, done(a, "{\"a\":0,\"b\":" + x + ",\"c\":-1500}"), "b = " + x);
        for (int x = -2100; x <= -900; x += 7) assertEquals(x >= -2000 && x <= -1000, done(a, "{\"a\":0,\"b\":100,\"c\":" + x + "}"), "c = " + x);
        for (String bad : new String[]{"007", "-0", "1.0", "1e2"}) assertFalse(done(a, docA.apply(0).replace("\"a\":0", "\"a\":" + bad)), bad);
        Schema v = validator(schema);
        for (long seed = 0; seed < 40; seed++) {
            String doc = walk(a, new Random(seed), 400);
            if (doc != null) assertEquals(List.of(), v.validate(JsonGrammarTest.STRICT.readTree(doc)), doc);
        }
        assertRefused("{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"number\", \"minimum\": 0}}}", "type \"integer\" alone");
        assertRefused("{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"integer\", \"minimum\": 3, \"maximum\": 2}}}",
                "no integer lies within");
    }

    /** Integer ranges of 16 digits: exactly the integers in range, from a grammar of a few thousand elements. */
    @Test
    void wideIntegerRangesAreExactAndSmall() throws Exception {
        long lo = -9_007_199_254_740_991L, hi = 1_234_567_890_123_456L;
        String schema = "{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\", \"minimum\": " + lo
                + ", \"maximum\": " + hi + "}}, \"required\": [\"n\"]}";
        Grammar g = JsonSchemaGrammar.compile(JSON.readTree(schema));
        ByteAutomaton a = new GrammarAutomaton(g);
        Random rnd = new Random(11);
        for (int i = 0; i < 3000; i++) {
            long x = switch (i % 4) {
                case 0 -> lo + rnd.nextInt(1000) - 500;
                case 1 -> hi + rnd.nextInt(1000) - 500;
                case 2 -> rnd.nextLong() % 10_000_000_000_000_000L;
                default -> (long) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(17)));
            };
            assertEquals(x >= lo && x <= hi, done(a, "{\"n\":" + x + "}"), "n = " + x);
        }
    }

    /**
     * The hostile schemas of the hardening issue: each compiles in well under a second and is then
     * cheap to enforce, or is refused naming the limit and where (never a stack overflow, never
     * minutes of work).
     */
    @Test
    void hostileSchemasAreRefusedByNameOrCheap() throws Exception {
        // 10,000 optional properties: any may come first, so 10,000 parse paths after "{"
        JsonNode optional = JSON.readTree(properties(10_000, false));
        GrammarAutomaton many = new GrammarAutomaton(JsonSchemaGrammar.compile(optional));
        var e = assertThrows(GrammarLimitException.class, () -> many.probe(2_000, GrammarMeter.of(2_000_000)));
        assertTrue(e.getMessage().contains(GrammarAutomaton.MAX_PATHS + " parse paths") && e.getMessage().contains("after the output `{`"),
                e.getMessage());
        // 10,000 required properties: compiles (a chain of 10,000 rules) and walks without recursion
        ByteAutomaton required = new GrammarAutomaton(JsonSchemaGrammar.compile(JSON.readTree(properties(10_000, true))));
        StringBuilder doc = new StringBuilder("{");
        for (int i = 0; i < 10_000; i++) doc.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":").append(i);
        assertAccepted(required, doc.append('}').toString());
        // anyOf of 8 identical objects nested 6 deep: one branch is enough
        GrammarAutomaton nested = new GrammarAutomaton(JsonSchemaGrammar.compile(JSON.readTree(nestedAnyOf(6, true))));
        nested.probe(2_000, GrammarMeter.of(2_000_000));
        assertAccepted(nested, "{\"a\":".repeat(6) + "7" + "}".repeat(6));
        // 8 overlapping objects nested 6 deep: 8^k parse paths after k levels; the probe finds the limit
        GrammarAutomaton overlapping = new GrammarAutomaton(JsonSchemaGrammar.compile(JSON.readTree(nestedAnyOf(6, false))));
        var paths = assertThrows(GrammarLimitException.class, () -> overlapping.probe(2_000, GrammarMeter.of(2_000_000)));
        assertTrue(paths.getMessage().contains("parse paths") && paths.getMessage().contains("after the output `{\"a\""), paths.getMessage());
        // an enum of 20,000 strings is a trie (one parse path); one of 200,000 (2 MB) is over the size limit
        GrammarAutomaton enum20k = new GrammarAutomaton(JsonSchemaGrammar.compile(JSON.readTree(enumSchema(20_000))));
        enum20k.probe(2_000, GrammarMeter.of(2_000_000));
        assertAccepted(enum20k, "{\"e\":\"value-" + 19_999 + "\"}");
        assertFalse(done(enum20k, "{\"e\":\"value-20000\"}"));
        assertRefused(enumSchema(200_000), "/properties/e/enum compile to a grammar of more than");
        // nesting past the limit
        String deep = "{\"type\": \"object\", \"properties\": {\"a\": ".repeat(100) + "{\"type\": \"integer\"}" + "}}".repeat(100);
        assertRefused(deep, "nests deeper than " + JsonSchemaGrammar.MAX_NESTING + " levels");
    }

    private static String properties(int n, boolean required) {
        StringBuilder b = new StringBuilder("{\"type\": \"object\", \"properties\": {");
        for (int i = 0; i < n; i++) b.append(i == 0 ? "" : ", ").append("\"p").append(i).append("\": {\"type\": \"integer\"}");
        b.append("}");
        if (required) {
            b.append(", \"required\": [");
            for (int i = 0; i < n; i++) b.append(i == 0 ? "" : ", ").append("\"p").append(i).append('"');
            b.append("]");
        }
        return b.append("}").toString();
    }

    /**
     * anyOf of 8 objects, each holding the next level under "a", {@code depth} levels through $defs (a
     * few kilobytes): identical objects, or objects that differ only in an optional second property
     * (so all 8 stay open while the output goes down "a").
     */
    private static String nestedAnyOf(int depth, boolean identical) {
        StringBuilder defs = new StringBuilder();
        for (int d = 0; d < depth; d++) {
            String inner = d == depth - 1 ? "{\"type\": \"integer\"}" : "{\"$ref\": \"#/$defs/L" + (d + 1) + "\"}";
            defs.append(d == 0 ? "" : ", ").append("\"L").append(d).append("\": {\"anyOf\": [");
            for (int i = 0; i < 8; i++) {
                defs.append(i == 0 ? "" : ", ").append("{\"type\": \"object\", \"properties\": {\"a\": ").append(inner);
                if (!identical) defs.append(", \"b").append(i).append("\": {\"type\": \"string\"}");
                defs.append("}, \"required\": [\"a\"]}");
            }
            defs.append("]}");
        }
        return "{\"$ref\": \"#/$defs/L0\", \"$defs\": {" + defs + "}}";
    }

    private static String enumSchema(int n) {
        StringBuilder b = new StringBuilder("{\"type\": \"object\", \"properties\": {\"e\": {\"enum\": [");
        for (int i = 0; i < n; i++) b.append(i == 0 ? "" : ", ").append("\"value-").append(i).append('"');
        return b.append("]}}, \"required\": [\"e\"]}").toString();
    }
}
