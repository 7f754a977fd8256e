package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.chat.ChatReply;
import dev.lockstep.chat.ChatSyntax;
import dev.lockstep.chat.ToolCall;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.gguf.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tool_choice "auto": calls read back in the template's family syntax, cut and malformed calls, a
 * template that does not show tools, and a Hermes template served end to end.
 */
class ToolCallsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOOLS = "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}},"
            + " {\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}]";
    static final ChatSyntax HERMES = ChatSyntax.of("{{ tools }}<tool_call>");

    private static ToolCalls auto() throws Exception {
        return ToolCalls.parse(new Fields(JSON.readTree("{\"tools\": " + TOOLS + "}")), JSON);
    }

    private static ChatReply reply(String text, FinishReason reason) throws Exception {
        return ToolCalls.read(HERMES, auto(), text, reason, false);
    }

    @Test
    void callsBecomeToolCallsAndTheRestStaysContent() throws Exception {
        ChatReply r = reply("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", FinishReason.STOP);
        assertEquals("Let me check.", r.content());
        assertEquals(List.of(new ToolCall("get_weather", "{\"city\":\"Paris\"}")), r.calls());
        AtomicInteger n = new AtomicInteger();
        JsonNode json = ToolCalls.toJson(r.calls(), () -> "call_" + n.incrementAndGet(), JSON);
        assertEquals("call_1", json.at("/0/id").asText());
        assertEquals("function", json.at("/0/type").asText());
        assertEquals("{\"city\":\"Paris\"}", json.at("/0/function/arguments").asText(), "OpenAI's arguments are a JSON string");

        r = reply("<tool_call>{\"name\": \"get_time\"}</tool_call>\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>", FinishReason.STOP);
        assertNull(r.content());
        assertEquals(List.of(new ToolCall("get_time", "{}"), new ToolCall("get_weather", "{}")), r.calls());

        for (String text : new String[]{"no call here", "<tool_call>{\"name\": \"get_weather\", </tool_call>",
                "<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>", "<tool_call>{\"name\": \"get_time\", \"arguments\": 5}</tool_call>"}) {
            ChatReply plain = reply(text, FinishReason.STOP);
            assertEquals(text, plain.content(), "not a well-formed call of a listed tool: the text stays text");
            assertTrue(plain.calls().isEmpty());
        }
    }

    /** A reply cut by max_tokens inside a call: no half call, in calls or in content. */
    @Test
    void aCallCutShortIsNeitherCallNorContent() throws Exception {
        ChatReply r = reply("Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"argu", FinishReason.LENGTH);
        assertEquals("Checking.\n", r.content());
        assertTrue(r.calls().isEmpty());
        // a forced call cut short: no content at all
        ToolCalls forced = ToolCalls.parse(new Fields(JSON.readTree("{\"tools\": " + TOOLS + ", \"tool_choice\": \"required\"}")), JSON);
        ChatReply f = ToolCalls.read(HERMES, forced, "{\"name\": \"get_weather\", \"arguments\": {\"ci", FinishReason.LENGTH, false);
        assertNull(f.content());
        assertTrue(f.calls().isEmpty());
    }

    /** A template that never shows tools (ChatML here) still serves tools: they are described in the system prompt. */
    @Test
    void toolsReachAModelWhoseTemplateDoesNotShowThem(@TempDir Path tmp) throws Exception {
        ServerFixture fx = new ServerFixture(copy(tmp.resolve("long.gguf"), null), EngineConfig.defaults().withThreads(2)
                .withKvCacheBytes(16L << 20), OpenAiServer.Options.defaults(), null);
        try {
            String msgs = "\"messages\": [{\"role\": \"user\", \"content\": \"Weather?\"}], \"max_tokens\": 6, \"temperature\": 0";
            HttpResponse<String> with = fx.post("/v1/chat/completions", "{" + msgs + ", \"tools\": " + TOOLS + "}");
            assertEquals(200, with.statusCode(), with.body());
            JsonNode plain = fx.parse(fx.post("/v1/chat/completions", "{" + msgs + "}").body());
            int toolsTokens = fx.parse(with.body()).at("/usage/prompt_tokens").asInt(), noTools = plain.at("/usage/prompt_tokens").asInt();
            assertTrue(toolsTokens > noTools + 20, "the tools are described in the prompt: " + toolsTokens + " vs " + noTools);
            assertTrue(fx.parse(with.body()).at("/choices/0/message/content").isTextual(), with.body());
            // what every agent framework sends: tools, no tool_choice (the official SDK here)
            var c = fx.sdk().chat().completions().create(com.openai.models.chat.completions.ChatCompletionCreateParams.builder()
                    .model(fx.parse(fx.get("/v1/models").body()).at("/data/0/id").asText()).addUserMessage("Weather?").maxCompletionTokens(4)
                    .addFunctionTool(com.openai.models.FunctionDefinition.builder().name("get_weather").build()).build());
            assertTrue(c.choices().get(0).message().content().isPresent());
            // the turn after a call: the assistant's call and the tool's result go back through the template (the SDK's types)
            var call = com.openai.models.chat.completions.ChatCompletionMessageToolCall.ofFunction(
                    com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall.builder().id("call_1")
                            .function(com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall.Function.builder()
                                    .name("get_weather").arguments("{\"city\": \"Paris\"}").build()).build());
            var after = fx.sdk().chat().completions().create(com.openai.models.chat.completions.ChatCompletionCreateParams.builder()
                    .model(fx.parse(fx.get("/v1/models").body()).at("/data/0/id").asText()).addUserMessage("Weather?")
                    .addMessage(com.openai.models.chat.completions.ChatCompletionAssistantMessageParam.builder().toolCalls(List.of(call)).build())
                    .addMessage(com.openai.models.chat.completions.ChatCompletionToolMessageParam.builder().toolCallId("call_1")
                            .content("18 degrees").build())
                    .maxCompletionTokens(4).addFunctionTool(com.openai.models.FunctionDefinition.builder().name("get_weather").build()).build());
            assertTrue(after.choices().get(0).message().content().isPresent());
        } finally {
            fx.close();
        }
    }

    /** A copy of the fixture model with a Hermes template: "auto" is served, and the tools reach the prompt. */
    @Test
    void autoIsServedWithAHermesTemplate(@TempDir Path tmp) throws Exception {
        Path model = copy(tmp.resolve("hermes.gguf"), "{%- if tools %}<tools>{% for t in tools %}{{ t.function.name }} {% endfor %}</tools>\n"
                + "{%- endif %}{% for m in messages %}{% if m.role == 'tool' %}<tool_response>{{ m.content }}</tool_response>"
                + "{% elif m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{\"name\": \"{{ c.function.name }}\"}</tool_call>{% endfor %}"
                + "{% else %}{{ m.role }}: {{ m.content }}\n{% endif %}{% endfor %}assistant:");
        ServerFixture fx = new ServerFixture(model, EngineConfig.defaults().withThreads(2).withKvCacheBytes(16L << 20),
                OpenAiServer.Options.defaults(), null);
        try {
            String msgs = "\"messages\": [{\"role\": \"user\", \"content\": \"Weather?\"}], \"max_tokens\": 6, \"temperature\": 0";
            HttpResponse<String> with = fx.post("/v1/chat/completions", "{" + msgs + ", \"tools\": " + TOOLS + "}");
            assertEquals(200, with.statusCode(), with.body());
            JsonNode plain = fx.parse(fx.post("/v1/chat/completions", "{" + msgs + "}").body());
            int toolsTokens = fx.parse(with.body()).at("/usage/prompt_tokens").asInt(), noTools = plain.at("/usage/prompt_tokens").asInt();
            assertTrue(toolsTokens > noTools + 10, "the tools are in the prompt: " + toolsTokens + " vs " + noTools);
            // a conversation with a call and its result renders in the template's syntax
            String history = "{\"messages\": [{\"role\": \"user\", \"content\": \"time?\"}, {\"role\": \"assistant\", \"content\": null,"
                    + " \"tool_calls\": [{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"get_time\", \"arguments\": \"{}\"}}]},"
                    + " {\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"noon\"}], \"tools\": " + TOOLS + ", \"max_tokens\": 4}";
            assertEquals(200, fx.post("/v1/chat/completions", history).statusCode());
        } finally {
            fx.close();
        }
    }

    /**
     * Streaming with tools is incremental (content arrives in many chunks, and equals the reply
     * without streaming); a template that opens {@code <think>} makes the reply reasoning_content,
     * streamed as delta.reasoning_content.
     */
    @Test
    void contentAndThinkingStreamAsTheyCome(@TempDir Path tmp) throws Exception {
        Path hermes = copy(tmp.resolve("h.gguf"), "{% if tools %}<tools>{{ tools | length }}</tools>{% endif %}<tool_call>"
                .replace("<tool_call>", "{# <tool_call> #}") + "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:");
        Path thinking = copy(tmp.resolve("t.gguf"), "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant: <think>\n"
                + "{# </think> #}");
        for (Path model : List.of(hermes, thinking)) {
            ServerFixture fx = new ServerFixture(model, EngineConfig.defaults().withThreads(2).withKvCacheBytes(16L << 20),
                    OpenAiServer.Options.defaults(), null);
            try {
                String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"Once upon a time\"}], \"max_tokens\": 24, \"seed\": 1"
                        + (model == hermes ? ", \"tools\": " + TOOLS : "");
                JsonNode whole = fx.parse(fx.post("/v1/chat/completions", body + "}").body()).at("/choices/0/message");
                StringBuilder content = new StringBuilder(), reasoning = new StringBuilder();
                int pieces = 0;
                for (String line : fx.post("/v1/chat/completions", body + ", \"stream\": true}").body().split("\n")) {
                    if (!line.startsWith("data: {")) continue;
                    JsonNode d = fx.parse(line.substring(6)).at("/choices/0/delta");
                    if (d.path("content").asText("").length() + d.path("reasoning_content").asText("").length() > 0) pieces++;
                    content.append(d.path("content").asText(""));
                    reasoning.append(d.path("reasoning_content").asText(""));
                }
                assertTrue(pieces > 3, "streamed as it came: " + pieces + " pieces");
                if (model == hermes) {
                    assertEquals(whole.get("content").asText(), content.toString());
                    assertTrue(whole.get("content").asText().length() > 10, whole.toString());
                } else {
                    // the official SDK sees it too, as the extra field vLLM and llama.cpp send
                    var sdk = fx.sdk().chat().completions().create(com.openai.models.chat.completions.ChatCompletionCreateParams.builder()
                            .model(fx.parse(fx.get("/v1/models").body()).at("/data/0/id").asText()).addUserMessage("Once upon a time")
                            .maxCompletionTokens(24).seed(1).build());
                    assertEquals(whole.get("reasoning_content").asText(),
                            sdk.choices().get(0).message()._additionalProperties().get("reasoning_content").asString().orElseThrow());
                    assertEquals(whole.get("reasoning_content").asText(), reasoning.toString().strip());
                    assertTrue(reasoning.length() > 10, whole.toString());
                    assertEquals("", whole.get("content").asText(), "the thinking never closed: all of it is reasoning");
                }
            } finally {
                fx.close();
            }
        }
    }

    /**
     * The fixture model with another chat template (null: none) and a 1024-token context (its RoPE
     * positions work past the 128 it was trained to; prompts with tools are long for its 512-token vocabulary).
     */
    static Path copy(Path to, String template) throws Exception {
        return copy(to, template, 1024);
    }

    /** As {@link #copy(Path, String)}, with a context of {@code context} tokens. */
    static Path copy(Path to, String template, int context) throws Exception {
        try (GgufFile src = GgufFile.open(ServerFixture.MODEL)) {
            GgufWriter w = new GgufWriter().copyMetadata(src, "");
            if (template != null) w.putString("tokenizer.chat_template", template);
            w.putUInt32("llama.context_length", context);
            for (TensorInfo t : src.tensors().values())
                w.addRaw(t.name(), t.type(), t.dims(), src.tensorData(t).toArray(ValueLayout.JAVA_BYTE));
            w.write(to);
        }
        return to;
    }
}
