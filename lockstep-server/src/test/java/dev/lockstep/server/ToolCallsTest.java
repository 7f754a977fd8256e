package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.gguf.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tool_choice "auto": the Hermes calls of a reply read back as tool_calls, and a template that has them. */
class ToolCallsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOOLS = "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}},"
            + " {\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}]";

    private static ToolCalls auto() throws Exception {
        return ToolCalls.parse(new Fields(JSON.readTree("{\"tools\": " + TOOLS + "}")), JSON, true);
    }

    private static ToolCalls.Reply reply(String text) throws Exception {
        AtomicInteger n = new AtomicInteger();
        return auto().reply(text, () -> "call_" + n.incrementAndGet(), JSON);
    }

    @Test
    void hermesBlocksBecomeToolCallsAndTheRestStaysContent() throws Exception {
        ToolCalls.Reply r = reply("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
        assertEquals("Let me check.", r.content());
        assertEquals(1, r.calls().size());
        assertEquals("call_1", r.calls().get(0).get("id").asText());
        assertEquals("get_weather", r.calls().at("/0/function/name").asText());
        assertEquals("{\"city\":\"Paris\"}", r.calls().at("/0/function/arguments").asText());

        r = reply("<tool_call>{\"name\": \"get_time\"}</tool_call>\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>");
        assertEquals(null, r.content());
        assertEquals(2, r.calls().size());
        assertEquals("{}", r.calls().at("/0/function/arguments").asText());
        assertEquals("call_2", r.calls().get(1).get("id").asText());

        for (String text : new String[]{"no call here", "<tool_call>{\"name\": \"get_weather\", </tool_call>",
                "<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>", "<tool_call>{\"name\": \"get_time\", \"arguments\": 5}</tool_call>"}) {
            ToolCalls.Reply plain = reply(text);
            assertEquals(text, plain.content(), "not a well-formed call of a listed tool: the text stays text");
            assertTrue(plain.calls().isEmpty());
        }
    }

    @Test
    void autoNeedsATemplateWithACallSyntax() {
        ApiException e = assertThrows(ApiException.class,
                () -> ToolCalls.parse(new Fields(JSON.readTree("{\"tools\": " + TOOLS + ", \"tool_choice\": \"auto\"}")), JSON, false));
        assertTrue(e.getMessage().contains("Hermes <tool_call>"), e.getMessage());
    }

    /** A copy of the fixture model with a Hermes template: "auto" is served, and the tools reach the prompt. */
    @Test
    void autoIsServedWithAHermesTemplate(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("hermes.gguf");
        try (GgufFile src = GgufFile.open(ServerFixture.MODEL)) {
            GgufWriter w = new GgufWriter().copyMetadata(src, "");
            w.putString("tokenizer.chat_template", "{%- if tools %}<tools>{% for t in tools %}{{ t.function.name }} {% endfor %}</tools>\n"
                    + "{%- endif %}{% for m in messages %}{% if m.role == 'tool' %}<tool_response>{{ m.content }}</tool_response>"
                    + "{% elif m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{\"name\": \"{{ c.function.name }}\"}</tool_call>{% endfor %}"
                    + "{% else %}{{ m.role }}: {{ m.content }}\n{% endif %}{% endfor %}assistant:");
            for (TensorInfo t : src.tensors().values())
                w.addRaw(t.name(), t.type(), t.dims(), src.tensorData(t).toArray(ValueLayout.JAVA_BYTE));
            w.write(model);
        }
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
}
