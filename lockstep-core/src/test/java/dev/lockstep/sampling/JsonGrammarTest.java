package dev.lockstep.sampling;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonGrammarTest {
    /** Jackson, strict, as the oracle of "is one JSON object". */
    static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    static boolean jacksonObject(byte[] text) {
        try {
            JsonNode n = STRICT.readTree(text);
            return n != null && n.isObject();
        } catch (Exception e) {
            return false;
        }
    }

    static long run(String s) {
        return JsonGrammar.run(JsonGrammar.START_STATE, s.getBytes(StandardCharsets.UTF_8));
    }

    /** Every proper prefix is alive and not done; the whole text is done. */
    static void assertObject(byte[] b) {
        long s = JsonGrammar.START_STATE;
        for (int i = 0; i < b.length; i++) {
            assertFalse(JsonGrammar.isDone(s), () -> "done too early in " + new String(b, StandardCharsets.UTF_8));
            s = JsonGrammar.step(s, b[i] & 0xFF);
            int at = i;
            assertNotEquals(JsonGrammar.REJECT, s, () -> "rejected at byte " + at + " of " + new String(b, StandardCharsets.UTF_8));
        }
        assertTrue(JsonGrammar.isDone(s), () -> "not done: " + new String(b, StandardCharsets.UTF_8));
    }

    @Test
    void acceptsJsonObjectsByteByByte() {
        for (String doc : new String[]{"{}", " { }", "{\"a\":1}", "{\"a\": [1, -0.5e+3, 0, 10E-2, true, false, null, \"x\\u00e9\\n\\\"\", {\"b\": []}]}", "{\"s\": \"\\uD83D\\uDE00 \\ud7ff \\ue000\"}",
                "{\"é€😀\": \"naïve\"}", "{\"\": {\"\": {\"\": [[[]]]}}}", "{\"n\": -0}", "{\"a\":1,\"b\":{\"c\":[{}]}}"}) {
            assertObject(doc.getBytes(StandardCharsets.UTF_8));
            assertTrue(jacksonObject(doc.getBytes(StandardCharsets.UTF_8)), doc);
        }
    }

    @Test
    void rejectsWhatIsNotOneStrictJsonObject() {
        for (String doc : new String[]{"[]", "1", "\"a\"", "{\"a\":01}", "{\"a\":1,}", "{,}", "{\"a\" 1}", "{'a':1}", "{\"a\":tru}",
                "{\"a\":\"\u0001\"}", "{\"a\":NaN}", "{\"a\":1}}", "{\"a\":1} ", "{\"a\":1}x", "{\"a\":.5}", "{\"a\":1.}", "{\"a\":1e}",
                "{\"a\":+1}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}",
                "{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"\\ud83dx\"}", "{a:1}", "{\"a\":[1,]}", "{\"a\":[,1]}", "{\"a\":]", "{\"a\":[}"})
            assertFalse(JsonGrammar.isDone(run(doc)), doc);
        // invalid UTF-8 inside strings: overlong, surrogate, past U+10FFFF, stray continuation
        for (byte[] bad : new byte[][]{{(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0x80}, {(byte) 0xE0, (byte) 0x80, (byte) 0x80}}) {
            long s = run("{\"");
            assertEquals(JsonGrammar.REJECT, JsonGrammar.run(s, bad));
        }
        // nesting past the limit; whitespace past the limit
        assertNotEquals(JsonGrammar.REJECT, run("{\"a\":" + "[".repeat(JsonGrammar.MAX_DEPTH - 1)));
        assertEquals(JsonGrammar.REJECT, run("{\"a\":" + "[".repeat(JsonGrammar.MAX_DEPTH)));
        assertTrue(JsonGrammar.isDone(run("{ \"a\" : 1, \"b\": [ 2 ] }")), "one space between any two tokens");
        for (String ws : new String[]{"  ", "\n", "\n  ", "\t", "\r\n", " \n"})
            assertEquals(JsonGrammar.REJECT, run("{" + ws + "}"), () -> "whitespace " + ws.replace("\n", "\\n"));
    }

    /** Whatever Jackson writes compact or with single spaces is accepted, prefix by prefix. */
    @Property(tries = 300)
    void acceptsEveryObjectJacksonWrites(@ForAll long seed) throws Exception {
        Random r = new Random(seed);
        ObjectNode doc = randomObject(r, 0);
        byte[] text = r.nextBoolean() ? STRICT.writeValueAsBytes(doc) : STRICT.writer(new com.fasterxml.jackson.core.util.DefaultPrettyPrinter()
                .withObjectIndenter(com.fasterxml.jackson.core.util.DefaultPrettyPrinter.FixedSpaceIndenter.instance)).writeValueAsBytes(doc);
        assertObject(text);
    }

    /** Sound: a text the grammar calls done is one JSON object to Jackson, also after random edits. */
    @Property(tries = 500)
    void whatItCallsDoneJacksonParses(@ForAll long seed) throws Exception {
        Random r = new Random(seed);
        byte[] text = STRICT.writeValueAsBytes(randomObject(r, 0));
        String alphabet = "{}[]:,\"\\ 0123456789-+.eEtrufalsn\u00e9";
        for (int edit = 0; edit < 20; edit++) {
            byte[] t = text.clone();
            int i = r.nextInt(t.length);
            byte[] c = String.valueOf(alphabet.charAt(r.nextInt(alphabet.length()))).getBytes(StandardCharsets.UTF_8);
            t[i] = c[0];
            if (JsonGrammar.isDone(JsonGrammar.run(JsonGrammar.START_STATE, t)))
                assertTrue(jacksonObject(t), () -> new String(t, StandardCharsets.UTF_8));
        }
    }

    static ObjectNode randomObject(Random r, int depth) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        int n = r.nextInt(depth == 0 ? 4 : 3) + (depth == 0 ? 1 : 0);
        for (int i = 0; i < n; i++) o.set(randomString(r), randomValue(r, depth + 1));
        return o;
    }

    static JsonNode randomValue(Random r, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        switch (r.nextInt(depth > 4 ? 5 : 7)) {
            case 0: return f.textNode(randomString(r));
            case 1: return f.numberNode(r.nextInt() >> r.nextInt(32));
            case 2: return f.numberNode(r.nextGaussian() * Math.pow(10, r.nextInt(40) - 20));
            case 3: return f.booleanNode(r.nextBoolean());
            case 4: return f.nullNode();
            case 5: return randomObject(r, depth);
            default: {
                ArrayNode a = f.arrayNode();
                for (int i = r.nextInt(4); i > 0; i--) a.add(randomValue(r, depth + 1));
                return a;
            }
        }
    }

    static String randomString(Random r) {
        StringBuilder sb = new StringBuilder();
        for (int i = r.nextInt(6); i > 0; i--) {
            switch (r.nextInt(5)) {
                case 0 -> sb.append((char) ('a' + r.nextInt(26)));
                case 1 -> sb.append("\"\\/\n\t\u0001".charAt(r.nextInt(6)));
                case 2 -> sb.appendCodePoint(0xA0 + r.nextInt(0x700));
                case 3 -> sb.appendCodePoint(0x1F600 + r.nextInt(50));
                default -> sb.appendCodePoint(0x3000 + r.nextInt(0x5000));
            }
        }
        return sb.toString();
    }
}
