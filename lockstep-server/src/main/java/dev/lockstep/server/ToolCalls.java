package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.chat.ChatReply;
import dev.lockstep.chat.ChatSyntax;
import dev.lockstep.chat.ToolCall;
import dev.lockstep.chat.ToolSpecs;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.sampling.JsonSchemaGrammar;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * OpenAI's function calling. With {@code tool_choice: "required"} or a named function, the reply is
 * decoded with the grammar of {@code {"name": <a tool's name>, "arguments": <that tool's parameters
 * schema>}} ({@link JsonSchemaGrammar}), so it is always one well-formed call of a tool that exists,
 * whatever the model. With {@code "auto"} (OpenAI's default when tools are given) the model decides:
 * its reply is free text, and the calls it writes in its family's syntax ({@link ChatSyntax}: Hermes,
 * Llama 3, Mistral, DeepSeek, Qwen3-Coder, GLM, gpt-oss, ...) are read back out of it. A template
 * that does not show tools to the model gets them described in the system prompt instead, with
 * Hermes' syntax to call them. {@code "none"} generates text, and the tools are not shown.
 */
final class ToolCalls {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private final ToolSpecs specs;
    private final ResponseFormat format; // a forced call's grammar; null with "auto"
    private final List<Map<String, Object>> templateTools;
    private final String toolsJson;

    private ToolCalls(ToolSpecs specs, ResponseFormat format, List<Map<String, Object>> templateTools, String toolsJson) {
        this.specs = specs;
        this.format = format;
        this.templateTools = templateTools;
        this.toolsJson = toolsJson;
    }

    /** The request's tools, or null (no tools, or {@code tool_choice: "none"}). */
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
        List<Map<String, Object>> templateTools = new ArrayList<>();
        for (JsonNode t : tools) templateTools.add(json.convertValue(t, Map.class));
        ToolSpecs specs = ToolSpecs.of(tools);
        ArrayNode functions = json.createArrayNode(); // what describes them in a prompt: the functions, without the wrappers
        for (JsonNode t : tools) functions.add(t.get("function"));
        if (choice == null || choice.isTextual() && choice.textValue().equals("auto"))
            return new ToolCalls(specs, null, templateTools, functions.toString());
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
        return new ToolCalls(specs, format, templateTools, functions.toString());
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

    /** The tools as the reply parser needs them (names and parameter types). */
    ToolSpecs specs() {
        return specs;
    }

    /**
     * The system-prompt paragraph that shows the tools to a model whose template does not
     * ({@link ChatSyntax#templateShowsTools}, {@link ChatSyntax#describeTools}).
     */
    String described(ChatSyntax syntax) {
        return syntax.describeTools(toolsJson);
    }

    /**
     * A forced call's reply (one JSON object of the call grammar) as a {@link ChatReply}; a reply cut
     * short before the object closed has no call and no content (finish_reason says length).
     */
    ChatReply forced(String text, boolean complete) {
        if (!complete) return new ChatReply(null, null, List.of());
        JsonNode call;
        try {
            call = JSON.readTree(text);
        } catch (Exception e) {
            throw new IllegalStateException("a finished tool call is not JSON: " + text, e);
        }
        return new ChatReply(null, null, List.of(new ToolCall(call.get("name").asText(), call.get("arguments").toString())));
    }

    /**
     * A finished choice as the chat APIs return it. {@code tools}: null without tools. Calls are read
     * only from a reply that ended on its own; a reply cut short keeps its content up to the call it
     * was writing.
     */
    static ChatReply read(ChatSyntax syntax, ToolCalls tools, String text, FinishReason reason, boolean thinkingOpened) {
        if (tools != null && !tools.auto()) return tools.forced(text, reason == FinishReason.STOP);
        ChatReply r = syntax.parse(text, thinkingOpened, tools == null ? null : tools.specs());
        if (tools == null || reason == FinishReason.STOP) return r;
        return new ChatReply(r.reasoning(), syntax.beforeCall(r.content()), List.of());
    }

    /** OpenAI's {@code tool_calls} list for calls, each with a new id. */
    static ArrayNode toJson(List<ToolCall> calls, Supplier<String> ids, ObjectMapper json) {
        ArrayNode out = json.createArrayNode();
        for (ToolCall c : calls) {
            ObjectNode o = out.addObject();
            o.put("id", ids.get());
            o.put("type", "function");
            o.putObject("function").put("name", c.name()).put("arguments", c.arguments());
        }
        return out;
    }

    List<Map<String, Object>> templateTools() {
        return templateTools;
    }
}
