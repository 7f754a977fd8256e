package dev.lockstep.sampling;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.LockstepException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A JSON schema compiled to a byte {@link Grammar} ("structured outputs"): what the model writes is
 * one JSON value the schema accepts. The subset is OpenAI strict mode's and what pydantic writes for
 * common models, and nothing that would not be enforced is accepted silently: every other keyword is
 * refused with its place.
 *
 * <ul>
 *   <li>{@code type} (one or a list): object, array, string, number, integer, boolean, null;</li>
 *   <li>objects: {@code properties} are written in the schema's order, the {@code required} ones
 *       always, the others may be left out; no other keys ({@code additionalProperties} may only be
 *       false; an object schema without properties takes any object);</li>
 *   <li>arrays: {@code items}, {@code minItems}, {@code maxItems} (at most {@link #MAX_ITEMS});</li>
 *   <li>strings: {@code minLength}, {@code maxLength} (code points, at most {@link #MAX_LENGTH}), or a
 *       {@code format}: date, time, date-time, uuid (a subset validators agree with: see {@link #date});</li>
 *   <li>integers: {@code minimum}, {@code maximum}, {@code exclusiveMinimum}, {@code exclusiveMaximum}
 *       (exactly the integers in range);</li>
 *   <li>{@code enum}, {@code const}, {@code anyOf}, {@code $ref} to {@code #}, {@code #/$defs/...} or
 *       {@code #/definitions/...} (recursion allowed);</li>
 *   <li>annotations (title, description, default, examples, $schema, $id, $comment) are ignored.</li>
 * </ul>
 *
 * <p>Whitespace is JSON mode's ({@link JsonGrammar}): at most one space between tokens
 * bytes. Numbers have at most 16 integer and 16 fraction digits and a 3-digit exponent (as llama.cpp's
 * JSON grammar caps them), so a model cannot write digits forever. The root must be an object schema.
 */
public final class JsonSchemaGrammar {
    public static final int MAX_ITEMS = 64;
    public static final int MAX_LENGTH = 1024;
    /** Schemas nested deeper than this (through properties, items, anyOf) are refused. */
    public static final int MAX_NESTING = 64;
    /** The largest grammar a schema may compile to ({@link Grammar.Builder#size}: elements and alternatives). */
    public static final long MAX_GRAMMAR_SIZE = 1_000_000;

    private static final Set<String> KNOWN = Set.of("type", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "minLength", "maxLength", "format", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum", "enum", "const", "anyOf", "$ref", "$defs", "definitions",
            "title", "description", "default", "examples", "$schema", "$id", "$comment");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A schema this compiler cannot enforce, with where in it. */
    public static final class UnsupportedSchemaException extends LockstepException {
        public UnsupportedSchemaException(String message) {
            super(message);
        }
    }

    private final Grammar.Builder g = new Grammar.Builder();
    private final JsonNode root;
    private final Map<String, Integer> refs = new HashMap<>();
    private final Map<String, Integer> shared = new HashMap<>();
    private int nesting;

    private JsonSchemaGrammar(JsonNode root) {
        this.root = root;
    }

    /** The grammar of the values {@code schema} accepts; its root must be an object schema. */
    public static Grammar compile(JsonNode schema) {
        if (schema == null || !schema.isObject()) throw new UnsupportedSchemaException("the schema must be a JSON object");
        JsonSchemaGrammar c = new JsonSchemaGrammar(schema);
        if (!c.isObjectSchema(schema, 0))
            throw new UnsupportedSchemaException("the root of the schema must be an object schema (type \"object\", or anyOf object schemas)");
        int r = c.value(schema, "");
        Grammar g = c.g.build(r);
        if (!g.producesSomething()) throw new UnsupportedSchemaException("no value can match the schema (its $refs only lead to each other)");
        return g;
    }

    /** Whether every value {@code s} accepts is an object (so a reply ends the moment it closes). */
    private boolean isObjectSchema(JsonNode s, int depth) {
        if (!s.isObject() || depth > 32) return false;
        if (s.has("$ref")) return isObjectSchema(resolve(s.get("$ref"), ""), depth + 1);
        if (s.has("anyOf") && s.get("anyOf").isArray() && !s.get("anyOf").isEmpty()) {
            for (JsonNode a : s.get("anyOf")) if (!isObjectSchema(a, depth + 1)) return false;
            return true;
        }
        return "object".equals(s.path("type").asText(null)) || !s.has("type") && s.has("properties");
    }

    /** The rule of the values {@code s} (at JSON pointer {@code at}) accepts, within the compiler's limits. */
    private int value(JsonNode s, String at) {
        if (++nesting > MAX_NESTING)
            throw new UnsupportedSchemaException("the schema nests deeper than " + MAX_NESTING + " levels at " + where(at) + " (the limit)");
        try {
            int r = valueRule(s, at);
            if (g.size() > MAX_GRAMMAR_SIZE)
                throw new UnsupportedSchemaException("the schema compiles to a grammar of more than " + MAX_GRAMMAR_SIZE
                        + " elements (the limit), reached at " + where(at));
            return r;
        } finally {
            nesting--;
        }
    }

    private int valueRule(JsonNode s, String at) {
        if (s.isBoolean()) {
            if (s.booleanValue()) return any();
            throw new UnsupportedSchemaException("the schema at " + where(at) + " is false: no value can match it");
        }
        if (!s.isObject()) throw new UnsupportedSchemaException("the schema at " + where(at) + " must be an object, got " + s.getNodeType());
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KNOWN.contains(k))
                throw new UnsupportedSchemaException("the keyword '" + k + "' at " + where(at) + " is not supported (supported: "
                        + "type, properties, required, additionalProperties: false, items, minItems, maxItems, minLength, maxLength, "
                        + "format (date, time, date-time, uuid), integer minimum/maximum, enum, const, anyOf, $ref)");
        }
        boolean stringKeywords = s.has("minLength") || s.has("maxLength") || s.has("format");
        if (stringKeywords && !("string".equals(s.path("type").asText(null)) && !s.has("enum") && !s.has("const")
                && !s.has("anyOf") && !s.has("$ref")))
            throw new UnsupportedSchemaException("minLength, maxLength and format at " + where(at)
                    + " are supported on a schema of type \"string\" alone (not with enum, const, anyOf, $ref or other types)");
        boolean bounds = s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum");
        if (bounds && !("integer".equals(s.path("type").asText(null)) && !s.has("enum") && !s.has("const")
                && !s.has("anyOf") && !s.has("$ref")))
            throw new UnsupportedSchemaException("minimum/maximum at " + where(at)
                    + " are supported on a schema of type \"integer\" alone (not on numbers, nor with enum, const, anyOf, $ref)");
        if (s.has("$ref")) return ref(s.get("$ref"), at);
        if (s.has("const")) return literalRule(List.of(s.get("const")), at + "/const");
        if (s.has("enum")) {
            JsonNode e = s.get("enum");
            if (!e.isArray() || e.isEmpty()) throw new UnsupportedSchemaException("enum at " + where(at) + " must be a non-empty list");
            List<JsonNode> values = new ArrayList<>();
            e.forEach(values::add);
            return literalRule(values, at + "/enum");
        }
        if (s.has("anyOf")) {
            JsonNode a = s.get("anyOf");
            if (!a.isArray() || a.isEmpty()) throw new UnsupportedSchemaException("anyOf at " + where(at) + " must be a non-empty list");
            int r = g.rule("anyOf " + at);
            // identical branches match the same values: one is enough (each kept would be a parse path
            // the automaton carries along, and nested copies multiply)
            Set<JsonNode> seen = new HashSet<>();
            for (int i = 0; i < a.size(); i++) if (seen.add(a.get(i))) g.alt(r, value(a.get(i), at + "/anyOf/" + i));
            return r;
        }
        JsonNode type = s.get("type");
        if (type == null) {
            if (s.has("properties")) return object(s, at);
            if (s.has("items")) return array(s, at);
            return any();
        }
        if (type.isTextual()) return typed(type.textValue(), s, at);
        if (!type.isArray() || type.isEmpty()) throw new UnsupportedSchemaException("type at " + where(at) + " must be a string or a list of them");
        int r = g.rule("types " + at);
        for (JsonNode t : type) {
            if (!t.isTextual()) throw new UnsupportedSchemaException("type at " + where(at) + " must be a string or a list of them");
            g.alt(r, typed(t.textValue(), s, at));
        }
        return r;
    }

    private int typed(String type, JsonNode s, String at) {
        return switch (type) {
            case "object" -> object(s, at);
            case "array" -> array(s, at);
            case "string" -> stringSchema(s, at);
            case "number" -> number();
            case "integer" -> integerSchema(s, at);
            case "boolean" -> literalRule(List.of(JSON.getNodeFactory().booleanNode(true), JSON.getNodeFactory().booleanNode(false)), at);
            case "null" -> literalRule(List.of(JSON.getNodeFactory().nullNode()), at);
            default -> throw new UnsupportedSchemaException("type '" + type + "' at " + where(at) + " is not a JSON schema type");
        };
    }

    // ------------------------------------------------------------------ objects and arrays

    private int object(JsonNode s, String at) {
        JsonNode props = s.get("properties");
        JsonNode extra = s.get("additionalProperties");
        if (extra != null && !(extra.isBoolean() && !extra.booleanValue()))
            throw new UnsupportedSchemaException("additionalProperties at " + where(at)
                    + " must be false or absent (an object has exactly the listed properties)");
        if (props == null || props.isEmpty()) {
            if (s.has("required") && !s.get("required").isEmpty())
                throw new UnsupportedSchemaException("required at " + where(at) + " names properties the schema does not list");
            return props == null && extra == null ? anyObject() : literalRule(List.of(JSON.createObjectNode()), at);
        }
        if (!props.isObject()) throw new UnsupportedSchemaException("properties at " + where(at) + " must be an object");
        Set<String> required = new HashSet<>();
        JsonNode req = s.get("required");
        if (req != null) {
            if (!req.isArray()) throw new UnsupportedSchemaException("required at " + where(at) + " must be a list of names");
            for (JsonNode n : req) {
                if (!n.isTextual() || !props.has(n.textValue()))
                    throw new UnsupportedSchemaException("required at " + where(at) + " names '" + n.asText() + "', which is not in properties");
                required.add(n.textValue());
            }
        }
        List<String> names = new ArrayList<>();
        props.fieldNames().forEachRemaining(names::add);
        int n = names.size();
        // first[i]: properties i.. with none written yet; next[i]: the same after at least one (a comma first)
        int[] first = new int[n + 1], next = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            first[i] = g.rule("members " + at + " from " + i);
            next[i] = g.rule("more members " + at + " from " + i);
        }
        g.alt(first[n]);
        g.alt(next[n]);
        int ws = ws();
        for (int i = n - 1; i >= 0; i--) {
            String name = names.get(i);
            int v = value(props.get(name), at + "/properties/" + escape(name));
            int[] member = Grammar.Builder.seq(g.literal(quoted(name)), ws, g.literal(":"), ws, v, ws);
            g.alt(first[i], member, next[i + 1]);
            g.alt(next[i], g.literal(","), ws, member, next[i + 1]);
            if (!required.contains(name)) {
                g.alt(first[i], first[i + 1]);
                g.alt(next[i], next[i + 1]);
            }
        }
        int r = g.rule("object " + at);
        g.alt(r, g.literal("{"), ws, first[0], g.literal("}"));
        return r;
    }

    private int array(JsonNode s, String at) {
        int min = count(s, "minItems", 0, at), max = s.has("maxItems") ? count(s, "maxItems", 0, at) : -1;
        if (max >= 0 && max < min) throw new UnsupportedSchemaException("maxItems < minItems at " + where(at));
        if (Math.max(min, max) > MAX_ITEMS)
            throw new UnsupportedSchemaException("minItems/maxItems at " + where(at) + " above " + MAX_ITEMS + " are not supported");
        JsonNode items = s.get("items");
        if (items != null && items.isArray()) throw new UnsupportedSchemaException("items at " + where(at) + " must be one schema (tuples are not supported)");
        int item = items == null ? any() : value(items, at + "/items");
        int ws = ws();
        // after[k]: k items written; unbounded: from max(min, 1) on the same rule loops
        int loopFrom = Math.max(min, 1), last = max >= 0 ? max : loopFrom;
        int[] after = new int[last + 1];
        for (int k = 0; k <= last; k++) after[k] = g.rule("items " + at + " after " + k);
        for (int k = last; k >= 0; k--) {
            if (k >= min) g.alt(after[k]);
            boolean more = max < 0 || k < max;
            if (more) {
                int to = max < 0 && k >= loopFrom ? after[k] : after[k + 1];
                if (k == 0) g.alt(after[k], item, ws, to);
                else g.alt(after[k], g.literal(","), ws, item, ws, to);
            }
        }
        int r = g.rule("array " + at);
        g.alt(r, g.literal("["), ws, after[0], g.literal("]"));
        return r;
    }

    private static int count(JsonNode s, String key, int dflt, String at) {
        JsonNode n = s.get(key);
        if (n == null) return dflt;
        if (!n.canConvertToInt() || !n.isIntegralNumber() || n.intValue() < 0)
            throw new UnsupportedSchemaException(key + " at " + where(at) + " must be a non-negative integer");
        return n.intValue();
    }

    // ------------------------------------------------------------------ references

    private int ref(JsonNode ref, String at) {
        if (!ref.isTextual()) throw new UnsupportedSchemaException("$ref at " + where(at) + " must be a string");
        String p = ref.textValue();
        Integer r = refs.get(p);
        if (r != null) return r;
        JsonNode target = resolve(ref, at);
        int rule = g.rule("ref " + p);
        refs.put(p, rule);
        g.alt(rule, value(target, p.substring(1)));
        return rule;
    }

    private JsonNode resolve(JsonNode ref, String at) {
        String p = ref.asText();
        if (!(p.equals("#") || p.startsWith("#/$defs/") || p.startsWith("#/definitions/")))
            throw new UnsupportedSchemaException("$ref '" + p + "' at " + where(at) + " is not supported (only #, #/$defs/... and #/definitions/...)");
        JsonNode t = root.at(p.substring(1));
        if (t.isMissingNode()) throw new UnsupportedSchemaException("$ref '" + p + "' at " + where(at) + " points at nothing");
        return t;
    }

    // ------------------------------------------------------------------ literals and scalars

    /**
     * One of the given JSON values, each exactly as Jackson writes it compactly, as a trie of their
     * bytes: values that share a prefix share its rules, so however many values an enum has, one parse
     * path follows the output (a rule per value would keep every value matching so far open at once).
     */
    private int literalRule(List<JsonNode> values, String at) {
        TrieNode root = new TrieNode();
        long bytes = 0;
        for (JsonNode v : values) {
            String text;
            try {
                text = JSON.writeValueAsString(v);
            } catch (JsonProcessingException e) {
                throw new UnsupportedSchemaException("a value at " + where(at) + " cannot be written: " + e.getOriginalMessage());
            }
            TrieNode n = root;
            for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) n = n.children.computeIfAbsent(b & 0xFF, k -> new TrieNode());
            n.end = true;
            bytes += text.length();
            if (g.size() + bytes > MAX_GRAMMAR_SIZE) // the trie's rules come later: check the text's size now
                throw new UnsupportedSchemaException("the values at " + where(at) + " compile to a grammar of more than "
                        + MAX_GRAMMAR_SIZE + " elements (the limit)");
        }
        return trieRule(root, "literal " + at);
    }

    /** The bytes of a {@link #literalRule}'s trie: children by byte, in byte order; whether a value ends here. */
    private static final class TrieNode {
        final java.util.TreeMap<Integer, TrieNode> children = new java.util.TreeMap<>();
        boolean end;
    }

    /** A rule for the strings of the trie below {@code node}: a chain of bytes is one alternative (no rule per byte). */
    private int trieRule(TrieNode node, String name) {
        int r = g.rule(name);
        if (node.end) g.alt(r);
        for (var child : node.children.entrySet()) {
            List<Integer> chain = new ArrayList<>();
            chain.add(g.bytes(child.getKey(), child.getKey()));
            TrieNode n = child.getValue();
            while (!n.end && n.children.size() == 1) {
                var only = n.children.firstEntry();
                chain.add(g.bytes(only.getKey(), only.getKey()));
                n = only.getValue();
            }
            int[] seq = chain.stream().mapToInt(Integer::intValue).toArray();
            if (n.children.isEmpty()) g.alt(r, seq); // a leaf: the chain ends a value
            else g.alt(r, seq, trieRule(n, name));
        }
        return r;
    }

    /** A shared rule, built on first use (not computeIfAbsent: building one may build others). */
    private int once(String key, java.util.function.IntSupplier build) {
        Integer r = shared.get(key);
        if (r == null) {
            r = build.getAsInt();
            shared.put(key, r);
        }
        return r;
    }

    /** Compact whitespace, as JSON mode's ({@link JsonGrammar}): nothing or one space. */
    private int ws() {
        return once("ws", () -> {
            int r = g.rule("ws");
            g.alt(r);
            g.alt(r, g.literal(" "));
            return r;
        });
    }

    /** Up to {@code n} more digits. */
    private int digits(int n) {
        return once("digits " + n, () -> {
            int r = g.rule("up to " + n + " digits");
            g.alt(r);
            if (n > 0) g.alt(r, g.bytes('0', '9'), digits(n - 1));
            return r;
        });
    }

    private int integer() {
        return once("integer", () -> {
            int magnitude = g.rule("integer part");
            g.alt(magnitude, g.literal("0"));
            g.alt(magnitude, g.bytes('1', '9'), digits(15));
            int r = g.rule("integer");
            g.alt(r, magnitude);
            g.alt(r, g.literal("-"), magnitude);
            return r;
        });
    }

    private int number() {
        return once("number", () -> {
            int frac = g.rule("fraction"), exp = g.rule("exponent"), sign = g.rule("exponent sign");
            g.alt(frac);
            g.alt(frac, g.literal("."), g.bytes('0', '9'), digits(15));
            g.alt(sign);
            g.alt(sign, g.anyOf('+', '-'));
            g.alt(exp);
            g.alt(exp, g.anyOf('e', 'E'), sign, g.bytes('0', '9'), digits(2));
            int r = g.rule("number");
            g.alt(r, integer(), frac, exp);
            return r;
        });
    }

    /** A JSON string: valid UTF-8, no raw control characters, escapes with paired surrogates. */
    private int string() {
        return once("string", () -> quotedRule("string", new int[]{characters()}));
    }

    /** Any number of characters. */
    private int characters() {
        return once("characters", () -> {
            int chars = g.rule("characters");
            g.alt(chars);
            g.alt(chars, character(), chars);
            return chars;
        });
    }

    /** One character of a JSON string (one code point: a byte sequence of valid UTF-8, or an escape). */
    private int character() {
        return once("character", () -> {
            int cont = g.bytes(0x80, 0xBF), hex = hexDigit();
            int ch = g.rule("character");
            long[] plain = new long[4];
            for (int b = 0x20; b < 0x80; b++) if (b != '"' && b != '\\') plain[b >>> 6] |= 1L << b;
            g.alt(ch, g.set(plain));
            g.alt(ch, g.bytes(0xC2, 0xDF), cont);
            g.alt(ch, g.anyOf(0xE0), g.bytes(0xA0, 0xBF), cont);
            g.alt(ch, g.anyOf(0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xEE, 0xEF), cont, cont);
            g.alt(ch, g.anyOf(0xED), g.bytes(0x80, 0x9F), cont);
            g.alt(ch, g.anyOf(0xF0), g.bytes(0x90, 0xBF), cont, cont);
            g.alt(ch, g.bytes(0xF1, 0xF3), cont, cont, cont);
            g.alt(ch, g.anyOf(0xF4), g.bytes(0x80, 0x8F), cont, cont);
            g.alt(ch, g.literal("\\"), g.anyOf('"', '\\', '/', 'b', 'f', 'n', 'r', 't'));
            // \\u escapes: no lone surrogates (strict parsers refuse them)
            int d = g.anyOf('D', 'd');
            long[] notD = new long[4];
            for (int b : "0123456789ABCEFabcef".getBytes()) notD[b >>> 6] |= 1L << b;
            g.alt(ch, g.literal("\\u"), g.set(notD), hex, hex, hex);
            g.alt(ch, g.literal("\\u"), d, g.bytes('0', '7'), hex, hex);
            g.alt(ch, g.literal("\\u"), d, g.anyOf('8', '9', 'A', 'B', 'a', 'b'), hex, hex,
                    g.literal("\\u"), d, g.anyOf('C', 'D', 'E', 'F', 'c', 'd', 'e', 'f'), hex, hex);
            return ch;
        });
    }

    /**
     * A string schema with {@code minLength} / {@code maxLength} (characters, as JSON schema counts
     * them: code points) or a {@code format} (date, time, date-time, uuid).
     */
    private int stringSchema(JsonNode s, String at) {
        boolean lengths = s.has("minLength") || s.has("maxLength");
        JsonNode format = s.get("format");
        if (format != null && lengths)
            throw new UnsupportedSchemaException("format together with minLength/maxLength at " + where(at) + " is not supported");
        if (format != null) {
            String f = format.asText();
            return switch (f) {
                case "date" -> quotedRule("date " + at, date());
                case "time" -> quotedRule("time " + at, time());
                case "date-time" -> quotedRule("date-time " + at, Grammar.Builder.seq(date(), g.literal("T"), time()));
                case "uuid" -> quotedRule("uuid " + at, uuid());
                default -> throw new UnsupportedSchemaException("format '" + f + "' at " + where(at)
                        + " is not supported (date, time, date-time and uuid are)");
            };
        }
        if (!lengths) return string();
        int min = count(s, "minLength", 0, at), max = s.has("maxLength") ? count(s, "maxLength", 0, at) : -1;
        if (max >= 0 && max < min) throw new UnsupportedSchemaException("maxLength < minLength at " + where(at));
        if (Math.max(min, max) > MAX_LENGTH)
            throw new UnsupportedSchemaException("minLength/maxLength at " + where(at) + " above " + MAX_LENGTH + " are not supported");
        int ch = character();
        // up to (max - min) optional characters after min mandatory ones; no max: any number more
        int tail;
        if (max < 0) {
            tail = characters();
        } else {
            tail = g.rule("no more characters " + at);
            g.alt(tail);
            for (int j = 1; j <= max - min; j++) {
                int r = g.rule("up to " + j + " characters " + at);
                g.alt(r);
                g.alt(r, ch, tail);
                tail = r;
            }
        }
        for (int k = 1; k <= min; k++) {
            int r = g.rule(k + " characters then the rest " + at);
            g.alt(r, ch, tail);
            tail = r;
        }
        return quotedRule("string " + at, new int[]{tail});
    }

    /** The largest magnitude a bounded integer may have (16 digits, as every integer here). */
    private static final long MAX_BOUND = 9_999_999_999_999_999L;

    /** An integer schema, with its bounds ({@code minimum}, {@code maximum}, and the exclusive ones) as a grammar of digits. */
    private int integerSchema(JsonNode s, String at) {
        if (!(s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum"))) return integer();
        long lo = -MAX_BOUND, hi = MAX_BOUND;
        if (s.has("minimum")) lo = Math.max(lo, (long) Math.ceil(bound(s, "minimum", at)));
        if (s.has("exclusiveMinimum")) lo = Math.max(lo, (long) Math.floor(bound(s, "exclusiveMinimum", at)) + 1);
        if (s.has("maximum")) hi = Math.min(hi, (long) Math.floor(bound(s, "maximum", at)));
        if (s.has("exclusiveMaximum")) hi = Math.min(hi, (long) Math.ceil(bound(s, "exclusiveMaximum", at)) - 1);
        if (lo > hi) throw new UnsupportedSchemaException("no integer lies within the bounds at " + where(at));
        int r = g.rule("integer in [" + lo + ", " + hi + "] " + at);
        if (hi >= 0) for (int[] alt : naturals(Math.max(lo, 0), hi)) g.alt(r, alt);
        if (lo < 0) for (int[] alt : naturals(Math.max(1, -hi), -lo)) g.alt(r, g.literal("-"), alt);
        return r;
    }

    private static double bound(JsonNode s, String key, String at) {
        JsonNode n = s.get(key);
        if (!n.isNumber()) throw new UnsupportedSchemaException(key + " at " + where(at) + " must be a number");
        double v = n.doubleValue();
        if (Math.abs(v) > MAX_BOUND) throw new UnsupportedSchemaException(key + " at " + where(at) + " is beyond 16 digits");
        return v;
    }

    /** The decimal spellings (no leading zeros) of the integers in [a, b], both >= 0: one alternative per digit count and split. */
    private List<int[]> naturals(long a, long b) {
        List<int[]> out = new ArrayList<>();
        for (int len = Long.toString(a).length(); len <= Long.toString(b).length(); len++) {
            long from = Math.max(a, len == 1 ? 0 : pow10(len - 1)), to = Math.min(b, pow10(len) - 1);
            if (from <= to) sameLength(Long.toString(from), Long.toString(to), new int[0], out);
        }
        return out;
    }

    private static long pow10(int n) {
        long p = 1;
        for (int i = 0; i < n; i++) p *= 10;
        return p;
    }

    /**
     * The digit strings between {@code lo} and {@code hi} (equal lengths), after {@code prefix}, as
     * alternatives. A range whose bounds are all zeros and all nines past the first digit is one
     * alternative of digit sets, so the split recurses down one side only: O(digits^2) alternatives
     * (splitting both sides every time gave 2^digits: a million elements and 30 s for +-10^16).
     */
    private void sameLength(String lo, String hi, int[] prefix, List<int[]> out) {
        if (lo.isEmpty()) {
            out.add(prefix);
            return;
        }
        char l = lo.charAt(0), h = hi.charAt(0);
        String loRest = lo.substring(1), hiRest = hi.substring(1);
        if (l == h) {
            sameLength(loRest, hiRest, Grammar.Builder.seq(prefix, g.bytes(l, l)), out);
            return;
        }
        boolean loFull = loRest.chars().allMatch(c -> c == '0'), hiFull = hiRest.chars().allMatch(c -> c == '9');
        if (!loFull) sameLength(loRest, "9".repeat(loRest.length()), Grammar.Builder.seq(prefix, g.bytes(l, l)), out);
        int from = loFull ? l : l + 1, to = hiFull ? h : h - 1;
        if (from <= to) {
            int[] any = new int[loRest.length()];
            java.util.Arrays.fill(any, g.bytes('0', '9'));
            out.add(Grammar.Builder.seq(prefix, g.bytes(from, to), any));
        }
        if (!hiFull) sameLength("0".repeat(hiRest.length()), hiRest, Grammar.Builder.seq(prefix, g.bytes(h, h)), out);
    }

    private int quotedRule(String name, int[] body) {
        int r = g.rule(name);
        g.alt(r, g.literal("\""), body, g.literal("\""));
        return r;
    }

    /**
     * RFC 3339 full-date. Days stop at each month's length, February at 28: a valid date always, though
     * not every one (no 29 February), so that no validator refuses what the grammar lets through.
     */
    private int[] date() {
        int digit = g.bytes('0', '9');
        int monthDay = once("month and day", () -> {
            int r = g.rule("month and day");
            int d1 = g.bytes('1', '9'), d09 = g.bytes('0', '9');
            int upTo28 = g.rule("day 01-28");
            g.alt(upTo28, g.literal("0"), d1);
            g.alt(upTo28, g.literal("1"), d09);
            g.alt(upTo28, g.literal("2"), g.bytes('0', '8'));
            int upTo30 = g.rule("day 01-30");
            g.alt(upTo30, upTo28);
            g.alt(upTo30, g.literal("29"));
            g.alt(upTo30, g.literal("30"));
            int upTo31 = g.rule("day 01-31");
            g.alt(upTo31, upTo30);
            g.alt(upTo31, g.literal("31"));
            for (String m : new String[]{"01", "03", "05", "07", "08", "10", "12"}) g.alt(r, g.literal(m + "-"), upTo31);
            for (String m : new String[]{"04", "06", "09", "11"}) g.alt(r, g.literal(m + "-"), upTo30);
            g.alt(r, g.literal("02-"), upTo28);
            return r;
        });
        return Grammar.Builder.seq(digit, digit, digit, digit, g.literal("-"), monthDay);
    }

    /** RFC 3339 full-time: hh:mm:ss, an optional fraction, then Z or an offset (a subset: see the offset's rule). */
    private int[] time() {
        int t = once("time", () -> {
            int hour = g.rule("hour"), minute = g.rule("minute or second"), frac = g.rule("second fraction"), offset = g.rule("offset");
            g.alt(hour, g.bytes('0', '1'), g.bytes('0', '9'));
            g.alt(hour, g.literal("2"), g.bytes('0', '3'));
            g.alt(minute, g.bytes('0', '5'), g.bytes('0', '9'));
            g.alt(frac);
            g.alt(frac, g.literal("."), g.bytes('0', '9'), digits(8));
            // offsets within ±17:59 (java.time's range, which validators parse with), upper-case Z and T
            int offsetHour = g.rule("offset hour");
            g.alt(offsetHour, g.literal("0"), g.bytes('0', '9'));
            g.alt(offsetHour, g.literal("1"), g.bytes('0', '7'));
            g.alt(offset, g.literal("Z"));
            g.alt(offset, g.anyOf('+', '-'), offsetHour, g.literal(":"), minute);
            int r = g.rule("full time");
            g.alt(r, hour, g.literal(":"), minute, g.literal(":"), minute, frac, offset);
            return r;
        });
        return new int[]{t};
    }

    /** 8-4-4-4-12 hexadecimal digits. */
    private int[] uuid() {
        int h = hexDigit();
        int[] out = new int[36];
        for (int i = 0; i < 36; i++) out[i] = i == 8 || i == 13 || i == 18 || i == 23 ? g.literal("-")[0] : h;
        return out;
    }

    private int hexDigit() {
        long[] s = new long[4];
        for (int b : "0123456789ABCDEFabcdef".getBytes()) s[b >>> 6] |= 1L << b;
        return g.set(s);
    }

    /** Any JSON value (a schema of {@code true} or without constraints). */
    private int any() {
        Integer known = shared.get("any");
        if (known != null) return known;
        int r = g.rule("any value");
        shared.put("any", r);
        g.alt(r, anyObject());
        int ws = ws(), arr = g.rule("any array"), tail = g.rule("any array tail");
        g.alt(arr, g.literal("["), ws, g.literal("]"));
        g.alt(arr, g.literal("["), ws, r, ws, tail, g.literal("]"));
        g.alt(tail);
        g.alt(tail, g.literal(","), ws, r, ws, tail);
        g.alt(r, arr);
        g.alt(r, string());
        g.alt(r, number());
        for (String lit : new String[]{"true", "false", "null"}) g.alt(r, g.literal(lit));
        return r;
    }

    private int anyObject() {
        Integer known = shared.get("any object");
        if (known != null) return known;
        int r = g.rule("any object");
        shared.put("any object", r);
        int ws = ws(), tail = g.rule("any members tail");
        int[] member = Grammar.Builder.seq(string(), ws, g.literal(":"), ws, any(), ws);
        g.alt(r, g.literal("{"), ws, g.literal("}"));
        g.alt(r, g.literal("{"), ws, member, tail, g.literal("}"));
        g.alt(tail);
        g.alt(tail, g.literal(","), ws, member, tail);
        return r;
    }

    private static String quoted(String name) {
        try {
            return JSON.writeValueAsString(name);
        } catch (JsonProcessingException e) {
            throw new UnsupportedSchemaException("property name '" + name + "' cannot be written");
        }
    }

    private static String escape(String name) {
        return name.replace("~", "~0").replace("/", "~1");
    }

    private static String where(String at) {
        return at.isEmpty() ? "the root" : at;
    }
}
