package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Fields OpenAI documents (and common extensions of vLLM and llama.cpp) that this server accepts
 * where their value is a no-op here: a default, a null, or a setting it keeps anyway ({@code
 * cache_prompt}: prefix caching is always on). Any other value is a 400 that says which values are
 * supported, since the client asked for something it would not get. Clients and SDKs send these
 * fields with their defaults, so refusing the names would refuse working requests.
 */
final class NoOpFields {
    private NoOpFields() {}

    private record Rule(String supported, Predicate<JsonNode> ok) {}

    private static boolean in(JsonNode n, String... values) {
        for (String v : values) if (n.isTextual() && n.textValue().equals(v)) return true;
        return false;
    }

    private static boolean stringValues(JsonNode n, int max) {
        if (!n.isObject() || n.size() > max) return false;
        for (JsonNode v : n) if (!v.isTextual()) return false;
        return true;
    }

    private static final Map<String, Rule> RULES = Map.ofEntries(
            Map.entry("store", new Rule("false (this server stores no completions)", n -> n.isBoolean() && !n.booleanValue())),
            Map.entry("metadata", new Rule("an object of at most 16 string values", n -> stringValues(n, 16))),
            Map.entry("service_tier", new Rule("auto or default (there is one tier)", n -> in(n, "auto", "default"))),
            Map.entry("verbosity", new Rule("medium (replies are as long as the model makes them)", n -> in(n, "medium"))),
            Map.entry("prompt_cache_key", new Rule("a string (prefix caching is always on)", JsonNode::isTextual)),
            Map.entry("safety_identifier", new Rule("a string", JsonNode::isTextual)),
            Map.entry("modalities", new Rule("[\"text\"] (only text output)", n -> n.isArray() && n.size() == 1 && in(n.get(0), "text"))),
            Map.entry("audio", new Rule("null (audio output is not supported)", n -> false)),
            Map.entry("prediction", new Rule("null (predicted outputs are not supported; see the speculation extension)", n -> false)),
            Map.entry("truncation", new Rule("disabled (a conversation too long for the context is an error)", n -> in(n, "disabled"))),
            Map.entry("include", new Rule("an empty list (no extra output data)", n -> n.isArray() && n.isEmpty())),
            Map.entry("background", new Rule("false (replies are never run in the background)", n -> n.isBoolean() && !n.booleanValue())),
            Map.entry("cache_prompt", new Rule("a boolean (prefix caching is always on, and exact)", JsonNode::isBoolean)),
            Map.entry("typical_p", new Rule("1 (typical sampling is not implemented)", n -> n.isNumber() && n.doubleValue() == 1.0)));

    /** Chat completions' documented no-op fields and extensions. */
    static final Set<String> CHAT = Set.of("store", "metadata", "service_tier", "verbosity", "prompt_cache_key", "safety_identifier",
            "modalities", "audio", "prediction", "cache_prompt", "typical_p");
    /** Text completions'. */
    static final Set<String> COMPLETIONS = Set.of("cache_prompt", "typical_p");
    /** The Responses API's ({@code store} and {@code metadata} are its own: echoed back). */
    static final Set<String> RESPONSES = Set.of("service_tier", "prompt_cache_key", "safety_identifier", "truncation", "include",
            "background");

    /** Checks each of {@code names} the request has; null is every field's no-op. */
    static void check(Fields f, Set<String> names) {
        for (String name : names) {
            JsonNode n = f.node(name);
            if (n == null || n.isNull()) continue;
            Rule r = RULES.get(name);
            if (!r.ok().test(n))
                throw ApiException.badRequest(name, name + ": only " + r.supported() + " is supported by this server, got "
                        + (n.isTextual() ? "'" + n.textValue() + "'" : Fields.describe(n)));
        }
    }
}
