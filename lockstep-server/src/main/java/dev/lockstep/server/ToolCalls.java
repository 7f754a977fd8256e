package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.sampling.JsonSchemaGrammar;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI's function calling. With {@code tool_choice: "required"} or a named function, the reply is
 * decoded with the grammar of {@code {"name": <a tool's name>, "arguments": <that tool's parameters
 * schema>}} ({@link JsonSchemaGrammar}), so it is always one well-formed call of a tool that exists,
 * whatever the model. With {@code "auto"} (OpenAI's default when tools are given) the model decides:
 * its reply is free text, and calls written in the Hermes syntax its template teaches
 * ({@code <tool_call>{"name": ..., "arguments": ...}</tool_call>}, Qwen 2.5 / 3, Hermes) are read back
 * out of it; a template without a tool-call syntax this server knows makes {@code "auto"} a 400 rather
 * than a guess. In every case the tools go to the chat template's {@code tools} variable. {@code
 * "none"} generates text, and the tools are not shown to the model.
 */
final class ToolCalls {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private static final Pattern HERMES = Pattern.compile("<tool_call>\\s*(.*?)\\s*</tool_call>", Pattern.DOTALL);

    private final List<String> names;
    private final ResponseFormat format; // a forced call's grammar; null with "auto"
    private final List<Map<String, Object>> templateTools;

    private ToolCalls(List<String> names, ResponseFormat format, List<Map<String, Object>> templateTools) {
        this.names = names;
        this.format = format;
        this.templateTools = templateTools;
    }

    /**
     * The request's tools, or null (no tools, or {@code tool_choice: "none"}). {@code hermes}: the
     * model's template writes Hermes tool calls (needed for {@code "auto"}).
     */
    static ToolCalls parse(Fields f, ObjectMapper json, boolean hermes) {
        JsonNode tools = f.node("tools");
        JsonNode choice = f.node("tool_choice");
        if (f.has("parallel_tool_calls")) f.bool("parallel_tool_calls", true); // type-checked; one call is always allowed
        if (tools == null) {
            if (choice != null && !(choice.isTextual() && choice.textValue().equals("none")))
                throw ApiException.badRequest("tool_choice", "tool_choice needs tools");
            return null;
        }
        if (!tools.isArray() || tools.isEmpty()) throw Fields.wrongType("tools", "a non-empty list of tools", tools);
        List<String> names = new ArrayList<>();
        List<JsonNode> params = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            JsonNode t = tools.get(i);
            String p = "tools[" + i + "]";
            if (!t.isObject() || !"function".equals(t.path("type").asText()) || !t.path("function").isObject())
                throw ApiException.badRequest(p, p + " must be {\"type\": \"function\", \"function\": {...}}");
            JsonNode fn = t.get("function");
            String name = fn.path("name").asText("");
            if (!NAME.matcher(name).matches())
                throw ApiException.badRequest(p + ".function.name", p + ".function.name must be 1-64 letters, digits, _ or -, got '" + name + "'");
            if (names.contains(name)) throw ApiException.badRequest(p + ".function.name", "two tools are named '" + name + "'");
            JsonNode schema = fn.get("parameters");
            if (schema == null) schema = json.createObjectNode().put("type", "object").set("properties", json.createObjectNode());
            if (!schema.isObject()) throw Fields.wrongType(p + ".function.parameters", "a JSON schema object", schema);
            names.add(name);
            params.add(schema);
        }
        List<Map<String, Object>> templateTools = new ArrayList<>();
        for (JsonNode t : tools) templateTools.add(json.convertValue(t, Map.class));
        if (choice == null || choice.isTextual() && choice.textValue().equals("auto")) {
            if (!hermes)
                throw ApiException.badRequest("tool_choice", "tool_choice 'auto' (the default with tools) needs a chat template that writes "
                        + "tool calls in a syntax this server reads (Hermes <tool_call>, as Qwen's); this model's has none: pass "
                        + "tool_choice 'required', a named function, or 'none'");
            return new ToolCalls(names, null, templateTools);
        }
        List<Integer> callable = new ArrayList<>();
        if (choice.isTextual()) {
            switch (choice.textValue()) {
                case "none" -> { return null; }
                case "required" -> { for (int i = 0; i < names.size(); i++) callable.add(i); }
                default -> throw ApiException.badRequest("tool_choice", "tool_choice must be none, auto, required or a named function, got '"
                        + choice.textValue() + "'");
            }
        } else {
            String name = choice.path("function").path("name").asText(null);
            if (!"function".equals(choice.path("type").asText()) || name == null)
                throw ApiException.badRequest("tool_choice", "tool_choice must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
            int i = names.indexOf(name);
            if (i < 0) throw ApiException.badRequest("tool_choice", "tool_choice names '" + name + "', which is not among the tools");
            callable.add(i);
        }
        // the call's grammar: {"name": one of the callable tools, "arguments": its parameters}
        ArrayNode alternatives = json.createArrayNode();
        for (int i : callable) {
            ObjectNode call = alternatives.addObject().put("type", "object");
            call.putObject("properties").set("name", json.createObjectNode().put("const", names.get(i)));
            ((ObjectNode) call.get("properties")).set("arguments", params.get(i));
            call.putArray("required").add("name").add("arguments");
        }
        JsonNode schema = alternatives.size() == 1 ? alternatives.get(0) : json.createObjectNode().set("anyOf", alternatives);
        ResponseFormat format;
        try {
            format = ResponseFormat.jsonSchema("tool call", schema);
        } catch (JsonSchemaGrammar.UnsupportedSchemaException e) {
            throw ApiException.badRequest("tools", "a tool's parameters: " + e.getMessage());
        }
        return new ToolCalls(names, format, templateTools);
    }

    /** The grammar of a forced call; {@link ResponseFormat#TEXT} with {@code "auto"}. */
    ResponseFormat format() {
        return format == null ? ResponseFormat.TEXT : format;
    }

    /**
     * The format to decode with: a forced call's grammar, else the request's own {@code format}; a
     * forced call and a constrained format at once is a 400 naming {@code formatParam}.
     */
    static ResponseFormat decodeFormat(ToolCalls tools, ResponseFormat format, String formatParam) {
        if (tools == null || tools.auto()) return format;
        if (format != ResponseFormat.TEXT)
            throw ApiException.badRequest(formatParam, formatParam + " cannot be combined with a tool call (tool_choice required or a named function)");
        return tools.format;
    }

    /** {@code "auto"}: the model chose, and its calls are read out of its text. */
    boolean auto() {
        return format == null;
    }

    /** A finished reply as {@code content} and {@code tool_calls} (empty: no call). */
    record Reply(String content, ArrayNode calls) {}

    /**
     * A finished reply's calls: the whole reply with a forced call; with {@code "auto"}, the Hermes
     * blocks of listed tools (the text around them stays content, null if nothing is left). A block
     * that is not a well-formed call of a listed tool leaves the whole reply as text, as vLLM's Hermes
     * parser does.
     */
    Reply reply(String text, Supplier<String> ids, ObjectMapper json) {
        if (!auto()) return new Reply(null, toolCalls(text, ids.get(), json));
        Matcher m = HERMES.matcher(text);
        ArrayNode calls = json.createArrayNode();
        StringBuilder rest = new StringBuilder();
        int last = 0;
        while (m.find()) {
            JsonNode call;
            try {
                call = json.readTree(m.group(1));
            } catch (Exception e) {
                return new Reply(text, json.createArrayNode());
            }
            if (call == null || !call.path("name").isTextual() || !names.contains(call.get("name").textValue())
                    || call.has("arguments") && !call.get("arguments").isObject())
                return new Reply(text, json.createArrayNode());
            ObjectNode c = calls.addObject();
            c.put("id", ids.get());
            c.put("type", "function");
            c.putObject("function").put("name", call.get("name").textValue())
                    .put("arguments", call.has("arguments") ? call.get("arguments").toString() : "{}");
            rest.append(text, last, m.start());
            last = m.end();
        }
        rest.append(text.substring(last));
        String content = rest.toString().strip();
        return new Reply(calls.isEmpty() ? text : content.isEmpty() ? null : content, calls);
    }

    List<Map<String, Object>> templateTools() {
        return templateTools;
    }

    /** OpenAI's {@code tool_calls} for a forced call's reply (one JSON object of the call grammar). */
    private static ArrayNode toolCalls(String text, String id, ObjectMapper json) {
        JsonNode call;
        try {
            call = json.readTree(text);
        } catch (Exception e) {
            throw new IllegalStateException("a finished tool call is not JSON: " + text, e);
        }
        ArrayNode calls = json.createArrayNode();
        ObjectNode c = calls.addObject();
        c.put("id", id);
        c.put("type", "function");
        ObjectNode fn = c.putObject("function");
        fn.put("name", call.get("name").asText());
        fn.put("arguments", call.get("arguments").toString());
        return calls;
    }
}
