package dev.lockstep.chat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.List;

/**
 * One way models write tool calls into a reply, and how to read them back. A syntax finds its calls
 * and keeps the text around them as content; a reply that opens a call and does not finish it well
 * (bad JSON, a tool that was not offered, a missing close) is not a call at all: {@link #parse}
 * returns null and the whole reply stays text, as vLLM's parsers do, so nothing the model wrote is
 * lost.
 */
abstract class CallSyntax {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonFactory FACTORY = JSON.getFactory();

    /** Text that starts a call: where a stream holds text back until the reply is finished. */
    final List<String> openers;

    CallSyntax(List<String> openers) {
        this.openers = openers;
    }

    /** The calls in {@code text} and the content around them; null if a call is malformed. */
    abstract Parsed parse(String text, ToolSpecs tools);

    record Parsed(String content, List<ToolCall> calls) {}

    /**
     * Where a call may begin in a reply still being written: the first opener, or a tail of the text
     * that could grow into one; {@code text.length()} if neither. A stream shows content up to here.
     */
    int callStart(String text) {
        int cut = text.length();
        for (String o : openers) {
            int at = text.indexOf(o);
            if (at >= 0) cut = Math.min(cut, at);
            for (int k = Math.min(o.length() - 1, text.length()); k > 0; k--)
                if (text.regionMatches(text.length() - k, o, 0, k)) {
                    cut = Math.min(cut, text.length() - k);
                    break;
                }
        }
        return cut;
    }

    /** Whether text left as content still opens a call (so a call was malformed). */
    final boolean opensCall(CharSequence content) {
        String s = content.toString();
        for (String o : openers) if (s.contains(o)) return true;
        return false;
    }

    /** A JSON value read at an offset and where it ended. */
    record Value(JsonNode node, int end) {}

    /** The JSON value starting at {@code from} (after whitespace), or null if there is none. */
    static Value readValue(String s, int from) {
        int p = skipSpace(s, from);
        if (p >= s.length()) return null;
        try (JsonParser parser = FACTORY.createParser(s.substring(p))) {
            JsonNode node = JSON.readTree(parser);
            if (node == null) return null;
            return new Value(node, p + (int) parser.currentLocation().getCharOffset());
        } catch (IOException e) {
            return null;
        }
    }

    static int skipSpace(String s, int p) {
        while (p < s.length() && Character.isWhitespace(s.charAt(p))) p++;
        return p;
    }

    /** Arguments as OpenAI sends them: a JSON object's text; a JSON string holding an object is unwrapped. Null if neither. */
    static String arguments(JsonNode args) {
        if (args == null || args.isNull()) return "{}";
        if (args.isObject()) return args.toString();
        if (args.isTextual()) {
            try {
                JsonNode inner = JSON.readTree(args.textValue());
                if (inner != null && inner.isObject()) return inner.toString();
            } catch (IOException e) {
                return null;
            }
        }
        return null;
    }

    /**
     * A call written as one JSON object, in any of the shapes the families use: {@code {"name",
     * "arguments"|"parameters"}}, Command R's {@code {"tool_name", "parameters"}}, OpenAI's
     * {@code {"function": {"name", "arguments"}}}, or Apertus' {@code {"<tool>": {arguments}}}. Null if
     * it is none of them or names a tool that was not offered.
     */
    static ToolCall callOf(JsonNode o, ToolSpecs tools) {
        if (o == null || !o.isObject()) return null;
        if (o.path("function").isObject()) return callOf(o.get("function"), tools);
        JsonNode name = o.has("name") ? o.get("name") : o.get("tool_name");
        if (name != null && name.isTextual()) {
            if (!tools.has(name.textValue())) return null;
            String args = arguments(o.has("arguments") ? o.get("arguments") : o.get("parameters"));
            return args == null ? null : new ToolCall(name.textValue(), args);
        }
        if (o.size() == 1) { // {"get_weather": {"city": "Paris"}}
            String only = o.fieldNames().next();
            if (tools.has(only) && o.get(only).isObject()) return new ToolCall(only, o.get(only).toString());
        }
        return null;
    }
}
