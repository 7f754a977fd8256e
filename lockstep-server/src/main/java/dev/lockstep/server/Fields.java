package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.sampling.LogitBias;
import dev.lockstep.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed access to a request's JSON fields. Every wrong type or out-of-range value becomes a 400 that
 * names the field ({@code param}) and says what was expected and what came.
 */
final class Fields {
    private final ObjectNode body;

    Fields(JsonNode body) {
        if (body == null || !body.isObject())
            throw ApiException.badRequest(null, "the request body must be a JSON object");
        this.body = (ObjectNode) body;
    }

    /**
     * Refuses any top-level field outside {@code known} with a 400 naming it, as OpenAI's API does
     * ("unrecognized request argument"): a field the server does not implement must not be dropped
     * silently, since the client asked for something it would then not get. Features of OpenAI's API
     * that this server lacks get a message that says so.
     */
    void only(Set<String> known) {
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (known.contains(name)) continue;
            String unsupported = UNSUPPORTED.get(name);
            if (unsupported != null) throw ApiException.badRequest(name, name + ": " + unsupported);
            throw ApiException.badRequest(name, "unrecognized request argument supplied: " + name);
        }
    }

    /** The field names of several sets (an endpoint's own, the shared sampling ones, extensions), as one set. */
    @SafeVarargs
    static Set<String> union(Set<String>... sets) {
        Set<String> all = new HashSet<>();
        for (Set<String> s : sets) all.addAll(s);
        return Set.copyOf(all);
    }

    private static final Map<String, String> UNSUPPORTED = Map.ofEntries(
            Map.entry("functions", "the deprecated functions field is not supported; use tools"),
            Map.entry("function_call", "the deprecated function_call field is not supported; use tool_choice"),
            Map.entry("web_search_options", "web search is not supported by this server"),
            Map.entry("previous_response_id", "this server stores no responses: send the whole conversation as input"),
            Map.entry("conversation", "this server stores no conversations: send the whole conversation as input"),
            Map.entry("include", "include (extra output data) is not supported by this server"));

    /**
     * OpenAI's {@code logit_bias}: an object from token ids (as strings) to a bias in [-100, 100], at
     * most {@code max} entries. Ids past the vocabulary are refused by the engine.
     */
    LogitBias logitBias(String name, int max) {
        JsonNode n = node(name);
        if (n == null) return LogitBias.NONE;
        if (!n.isObject()) throw wrongType(name, "an object from token ids to biases", n);
        if (n.size() > max) throw ApiException.badRequest(name, name + " has " + n.size() + " entries; at most " + max + " are allowed");
        Map<Integer, Float> m = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id;
            try {
                id = Integer.parseInt(e.getKey());
            } catch (NumberFormatException x) {
                throw ApiException.badRequest(name, name + " keys must be token ids, got '" + e.getKey() + "'");
            }
            if (!e.getValue().isNumber()) throw wrongType(name + "." + e.getKey(), "a number", e.getValue());
            m.put(id, (float) e.getValue().doubleValue());
        }
        try {
            return LogitBias.of(m);
        } catch (SamplingParams.InvalidParameterException x) {
            throw ApiException.badRequest(name, x.getMessage());
        }
    }

    boolean has(String name) {
        JsonNode n = body.get(name);
        return n != null && !n.isNull();
    }

    JsonNode node(String name) {
        JsonNode n = body.get(name);
        return n == null || n.isNull() ? null : n;
    }

    String string(String name, String dflt) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isTextual()) throw wrongType(name, "a string", n);
        return n.textValue();
    }

    boolean bool(String name, boolean dflt) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isBoolean()) throw wrongType(name, "a boolean", n);
        return n.booleanValue();
    }

    int integer(String name, int dflt, int min, int max) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw wrongType(name, "an integer", n);
        long v = n.longValue();
        if (v < min || v > max)
            throw ApiException.badRequest(name, name + " must be between " + min + " and " + max + ", got " + v);
        return (int) v;
    }

    long int64(String name, long dflt) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw wrongType(name, "an integer", n);
        return n.longValue();
    }

    float number(String name, float dflt, double min, double max) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isNumber()) throw wrongType(name, "a number", n);
        double v = n.doubleValue();
        if (!(v >= min && v <= max))
            throw ApiException.badRequest(name, name + " must be between " + fmt(min) + " and " + fmt(max) + ", got " + v);
        return (float) v;
    }

    /** {@code stop}: a string or a list of up to {@code max} strings. */
    List<String> stringOrList(String name, int max) {
        JsonNode n = node(name);
        List<String> out = new ArrayList<>();
        if (n == null) return out;
        if (n.isTextual()) {
            if (!n.textValue().isEmpty()) out.add(n.textValue());
            return out;
        }
        if (!n.isArray()) throw wrongType(name, "a string or a list of strings", n);
        if (n.size() > max) throw ApiException.badRequest(name, name + " has " + n.size() + " entries; at most " + max + " are allowed");
        for (JsonNode e : n) {
            if (!e.isTextual()) throw wrongType(name, "a string or a list of strings", n);
            if (!e.textValue().isEmpty()) out.add(e.textValue());
        }
        return out;
    }

    /**
     * A JSON list of token ids ({@code arr}, already known to be a list) as ints, each inside the
     * vocabulary; errors name {@code param} and the entry.
     */
    /** One item of a prompt-shaped field: its text, or (text null) its token ids. */
    record TextOrIds(String text, int[] ids) {}

    /**
     * OpenAI's prompt shape, as completions' {@code prompt} and embeddings' {@code input} take it: a
     * string, a list of token ids, or a list of strings and lists of token ids. Token ids are checked
     * against the vocabulary; errors name {@code param} or {@code param[i]}.
     */
    static List<TextOrIds> textsOrTokenIds(JsonNode p, String param, int vocab) {
        if (p == null) throw ApiException.badRequest(param, param + " is required");
        if (p.isArray() && p.isEmpty()) throw ApiException.badRequest(param, param + " must not be an empty list");
        List<TextOrIds> out = new ArrayList<>();
        if (p.isTextual()) {
            out.add(new TextOrIds(p.textValue(), null));
        } else if (p.isArray() && p.get(0).isIntegralNumber()) {
            out.add(new TextOrIds(null, tokenIds(p, param, vocab)));
        } else if (p.isArray()) {
            for (int i = 0; i < p.size(); i++) {
                JsonNode e = p.get(i);
                if (e.isTextual()) out.add(new TextOrIds(e.textValue(), null));
                else if (e.isArray()) out.add(new TextOrIds(null, tokenIds(e, param + "[" + i + "]", vocab)));
                else throw wrongType(param + "[" + i + "]", "a string or a list of token ids", e);
            }
        } else {
            throw wrongType(param, "a string, a list of strings, a list of token ids or a list of such lists", p);
        }
        return out;
    }

    static int[] tokenIds(JsonNode arr, String param, int vocab) {
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = arr.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt()) throw wrongType(param + "[" + i + "]", "a token id", t);
            ids[i] = t.intValue();
            if (ids[i] < 0 || ids[i] >= vocab)
                throw ApiException.badRequest(param, param + "[" + i + "] = " + ids[i] + " is outside the vocabulary [0, " + vocab + ")");
        }
        return ids;
    }

    static ApiException wrongType(String name, String expected, JsonNode got) {
        return ApiException.badRequest(name, name + " must be " + expected + ", got " + describe(got));
    }

    static String describe(JsonNode n) {
        if (n.isTextual()) return "a string";
        if (n.isBoolean()) return "a boolean";
        if (n.isIntegralNumber()) return "an integer (" + n.asText() + ")";
        if (n.isNumber()) return "a number (" + n.asText() + ")";
        if (n.isArray()) return "a list";
        if (n.isObject()) return "an object";
        return n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
