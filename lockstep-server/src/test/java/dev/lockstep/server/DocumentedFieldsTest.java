package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fields OpenAI documents are accepted at the values this server honours or for which they are a
 * no-op, and refused by name at any other value; the common extensions of vLLM and llama.cpp
 * (guided_json, guided_choice, structured_outputs, json_schema, n_probs, cache_prompt, typical_p,
 * chat_template_kwargs, include_stop_str_in_output) likewise.
 */
class DocumentedFieldsTest {
    static ServerFixture fx;
    static final String MSG = "\"messages\": [{\"role\": \"user\", \"content\": \"Is it sunny?\"}], \"max_tokens\": 8";

    @BeforeAll
    static void start() throws Exception {
        fx = new ServerFixture();
    }

    @AfterAll
    static void stop() {
        fx.close();
    }

    @Test
    void chatAcceptsDocumentedFieldsAtTheirNoOpValues() throws Exception {
        String all = "{" + MSG + ", \"store\": false, \"metadata\": {\"team\": \"a\"}, \"service_tier\": \"auto\", \"verbosity\": \"medium\","
                + " \"prompt_cache_key\": \"k\", \"safety_identifier\": \"u1\", \"modalities\": [\"text\"], \"audio\": null,"
                + " \"prediction\": null, \"cache_prompt\": true, \"typical_p\": 1, \"include_stop_str_in_output\": false,"
                + " \"reasoning_effort\": \"low\", \"chat_template_kwargs\": {\"enable_thinking\": false}}";
        HttpResponse<String> r = fx.post("/v1/chat/completions", all);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode plain = fx.parse(fx.post("/v1/chat/completions", "{" + MSG + "}").body());
        assertEquals(plain.at("/choices/0/message/content"), fx.parse(r.body()).at("/choices/0/message/content"), "no-ops change nothing");
        assertTrue(fx.parse(r.body()).at("/choices/0/message").has("refusal"), "OpenAI's message shape has refusal: null");

        for (Map.Entry<String, String> bad : Map.of("store", "true", "service_tier", "\"flex\"", "modalities", "[\"text\", \"audio\"]",
                "audio", "{\"voice\": \"alloy\", \"format\": \"mp3\"}", "typical_p", "0.5", "verbosity", "\"low\"",
                "reasoning_effort", "\"extreme\"").entrySet()) {
            HttpResponse<String> e = fx.post("/v1/chat/completions", "{" + MSG + ", \"" + bad.getKey() + "\": " + bad.getValue() + "}");
            assertEquals(400, e.statusCode(), bad + ": " + e.body());
            assertEquals(bad.getKey(), fx.parse(e.body()).at("/error/param").asText(), e.body());
        }
        HttpResponse<String> e = fx.post("/v1/chat/completions", "{" + MSG + ", \"chat_template_kwargs\": {\"messages\": []}}");
        assertEquals(400, e.statusCode(), "a kwarg cannot replace the conversation");
    }

    @Test
    void responsesAcceptTheirDocumentedDefaults() throws Exception {
        String body = "{\"input\": \"Is it sunny?\", \"max_output_tokens\": 8, \"truncation\": \"disabled\", \"include\": [],"
                + " \"reasoning\": null, \"background\": false, \"top_logprobs\": 0, \"max_tool_calls\": 1, \"service_tier\": \"default\"}";
        HttpResponse<String> r = fx.post("/v1/responses", body);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(0, fx.parse(r.body()).at("/usage/input_tokens_details/cache_write_tokens").asInt(-1));
        assertTrue(fx.parse(r.body()).at("/output/0/content/0/logprobs").isArray(), r.body());
        assertEquals(200, fx.post("/v1/responses", "{\"input\": \"x\", \"max_output_tokens\": 4, \"reasoning\": {\"effort\": \"low\"}}").statusCode());
        for (String bad : List.of("\"background\": true", "\"truncation\": \"auto\"", "\"include\": [\"reasoning.encrypted_content\"]",
                "\"reasoning\": {\"effort\": \"huge\"}")) {
            HttpResponse<String> e = fx.post("/v1/responses", "{\"input\": \"x\", " + bad + "}");
            assertEquals(400, e.statusCode(), bad + ": " + e.body());
        }
    }

    /** guided_choice and structured_outputs.choice: the reply is exactly one of the choices. */
    @Test
    void choicesConstrainTheReply() throws Exception {
        for (String ext : List.of("\"guided_choice\": [\"yes\", \"no\", \"maybe later\"]",
                "\"structured_outputs\": {\"choice\": [\"yes\", \"no\", \"maybe later\"]}")) {
            for (int seed = 0; seed < 4; seed++) {
                HttpResponse<String> r = fx.post("/v1/chat/completions", "{" + MSG.replace("\"max_tokens\": 8", "\"max_tokens\": 32")
                        + ", \"seed\": " + seed + ", " + ext + "}");
                assertEquals(200, r.statusCode(), r.body());
                String content = fx.parse(r.body()).at("/choices/0/message/content").asText();
                assertTrue(List.of("yes", "no", "maybe later").contains(content), content);
            }
        }
        HttpResponse<String> r = fx.post("/v1/completions", "{\"prompt\": \"Sunny?\", \"max_tokens\": 8, \"guided_choice\": [\"a\", \"b\"]}");
        assertTrue(List.of("a", "b").contains(fx.parse(r.body()).at("/choices/0/text").asText()), r.body());
        HttpResponse<String> both = fx.post("/v1/chat/completions", "{" + MSG + ", \"guided_choice\": [\"a\"], \"response_format\": "
                + "{\"type\": \"json_object\"}}");
        assertEquals(400, both.statusCode());
        assertEquals(400, fx.post("/v1/chat/completions", "{" + MSG + ", \"structured_outputs\": {\"regex\": \"a+\"}}").statusCode());
    }

    /** guided_json (vLLM, also as a JSON string) and json_schema (llama.cpp): the reply follows the schema. */
    @Test
    void jsonSchemaExtensionsConstrainTheReply() throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}}, \"required\": [\"ok\"]}";
        for (String ext : List.of("\"guided_json\": " + schema, "\"guided_json\": " + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(schema),
                "\"json_schema\": " + schema, "\"structured_outputs\": {\"json\": " + schema + "}")) {
            HttpResponse<String> r = fx.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], "
                    + "\"max_tokens\": 40, " + ext + "}");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode choice = fx.parse(r.body()).at("/choices/0");
            if (choice.get("finish_reason").asText().equals("stop"))
                assertTrue(fx.parse(choice.at("/message/content").asText()).get("ok").isBoolean(), choice.toString());
        }
    }

    /**
     * llama.cpp's GBNF {@code grammar} (and vLLM's guided_grammar): every reply is in the grammar's
     * language; where the grammar may end but could go on, the model may end it (end-of-generation
     * is allowed there), so replies of different lengths come out. Errors name the line and column.
     */
    @Test
    void gbnfGrammarsConstrainTheReply() throws Exception {
        String grammar = "root ::= word (\" \" word){0,5} \".\"?\nword ::= [a-z]{1,8}";
        java.util.regex.Pattern language = java.util.regex.Pattern.compile("[a-z]{1,8}( [a-z]{1,8}){0,5}\\.?");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int seed = 0; seed < 6; seed++) {
            for (String field : List.of("grammar", "guided_grammar")) {
                HttpResponse<String> r = fx.post("/v1/chat/completions", "{" + MSG.replace("\"max_tokens\": 8", "\"max_tokens\": 60")
                        + ", \"seed\": " + seed + ", \"" + field + "\": " + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(grammar) + "}");
                assertEquals(200, r.statusCode(), r.body());
                JsonNode c = fx.parse(r.body()).at("/choices/0");
                assertEquals("stop", c.get("finish_reason").asText(), c.toString());
                String text = c.at("/message/content").asText();
                assertTrue(language.matcher(text).matches(), text);
                seen.add(text);
            }
        }
        assertTrue(seen.size() > 1, "the seeds give different replies: " + seen);
        HttpResponse<String> bad = fx.post("/v1/chat/completions", "{" + MSG + ", \"grammar\": \"root ::= \\\"a\\\"\\nroot ::= x\"}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertTrue(fx.parse(bad.body()).at("/error/message").asText().contains("line 2, column 1"), bad.body());
    }

    /** vLLM's include_stop_str_in_output: the stop string that ended the reply stays in it. */
    @Test
    void includeStopStringInOutput() throws Exception {
        String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"seed\": 2";
        String whole = fx.parse(fx.post("/v1/completions", body + "}").body()).at("/choices/0/text").asText();
        String stop = whole.substring(5, 7); // a stop string the reply is known to contain
        int at = whole.indexOf(stop);
        String without = fx.parse(fx.post("/v1/completions", body + ", \"stop\": " + JSON.writeValueAsString(stop) + "}").body())
                .at("/choices/0/text").asText();
        String with = fx.parse(fx.post("/v1/completions", body + ", \"stop\": " + JSON.writeValueAsString(stop)
                + ", \"include_stop_str_in_output\": true}").body()).at("/choices/0/text").asText();
        assertEquals(whole.substring(0, at), without);
        assertEquals(whole.substring(0, at + stop.length()), with);
        JsonNode chat = fx.parse(fx.post("/v1/chat/completions", "{" + MSG + ", \"stop\": \"e\", \"include_stop_str_in_output\": true}")
                .body()).at("/choices/0");
        if (chat.get("finish_reason").asText().equals("stop")) assertTrue(chat.at("/message/content").asText().endsWith("e"), chat.toString());
    }

    static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** llama.cpp's n_probs: each token's top n alternatives. */
    @Test
    void nProbsAsksForTopAlternatives() throws Exception {
        JsonNode r = fx.parse(fx.post("/v1/chat/completions", "{" + MSG + ", \"n_probs\": 3}").body());
        assertEquals(3, r.at("/choices/0/logprobs/content/0/top_logprobs").size(), r.toString());
    }
}
