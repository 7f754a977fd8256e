package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every reply shape of every endpoint against the schema OpenAI publishes for it
 * ({@link OpenApiShapes}): chat completions plain, with logprobs, with several choices and with a
 * tool call, every chunk of a stream; text completions with logprobs and echo; Responses with text
 * and with a function call; embeddings; the model list.
 */
class OpenApiShapesTest {
    static ServerFixture fx;
    static final String MSG = "\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], \"max_tokens\": 6";
    static final String TOOL = "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": "
            + "{\"type\": \"object\", \"properties\": {}}}}]";

    @BeforeAll
    static void start() throws Exception {
        fx = new ServerFixture();
    }

    @AfterAll
    static void stop() {
        fx.close();
    }

    private static JsonNode ok(String path, String body) throws Exception {
        HttpResponse<String> r = fx.post(path, body);
        assertEquals(200, r.statusCode(), r.body());
        return fx.parse(r.body());
    }

    @Test
    void chatCompletions() throws Exception {
        OpenApiShapes.assertValid("CreateChatCompletionResponse", ok("/v1/chat/completions", "{" + MSG + "}"));
        OpenApiShapes.assertValid("CreateChatCompletionResponse", ok("/v1/chat/completions", "{" + MSG + ", \"logprobs\": true, "
                + "\"top_logprobs\": 2, \"n\": 2}"));
        JsonNode called = ok("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"time?\"}], \"max_tokens\": 60, "
                + TOOL + ", \"tool_choice\": \"required\"}");
        assertEquals("tool_calls", called.at("/choices/0/finish_reason").asText(), called.toString());
        OpenApiShapes.assertValid("CreateChatCompletionResponse", called);
    }

    @Test
    void chatCompletionChunks() throws Exception {
        String called = MSG.replace("\"max_tokens\": 6", "\"max_tokens\": 60") + ", " + TOOL + ", \"tool_choice\": \"required\"";
        for (String body : new String[]{MSG, MSG + ", \"logprobs\": true, \"top_logprobs\": 1", called}) {
            int chunks = 0, calls = 0;
            for (String line : fx.post("/v1/chat/completions", "{" + body + ", \"stream\": true, \"stream_options\": "
                    + "{\"include_usage\": true}}").body().split("\n")) {
                if (!line.startsWith("data: {")) continue;
                JsonNode chunk = fx.parse(line.substring(6));
                OpenApiShapes.assertValid("CreateChatCompletionStreamResponse", chunk);
                chunks++;
                if (chunk.at("/choices/0/delta/tool_calls").isArray()) calls++;
            }
            assertTrue(chunks >= 3, "chunks: " + chunks);
            assertEquals(body == called ? 2 : 0, calls, "a call's id and name, then its arguments");
        }
    }

    @Test
    void textCompletions() throws Exception {
        OpenApiShapes.assertValid("CreateCompletionResponse", ok("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 5}"));
        OpenApiShapes.assertValid("CreateCompletionResponse", ok("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 5, "
                + "\"logprobs\": 2}"));
        // One difference, on purpose: echoed, the prompt's first token has no logprob (nothing comes before it), and
        // its entries are null, as OpenAI's own API and vLLM send them; the published schema allows only numbers there.
        JsonNode echo = ok("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 5, \"logprobs\": 2, \"echo\": true}");
        com.fasterxml.jackson.databind.node.ObjectNode lp = (com.fasterxml.jackson.databind.node.ObjectNode) echo.at("/choices/0/logprobs");
        assertTrue(lp.get("token_logprobs").get(0).isNull() && lp.get("top_logprobs").get(0).isNull(), lp.toString());
        ((com.fasterxml.jackson.databind.node.ArrayNode) lp.get("token_logprobs")).set(0, 0.0);
        ((com.fasterxml.jackson.databind.node.ArrayNode) lp.get("top_logprobs")).set(0, lp.objectNode());
        OpenApiShapes.assertValid("CreateCompletionResponse", echo);
    }

    @Test
    void responses() throws Exception {
        OpenApiShapes.assertValid("Response", ok("/v1/responses", "{\"input\": \"Hello\", \"max_output_tokens\": 6}"));
        JsonNode called = ok("/v1/responses", "{\"input\": \"time?\", \"max_output_tokens\": 60, \"tools\": [{\"type\": \"function\", "
                + "\"name\": \"get_time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}], \"tool_choice\": \"required\"}");
        assertEquals("function_call", called.at("/output/0/type").asText(), called.toString());
        OpenApiShapes.assertValid("Response", called);
    }

    /** Every event of a streamed response, with text and with a function call. */
    @Test
    void responseStreamEvents() throws Exception {
        for (String body : new String[]{"{\"input\": \"Hello\", \"max_output_tokens\": 6, \"stream\": true}",
                "{\"input\": \"time?\", \"max_output_tokens\": 60, \"stream\": true, \"tools\": [{\"type\": \"function\", "
                        + "\"name\": \"get_time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}], \"tool_choice\": \"required\"}"}) {
            int events = 0;
            for (String line : fx.post("/v1/responses", body).body().split("\n")) {
                if (!line.startsWith("data: {")) continue;
                OpenApiShapes.assertValid("ResponseStreamEvent", fx.parse(line.substring(6)));
                events++;
            }
            assertTrue(events >= 5, "events: " + events);
        }
    }

    /** A model whose template opens its thinking: reasoning_content in chat, a reasoning item in Responses. */
    @Test
    void replyWithReasoning(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        ServerFixture thinking = new ServerFixture(ToolCallsTest.copy(tmp.resolve("t.gguf"), "{% for m in messages %}{{ m.content }}\n"
                + "{% endfor %}<think>\n{# </think> #}"), dev.lockstep.engine.EngineConfig.defaults().withThreads(2)
                .withKvCacheBytes(16L << 20), OpenAiServer.Options.defaults(), null);
        try {
            JsonNode chat = fx.parse(thinking.post("/v1/chat/completions", "{" + MSG + "}").body());
            assertTrue(chat.at("/choices/0/message/reasoning_content").isTextual(), chat.toString());
            OpenApiShapes.assertValid("CreateChatCompletionResponse", chat);
            for (String line : thinking.post("/v1/chat/completions", "{" + MSG + ", \"stream\": true}").body().split("\n"))
                if (line.startsWith("data: {")) OpenApiShapes.assertValid("CreateChatCompletionStreamResponse", fx.parse(line.substring(6)));
            JsonNode response = fx.parse(thinking.post("/v1/responses", "{\"input\": \"Hello\", \"max_output_tokens\": 6}").body());
            assertEquals("reasoning", response.at("/output/0/type").asText(), response.toString());
            OpenApiShapes.assertValid("Response", response);
            for (String line : thinking.post("/v1/responses", "{\"input\": \"Hello\", \"max_output_tokens\": 6, \"stream\": true}").body()
                    .split("\n"))
                if (line.startsWith("data: {")) OpenApiShapes.assertValid("ResponseStreamEvent", fx.parse(line.substring(6)));
        } finally {
            thinking.close();
        }
    }

    @Test
    void embeddingsAndModels() throws Exception {
        OpenApiShapes.assertValid("CreateEmbeddingResponse", ok("/v1/embeddings", "{\"input\": [\"a\", \"b c\"]}"));
        OpenApiShapes.assertValid("ListModelsResponse", fx.parse(fx.get("/v1/models").body()));
    }
}
