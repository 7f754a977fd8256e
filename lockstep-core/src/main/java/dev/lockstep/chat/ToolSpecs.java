package dev.lockstep.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tools a request offered: their names (a call of any other name is not a call) and their
 * parameter schemas, which say how to read an argument written as bare text in the markup families
 * ({@code <parameter=city>Paris</parameter>}: a string; {@code <parameter=days>3</parameter>}: a
 * number when the schema says so).
 */
public final class ToolSpecs {
    private final Map<String, JsonNode> parameters = new LinkedHashMap<>();

    /** OpenAI's {@code tools} list ({@code {"type": "function", "function": {"name", "parameters"}}}). */
    public static ToolSpecs of(JsonNode tools) {
        ToolSpecs s = new ToolSpecs();
        if (tools != null) for (JsonNode t : tools) {
            JsonNode fn = t.path("function");
            if (fn.path("name").isTextual()) s.parameters.put(fn.get("name").textValue(), fn.path("parameters"));
        }
        return s;
    }

    public boolean has(String name) {
        return parameters.containsKey(name);
    }

    public List<String> names() {
        return List.copyOf(parameters.keySet());
    }

    /** Whether {@code tool}'s schema declares {@code parameter} a string (so bare text is taken as is). */
    boolean isString(String tool, String parameter) {
        JsonNode type = parameters.getOrDefault(tool, CallSyntax.JSON.nullNode()).path("properties").path(parameter).path("type");
        if (type.isTextual()) return type.textValue().equals("string");
        if (type.isArray()) for (JsonNode t : type) if (t.asText().equals("string")) return true;
        return false; // no type: read as JSON where it is JSON, else as text
    }
}
