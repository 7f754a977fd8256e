package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ResponseStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OpenAI's Responses API, through the official Java SDK: the same text as the chat endpoint, streamed or not. */
class ResponsesTest {
    static ServerFixture fx;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        fx = new ServerFixture();
        client = fx.sdk();
    }

    @AfterAll
    static void stop() {
        fx.close();
    }

    @Test
    void aResponseIsTheChatReplyToTheSameMessages() throws Exception {
        Response r = client.responses().create(ResponseCreateParams.builder().model(ServerFixture.MODEL_ID)
                .instructions("Be brief.").input("Tell me a story").maxOutputTokens(12).temperature(0.0).build());
        assertEquals(ResponseStatus.INCOMPLETE, r.status().orElseThrow(), "cut by max_output_tokens");
        assertEquals("max_output_tokens", r.incompleteDetails().orElseThrow().reason().orElseThrow().asString());
        String text = r.output().get(0).asMessage().content().get(0).asOutputText().text();
        ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                .addSystemMessage("Be brief.").addUserMessage("Tell me a story").maxCompletionTokens(12).temperature(0.0).build());
        assertEquals(c.choices().get(0).message().content().orElseThrow(), text);
        assertEquals(12, r.usage().orElseThrow().outputTokens());
        assertEquals(c.usage().orElseThrow().promptTokens(), r.usage().orElseThrow().inputTokens());

        // streamed: the deltas add up to the same text, and the last event is the whole response
        StringBuilder streamed = new StringBuilder();
        Response last = null;
        try (StreamResponse<ResponseStreamEvent> s = client.responses().createStreaming(ResponseCreateParams.builder()
                .model(ServerFixture.MODEL_ID).instructions("Be brief.").input("Tell me a story").maxOutputTokens(12).temperature(0.0).build())) {
            for (ResponseStreamEvent e : (Iterable<ResponseStreamEvent>) s.stream()::iterator) {
                e.outputTextDelta().ifPresent(d -> streamed.append(d.delta()));
                if (e.isIncomplete()) last = e.asIncomplete().response();
            }
        }
        assertEquals(text, streamed.toString());
        assertEquals(text, last.output().get(0).asMessage().content().get(0).asOutputText().text());
    }

    @Test
    void formatsToolsAndErrors() throws Exception {
        // a JSON schema (flattened in text.format, as the Responses API has it)
        String schema = "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}}, \"required\": [\"ok\"]}";
        JsonNode r = fx.parse(fx.post("/v1/responses", "{\"input\": \"x\", \"max_output_tokens\": 80, \"text\": {\"format\": "
                + "{\"type\": \"json_schema\", \"name\": \"a\", \"schema\": " + schema + "}}}").body());
        assertEquals("completed", r.get("status").asText(), r.toString());
        assertTrue(fx.parse(r.at("/output/0/content/0/text").asText()).get("ok").isBoolean(), r.toString());

        // a forced function call comes back as a function_call item
        JsonNode call = fx.parse(fx.post("/v1/responses", "{\"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"time?\"}]}],"
                + " \"max_output_tokens\": 60, \"tools\": [{\"type\": \"function\", \"name\": \"get_time\"}], \"tool_choice\": \"required\"}").body());
        assertEquals("function_call", call.at("/output/0/type").asText(), call.toString());
        assertEquals("get_time", call.at("/output/0/name").asText());
        assertTrue(call.at("/output/0/call_id").asText().startsWith("call_"));
        // and a conversation with its output goes back as input items
        HttpResponse<String> next = fx.post("/v1/responses", "{\"input\": [{\"role\": \"user\", \"content\": \"time?\"}, {\"type\": \"function_call\", "
                + "\"call_id\": \"call_1\", \"name\": \"get_time\", \"arguments\": \"{}\"}, {\"type\": \"function_call_output\", \"call_id\": \"call_1\","
                + " \"output\": \"noon\"}], \"max_output_tokens\": 4}");
        assertEquals(200, next.statusCode(), next.body());

        HttpResponse<String> bad = fx.post("/v1/responses", "{\"input\": \"x\", \"previous_response_id\": \"resp_1\"}");
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("stores no responses"), bad.body());
        bad = fx.post("/v1/responses", "{\"input\": \"x\", \"tools\": [{\"type\": \"web_search\"}]}");
        assertEquals(400, bad.statusCode());
        assertEquals("tools[0].type", fx.parse(bad.body()).at("/error/param").asText());
        bad = fx.post("/v1/responses", "{\"input\": \"x\", \"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"a\", \"schema\": "
                + "{\"type\": \"object\", \"properties\": {\"z\": {\"type\": \"string\", \"format\": \"email\"}}}}}}");
        assertEquals(400, bad.statusCode());
        assertEquals("text.format", fx.parse(bad.body()).at("/error/param").asText());
        bad = fx.post("/v1/responses", "{\"max_output_tokens\": 4}");
        assertEquals("input", fx.parse(bad.body()).at("/error/param").asText());
    }
}
