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
import java.util.regex.Pattern;

/**
 * OpenAI's function calling, through constrained decoding. With {@code tool_choice: "required"} or a
 * named function, the reply is decoded with the grammar of {@code {"name": <a tool's name>,
 * "arguments": <that tool's parameters schema>}} ({@link JsonSchemaGrammar}), so it is always one
 * well-formed call of a tool that exists, whatever the model; the tools are also given to the chat
 * template (its {@code tools} variable), so a model trained for tools sees them as it was taught.
 *
 * <p>{@code tool_choice: "auto"} (OpenAI's default when tools are given) would need each model
 * family's own call syntax parsed out of free text; this server refuses it with a message rather than
 * guess. {@code "none"} generates text, and the tools are not shown to the model.
 */
final class ToolCalls {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private final List<String> names;
    private final ResponseFormat format;
    private final List<Map<String, Object>> templateTools;

    private ToolCalls(List<String> names, ResponseFormat format, List<Map<String, Object>> templateTools) {
        this.names = names;
        this.format = format;
        this.templateTools = templateTools;
    }

    /** The request's tools as a call to make, or null (no tools, or {@code tool_choice: "none"}). */
    static ToolCalls parse(Fields f, ObjectMapper json) {
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
        List<Integer> callable = new ArrayList<>();
        if (choice == null || choice.isTextual() && choice.textValue().equals("auto"))
            throw ApiException.badRequest("tool_choice", "tool_choice 'auto' (the default with tools) is not supported: this server calls "
                    + "tools only through constrained decoding; pass tool_choice 'required', a named function, or 'none'");
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
        List<Map<String, Object>> templateTools = new ArrayList<>();
        for (JsonNode t : tools) templateTools.add(json.convertValue(t, Map.class));
        return new ToolCalls(names, format, templateTools);
    }

    ResponseFormat format() {
        return format;
    }

    List<Map<String, Object>> templateTools() {
        return templateTools;
    }

    /** OpenAI's {@code tool_calls} for a finished reply (one JSON object of the call grammar). */
    ArrayNode toolCalls(String text, String id, ObjectMapper json) {
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
