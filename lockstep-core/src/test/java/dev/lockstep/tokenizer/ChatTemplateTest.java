package dev.lockstep.tokenizer;

import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.tokenizer.ChatTemplate.Message;
import org.junit.jupiter.api.Test;

import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {
    private static final List<Message> CHAT = List.of(new Message("system", "Be brief."), new Message("user", " Hi there! "));

    @Test
    void llama3TemplateFromTheModelFile() {
        try (GgufFile f = GgufFile.open(Fixtures.file("models/vocab-llama3-llama-q8_0.gguf"))) {
            ChatTemplate t = ChatTemplate.forModel(f, Tokenizer.fromGguf(f));
            assertFalse(t.isDefault());
            assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n", t.render(CHAT, true));
        }
    }

    @Test
    void qwenTemplateAddsDefaultSystemPrompt() {
        try (GgufFile f = GgufFile.open(Fixtures.file("vocab/ggml-vocab-qwen2.gguf"))) {
            ChatTemplate t = ChatTemplate.forModel(f, Tokenizer.fromGguf(f));
            assertEquals("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n"
                    + "<|im_start|>assistant\n", t.render(List.of(new Message("user", "hello")), true));
        }
    }

    @Test
    void fileWithoutTemplateUsesChatML() {
        try (GgufFile f = GgufFile.open(Fixtures.file("aidreams/aidreams260K-f32.gguf"))) {
            ChatTemplate t = ChatTemplate.forModel(f, Tokenizer.fromGguf(f));
            assertTrue(t.isDefault());
            assertEquals("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
                    t.render(List.of(new Message("user", "hello")), true));
            assertEquals("<|im_start|>user\nhello<|im_end|>\n", t.render(List.of(new Message("user", "hello")), false));
        }
    }

    @Test
    void pythonStringAndDictMethods() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{% if m.content.strip().startswith('Hi') %}[{{ m.content.strip().upper() }}]"
                + "{% endif %}{{ m['content'].split(' ')|length }};{{ m.content.lstrip().rstrip('! ') }}|{% endfor %}"
                + "{% set d = {'a': 1} %}{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}{{ d.get('b', 'none') }}"
                + "{% for m in messages[::-1] %}{{ m.role }}{% endfor %}", "<s>", "</s>");
        assertEquals("2;Be brief.|[HI THERE!]4;Hi there|a=1noneusersystem", t.render(CHAT, false));
    }

    @Test
    void raiseExceptionIsAClearError() {
        ChatTemplate t = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}", "", "");
        var e = assertThrows(ChatTemplate.ChatTemplateException.class, () -> t.render(CHAT, true));
        assertTrue(e.getMessage().contains("Conversation must start with user"), e.getMessage());
    }

    @Test
    void brokenTemplateIsAClearError() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{{ m.content }", "", "");
        var e = assertThrows(ChatTemplate.ChatTemplateException.class, () -> t.render(CHAT, true));
        assertTrue(e.getMessage().startsWith("the chat template cannot be rendered"), e.getMessage());
    }

    @Test
    void strftimeNowAndTojson() {
        ChatTemplate t = new ChatTemplate("{{ strftime_now('%d %b %Y') }}|{{ {'a': [1, 2], 'b': 'x'} | tojson }}", "", "");
        String today = LocalDate.now().format(DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH));
        assertEquals(today + "|{\"a\": [1, 2], \"b\": \"x\"}", t.render(List.of(), false));
    }

    /** Tools and tool calls reach the template as Hugging Face passes them (tools, message.tool_calls, tool_call_id). */
    @Test
    void toolsAndToolCallsReachTheTemplate() {
        ChatTemplate t = new ChatTemplate("{%- if tools %}<tools>{% for tool in tools %}{{ tool.function.name }};{% endfor %}</tools>{% endif %}"
                + "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function.name }}({{ c.function.arguments.city }})</call>"
                + "{% endfor %}{% elif m.role == 'tool' %}<result for={{ m.tool_call_id }}>{{ m.content }}</result>{% else %}{{ m.content }}{% endif %}{% endfor %}",
                "<s>", "</s>");
        List<Map<String, Object>> tools = List.of(Map.of("type", "function", "function", Map.of("name", "get_weather")));
        String out = t.render(List.of(new ChatTemplate.Message("user", "Weather in Paris?"),
                new ChatTemplate.Message("assistant", "", Map.of("tool_calls", List.of(Map.of("id", "call_1", "type", "function",
                        "function", Map.of("name", "get_weather", "arguments", Map.of("city", "Paris")))))),
                new ChatTemplate.Message("tool", "sunny", Map.of("tool_call_id", "call_1"))), true, tools);
        assertEquals("<tools>get_weather;</tools>Weather in Paris?<call>get_weather(Paris)</call><result for=call_1>sunny</result>", out);
    }
}
