package dev.lockstep.chat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Replies written the way each family writes them, including the families whose templates are not
 * in the fixtures (Llama 3.x, Mistral, Granite 3, Firefunction v2, gpt-oss), and malformed or cut
 * calls, which stay text.
 */
class ChatSyntaxTest {
    private static final ToolSpecs TOOLS = ToolSpecs.of(new ObjectMapper().valueToTree(List.of(
            java.util.Map.of("type", "function", "function", java.util.Map.of("name", "get_weather",
                    "parameters", java.util.Map.of("type", "object", "properties", java.util.Map.of(
                            "city", java.util.Map.of("type", "string"), "days", java.util.Map.of("type", "integer"))))))));
    private static final ToolCall PARIS = new ToolCall("get_weather", "{\"city\":\"Paris\"}");

    private static ChatSyntax syntax(String templateMarkers) {
        return ChatSyntax.of(templateMarkers);
    }

    @Test
    void hermesCallsAndTheTextAroundThem() {
        ChatSyntax s = syntax("{{ tools }} <tool_call>");
        assertEquals("hermes", s.family());
        ChatReply r = s.parse("Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", false, TOOLS);
        assertEquals(List.of(PARIS), r.calls());
        assertEquals("Let me look.", r.content());
        // malformed JSON, an unknown tool, a call cut by max_tokens: the reply is text, as written
        for (String bad : List.of("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": </tool_call>",
                "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>", "<tool_call>{\"name\": \"get_wea")) {
            ChatReply b = s.parse(bad, false, TOOLS);
            assertEquals(List.of(), b.calls(), bad);
            assertEquals(bad, b.content());
        }
        // without tools in the request, nothing is read as a call
        assertEquals(List.of(), s.parse("<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>", false, null).calls());
    }

    @Test
    void llama3WritesBareJsonOrAfterPythonTag() {
        ChatSyntax s = syntax("<|start_header_id|>ipython<|end_header_id|> {{ tools }}");
        assertEquals("llama3", s.family());
        assertEquals(List.of(PARIS), s.parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", false, TOOLS).calls());
        assertEquals(List.of(PARIS), s.parse("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", false, TOOLS).calls());
        assertEquals(List.of(PARIS, new ToolCall("get_weather", "{\"city\":\"Rome\"}")), s.parse(
                "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}",
                false, TOOLS).calls());
        // an answer that happens to be JSON is content
        ChatReply json = s.parse("{\"answer\": 42}", false, TOOLS);
        assertEquals(List.of(), json.calls());
        assertEquals("{\"answer\": 42}", json.content());
        assertEquals("The weather is fine.", s.parse("The weather is fine.", false, TOOLS).content());
    }

    @Test
    void mistralGraniteFirefunctionAndDeepSeekR1() {
        assertEquals(List.of(PARIS), syntax("[TOOL_CALLS] tools").parse(
                "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcdefghi\"}]", false, TOOLS).calls());
        assertEquals(List.of(PARIS), syntax("[TOOL_CALLS] [ARGS] tools").parse("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", false, TOOLS).calls());
        assertEquals(List.of(PARIS), syntax("<|tool_call|> tools").parse(
                "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]", false, TOOLS).calls());
        assertEquals(List.of(PARIS), syntax("functools[ tools").parse(
                " functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]", false, TOOLS).calls());
        ChatSyntax r1 = syntax("<｜tool▁sep｜> ```json </think> tools");
        assertEquals("deepseek-r1", r1.family());
        ChatReply r = r1.parse("The user wants the weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
                + "```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", true, TOOLS);
        assertEquals("The user wants the weather.", r.reasoning());
        assertEquals(List.of(PARIS), r.calls());
        assertNull(r.content());
    }

    @Test
    void functionaryV32Recipients() {
        ChatSyntax s = syntax(">>>all >>>${recipient} tools");
        assertEquals("functionary-v3.2", s.family());
        ChatReply r = s.parse("all\nLet me check.>>>get_weather\n{\"city\": \"Paris\"}", false, TOOLS);
        assertEquals(List.of(PARIS), r.calls());
        assertEquals("Let me check.", r.content());
        assertEquals(List.of(PARIS), s.parse("get_weather\n{\"city\": \"Paris\"}", false, TOOLS).calls());
        assertEquals("a story", s.parse("a story", false, TOOLS).content(), "no recipient: text as written");
        assertEquals(List.of(), s.parse("get_weather\n{\"city\": ", false, TOOLS).calls());
        assertEquals("Hello", s.parse("all\nHello", false, null).content(), "without tools too");
    }

    @Test
    void gemma4ArgumentsAreRewrittenAsJson() {
        ChatSyntax s = syntax("'<|tool_call>call:' tools");
        ChatReply r = s.parse("<|tool_call>call:get_weather{city:<|\"|>Paris, \"centre\" {x}<|\"|>,days:3}<tool_call|>", false, TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", "{\"city\":\"Paris, \\\"centre\\\" {x}\",\"days\":3}")), r.calls());
        assertEquals(List.of(), s.parse("<|tool_call>call:get_weather{city:<|\"|>Par}<tool_call|>", false, TOOLS).calls());
    }

    @Test
    void markupArgumentsFollowTheSchemaTypes() {
        ChatSyntax s = syntax("<tool_call> <function= <parameter= tools");
        ChatReply r = s.parse("<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n"
                + "</function>\n</tool_call>", false, TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", "{\"city\":\"Paris\",\"days\":3}")), r.calls());
        // text between arguments is not an argument: the reply stays text
        assertEquals(List.of(), s.parse("<tool_call>\n<function=get_weather>\nhello<parameter=city>Paris</parameter>\n</function>\n</tool_call>",
                false, TOOLS).calls());
    }

    @Test
    void gptOssChannels() {
        ChatSyntax s = syntax("<|channel|> tools");
        assertEquals("gpt-oss", s.family());
        ChatReply r = s.parse("<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather "
                + "<|constrain|>json<|message|>{\"city\":\"Paris\"}", false, TOOLS);
        assertEquals("Need weather.", r.reasoning());
        assertEquals(List.of(PARIS), r.calls());
        ChatReply answer = s.parse("<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>Hello!", false, TOOLS);
        assertEquals("Easy.", answer.reasoning());
        assertEquals("Hello!", answer.content());
    }

    @Test
    void thinkingOpenedByThePromptOrByTheModel() {
        ChatSyntax s = syntax("<think></think> {{ messages }}");
        assertEquals("none", s.family());
        assertEquals(true, s.opensThinking("<|im_start|>assistant\n<think>\n"));
        ChatReply opened = s.parse("Let me think.\n</think>\n\nHello!", true, null);
        assertEquals("Let me think.", opened.reasoning());
        assertEquals("Hello!", opened.content());
        ChatReply own = s.parse("<think>Hmm.</think>Hi", false, null);
        assertEquals("Hmm.", own.reasoning());
        assertEquals("Hi", own.content());
        ChatReply cut = s.parse("Still thinking when max_tokens came", true, null); // cut short inside the thinking
        assertEquals("Still thinking when max_tokens came", cut.reasoning());
        assertEquals("", cut.content());
        assertNull(s.parse("Plain answer", false, null).reasoning());
    }

    /** Streamed in pieces of every size, the deltas add up to what the whole reply parses to, and no call text is shown as content. */
    @Test
    void streamingShowsContentUpToACallAndThinkingAsItComes() {
        ChatSyntax s = syntax("<tool_call> </think> tools");
        String reply = "Okay.</think>Checking now. <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>";
        for (int piece = 1; piece <= 7; piece++) {
            ReplyStream st = s.stream(true, TOOLS);
            StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
            List<String> shown = new ArrayList<>();
            for (int i = 0; i < reply.length(); i += piece) {
                ReplyStream.Delta d = st.push(reply.substring(i, Math.min(reply.length(), i + piece)));
                reasoning.append(d.reasoning());
                content.append(d.content());
                shown.add(d.content());
            }
            ReplyStream.Finished f = st.finish();
            reasoning.append(f.delta().reasoning());
            content.append(f.delta().content());
            assertEquals(List.of(PARIS), f.reply().calls());
            assertEquals("Okay.", reasoning.toString(), "piece " + piece);
            assertEquals("Checking now.", content.toString().strip(), "piece " + piece);
            for (String c : shown) assertEquals(false, c.contains("<") || c.contains("{"), "call text shown: " + shown);
        }
    }
}
