package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import dev.lockstep.engine.EngineConfig;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per family, a copy of the fixture model carrying that family's real published template, served: a
 * conversation with tools, an assistant call and the tool's result renders into the prompt in the
 * family's own syntax (read back from the prompt's token ids), and the reply comes back. (The fixture
 * model's 512-token SentencePiece vocabulary reads DeepSeek's {@code ▁} as a space, so that marker is
 * checked up to it.)
 */
class ToolFamiliesServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONVERSATION = "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
            + " {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"call_1\", \"type\": \"function\", \"function\": "
            + "{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
            + " {\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"name\": \"get_weather\", \"content\": \"18 C\"}],"
            + " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather\","
            + " \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}],"
            + " \"max_tokens\": 3, \"return_token_ids\": true}";

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "Qwen3.5-4B|<function=get_weather>",
            "GLM-4.6|<arg_key>city</arg_key>",
            "deepseek-ai-DeepSeek-V3.1|get_weather<｜tool",
            "moonshotai-Kimi-K2|functions.get_weather:0",
            "meetkai-functionary-medium-v3.1|<function=get_weather>",
            "ibm-granite-granite-4.1|<tool_call>",
            "MiniMax-M2|<invoke name=\"get_weather\">",
            "google-gemma-4-31B-it|call:get_weather{",
            "NVIDIA-Nemotron-Nano-v2|<TOOLCALL>"})
    void aToolConversationRendersInTheFamilysSyntax(String template, String written, @TempDir Path tmp) throws Exception {
        Path model = ToolCallsTest.copy(tmp.resolve("m.gguf"), Files.readString(Fixtures.file("templates/" + template + ".jinja")), 8192);
        ServerFixture fx = new ServerFixture(model, EngineConfig.defaults().withThreads(2).withKvCacheBytes(64L << 20),
                OpenAiServer.Options.defaults(), null);
        try {
            HttpResponse<String> r = fx.post("/v1/chat/completions", CONVERSATION);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode reply = fx.parse(r.body());
            String prompt = fx.parse(fx.post("/detokenize", "{\"tokens\": " + reply.get("prompt_token_ids") + "}").body()).get("prompt").asText();
            assertTrue(prompt.contains(written), template + " writes the call as " + written + ":\n" + prompt);
            assertTrue(prompt.contains("Current weather"), "the tools are in the prompt");
            // a template that does not list tools gets them in the system message, without another family's call syntax
            assertEquals(!prompt.contains("Tools: [{"), Files.readString(Fixtures.file("templates/" + template + ".jinja")).contains("tools"));
            assertTrue(!prompt.contains("To call one, reply <tool_call>"), prompt);
            assertTrue(prompt.contains("18 C"), "and the tool's result");
            assertTrue(reply.at("/choices/0/message").has("content"), reply.toString());
        } finally {
            fx.close();
        }
    }
}
