package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The reply schemas of OpenAI's published OpenAPI description ({@code openai/schemas.json}, extracted
 * by {@code tools/openai-schemas/extract.py}; its {@code $comment} names the commit), as validators:
 * a reply this server sends must be valid against the schema OpenAI publishes for it.
 */
final class OpenApiShapes {
    private OpenApiShapes() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNode DOC = load();
    private static final Map<String, Schema> SCHEMAS = new ConcurrentHashMap<>();

    private static JsonNode load() {
        try (InputStream in = OpenApiShapes.class.getResourceAsStream("/openai/schemas.json")) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Fails with every violation if {@code reply} is not valid against OpenAI's schema {@code name}. A
     * union of event schemas ({@code ResponseStreamEvent}) is narrowed to the member for the reply's
     * {@code type}, so the violations named are that member's.
     */
    static void assertValid(String name, JsonNode reply) {
        JsonNode def = DOC.get("$defs").get(name);
        JsonNode members = def == null ? null : def.has("anyOf") ? def.get("anyOf") : def.get("oneOf");
        if (members != null && reply.path("type").isTextual())
            for (JsonNode m : members) {
                String ref = m.path("$ref").asText("");
                JsonNode member = DOC.get("$defs").get(ref.substring(ref.lastIndexOf('/') + 1));
                if (member != null && member.at("/properties/type/enum").toString().contains("\"" + reply.get("type").textValue() + "\"")) {
                    assertValid(ref.substring(ref.lastIndexOf('/') + 1), reply);
                    return;
                }
            }
        Schema s = SCHEMAS.computeIfAbsent(name, n -> {
            if (!DOC.get("$defs").has(n)) throw new IllegalArgumentException("no schema " + n + " in openai/schemas.json");
            ObjectNode root = DOC.deepCopy();
            root.put("$ref", "#/$defs/" + n);
            return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(root);
        });
        List<?> errors = s.validate(reply);
        if (!errors.isEmpty()) fail(name + ": " + errors.size() + " violations of OpenAI's schema:\n" + errors + "\nin " + reply);
    }
}
