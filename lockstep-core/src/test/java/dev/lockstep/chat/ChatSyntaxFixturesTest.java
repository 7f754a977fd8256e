package dev.lockstep.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import dev.lockstep.tokenizer.ChatTemplate;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every published template of the fixtures against its own syntax: the template renders an assistant
 * turn that calls tools (one call, then two), the turn's text is what a model trained on it writes,
 * and reading it back must give the same calls and no leftover content; the same turn cut short inside
 * its arguments, or calling a tool that was not offered, gives no call and keeps the text. This is how
 * the parsers are checked against what the families really write, not against our idea of it.
 */
class ChatSyntaxFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<Map<String, Object>> TOOLS = List.of(tool("get_weather", "city", "string"), tool("get_time", "zone", "string"));
    private static final ToolSpecs SPECS = ToolSpecs.of(JSON.valueToTree(TOOLS));

    /** Templates whose family this server detects, by family. */
    private static final Map<String, String> FAMILY = new TreeMap<>(Map.ofEntries(
            Map.entry("Apertus-8B-Instruct", "apertus"), Map.entry("Apriel-1.6-15b-Thinker-fixed", "tool-calls-block"),
            Map.entry("ByteDance-Seed-OSS", "seed-oss"), Map.entry("Cohere2MoE", "command-r"),
            Map.entry("GLM-4.6", "glm"), Map.entry("GLM-4.7-Flash", "glm"), Map.entry("GigaChat3.1-10B-A1.8B", "gigachat"),
            Map.entry("Kimi-K3", "kimi-k3"), Map.entry("MiMo-VL", "hermes"), Map.entry("MiniMax-M1", "tool-calls-block"),
            Map.entry("MiniMax-M2", "minimax-m2"), Map.entry("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "qwen3-coder"),
            Map.entry("NVIDIA-Nemotron-Nano-v2", "nemotron-v2"), Map.entry("Qwen3.5-4B", "qwen3-coder"), Map.entry("Reka-Edge", "hermes"),
            Map.entry("StepFun3.5-Flash", "qwen3-coder"), Map.entry("deepseek-ai-DeepSeek-V3.1", "deepseek-v3"),
            Map.entry("deepseek-ai-DeepSeek-V3.2", "deepseek-v3.2"), Map.entry("deepseek-ai-DeepSeek-V4-Flash-0731", "deepseek-v3.2"),
            Map.entry("deepseek-ai-DeepSeek-V4", "deepseek-v3.2"), Map.entry("ibm-granite-granite-4.1", "hermes"),
            Map.entry("llama-cpp-deepseek-r1", "deepseek-r1"), Map.entry("meetkai-functionary-medium-v3.1", "functionary-v3.1"),
            Map.entry("moonshotai-Kimi-K2", "kimi-k2"), Map.entry("muse-glimmer", "glimmer"), Map.entry("openbmb-MiniCPM5-1B", "minicpm"),
            Map.entry("poolside-Laguna-S-2.1", "glm"), Map.entry("poolside-Laguna-XS-2.1", "glm"), Map.entry("poolside-Laguna-XS.2", "glm"),
            Map.entry("tencent-Hy3", "hunyuan"), Map.entry("unsloth-Apriel-1.5", "tool-calls-block"), Map.entry("upstage-Solar-Open-100B", "solar"),
            Map.entry("CohereForAI-c4ai-command-r-plus-tool_use", "command-r-plus"), Map.entry("Kimi-K2-Instruct", "kimi-k2"),
            Map.entry("Kimi-K2-Thinking", "kimi-k2"), Map.entry("mistralai-Ministral-3-14B-Reasoning-2512", "ministral-3"),
            Map.entry("Bielik-11B-v3.0-Instruct", "hermes"), Map.entry("LFM2-8B-A1B", "none"), Map.entry("LFM2.5-8B-A1B", "none"),
            Map.entry("GigaChat3-10B-A1.8B", "none"), Map.entry("google-gemma-4-31B-it", "gemma4"),
            Map.entry("google-gemma-4-31B-it-interleaved", "gemma4"), Map.entry("MiniMax-M3", "minimax-m3"), Map.entry("llama-cpp-rwkv-world", "none")));

    @Test
    void everyTemplateIsAssignedItsFamily() throws IOException {
        Map<String, String> got = new TreeMap<>();
        for (Path p : templates()) got.put(name(p), ChatSyntax.of(Files.readString(p)).family());
        assertEquals(FAMILY, got);
    }

    @Test
    void everyFamilyReadsBackTheCallsItsTemplateWrites() throws IOException {
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (Path p : templates()) {
            String src = Files.readString(p);
            ChatSyntax syntax = ChatSyntax.of(src);
            if (syntax.family().equals("none")) continue;
            ChatTemplate t = new ChatTemplate(src, "<s>", "</s>");
            for (List<Map<String, Object>> calls : List.of(List.of(call("get_weather", "city", "Paris")),
                    List.of(call("get_weather", "city", "Paris"), call("get_time", "zone", "Europe/Paris")))) {
                String written = assistantTurn(t, calls);
                if (written == null) continue; // the template cannot render this turn (it raises, as it does under transformers)
                if (calls.size() == 2 && !written.contains("Europe/Paris")) continue; // the family writes one call per turn
                String prompt = t.render(List.of(new ChatTemplate.Message("user", "Weather in Paris?")), true, TOOLS);
                // a template that drops past thinking from history: after an opened tag, a model closes it before calling
                if (syntax.opensThinking(prompt) && !written.contains(syntax.thinking().close()))
                    written = syntax.thinking().close() + written;
                ChatReply r = syntax.parse(written, syntax.opensThinking(prompt), SPECS);
                List<ToolCall> want = new ArrayList<>();
                for (Map<String, Object> c : calls) {
                    @SuppressWarnings("unchecked") Map<String, Object> fn = (Map<String, Object>) c.get("function");
                    want.add(new ToolCall((String) fn.get("name"), JSON.valueToTree(fn.get("arguments")).toString()));
                }
                checked++;
                if (!r.calls().equals(want) || r.content() != null && !r.content().isBlank())
                    wrong.add(name(p) + " (" + syntax.family() + ", " + calls.size() + " calls): wrote " + JSON.valueToTree(written)
                            + ", read " + r);
                // the same turn malformed: cut short anywhere inside the last call's arguments, or calling a tool
                // that was not offered; no call is read and the text stays as written
                boolean opened = syntax.opensThinking(prompt);
                String last = calls.size() == 2 ? "Europe/Paris" : "Paris";
                int inArgs = written.lastIndexOf(last) + 2;
                for (String bad : List.of(written.substring(0, inArgs), written.replace("get_weather", "rm_rf"))) {
                    ChatReply b = syntax.parse(bad, opened, SPECS);
                    if (!b.calls().isEmpty() || b.content() == null || !bad.contains(b.content().strip()))
                        wrong.add(name(p) + " (" + syntax.family() + "): malformed " + JSON.valueToTree(bad) + " read as " + b);
                }
            }
        }
        if (!wrong.isEmpty()) fail(wrong.size() + " of " + checked + " turns read back wrong:\n" + String.join("\n", wrong));
        assertEquals(true, checked >= 50, "turns checked: " + checked);
    }

    /**
     * The text of an assistant turn that makes {@code calls}, as the template writes it: the render
     * of the conversation up to that turn, less the prompt before it and the end-of-turn after it
     * (found from a plain reply's render).
     */
    private static String assistantTurn(ChatTemplate t, List<Map<String, Object>> calls) {
        ChatTemplate.Message user = new ChatTemplate.Message("user", "Weather in Paris?");
        try {
            String prompt = t.render(List.of(user), true, TOOLS);
            String plain = t.render(List.of(user, new ChatTemplate.Message("assistant", "PLAIN_REPLY")), false, TOOLS);
            String withCalls = t.render(List.of(user, new ChatTemplate.Message("assistant", "", Map.of("tool_calls", calls))), false, TOOLS);
            int at = plain.indexOf("PLAIN_REPLY");
            String end = plain.substring(at + "PLAIN_REPLY".length()).strip();
            int from = markerStart(withCalls, common(prompt, withCalls));
            String turn = withCalls.substring(from);
            // the model stops at its end-of-turn token, which is not part of the reply's text
            List<String> eots = new ArrayList<>(List.of("<|eom_id|>", "<|eom|>", end));
            for (java.util.regex.Matcher m = MARKER.matcher(end); m.find(); ) eots.add(m.group());
            // the first marker after a reply that another turn follows: its end-of-turn token
            String followed = t.render(List.of(user, new ChatTemplate.Message("assistant", "PLAIN_REPLY"),
                    new ChatTemplate.Message("user", "again")), false, TOOLS);
            java.util.regex.Matcher next = MARKER.matcher(followed.substring(followed.indexOf("PLAIN_REPLY") + "PLAIN_REPLY".length()).strip());
            if (next.lookingAt()) eots.add(next.group());
            for (boolean cut = true; cut; ) {
                cut = false;
                String trimmed = turn.stripTrailing();
                for (String eot : eots)
                    if (!eot.isEmpty() && trimmed.endsWith(eot)) {
                        turn = trimmed.substring(0, trimmed.length() - eot.length());
                        cut = true;
                    }
            }
            // the generation prompt may end in a tag the history form writes differently; start after the prompt's own text
            String tail = prompt.substring(from);
            return tail.isEmpty() ? turn : turn.startsWith(tail) ? turn.substring(tail.length()) : turn;
        } catch (ChatTemplate.ChatTemplateException e) {
            return null;
        }
    }

    /** Back to the start of a marker ({@code <...>} or {@code [...]}) that {@code at} is inside. */
    private static int markerStart(String s, int at) {
        for (int i = at - 1; i >= 0 && at - i < 40; i--) {
            char c = s.charAt(i);
            if (c == '>' || c == ']' || c == '\n') return at;
            if (c == '<' || c == '[') return i;
        }
        return at;
    }

    /** A special-token-like marker: {@code <|im_end|>}, {@code </s>}, {@code [/INST]}. */
    private static final java.util.regex.Pattern MARKER = java.util.regex.Pattern.compile("<[^<>\\s]+>|\\[[^\\[\\]\\s]+\\]");

    private static int common(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    private static Map<String, Object> call(String name, String key, String value) {
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", name);
        fn.put("arguments", new LinkedHashMap<>(Map.of(key, value)));
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("id", "call_" + name);
        c.put("type", "function");
        c.put("function", fn);
        return c;
    }

    private static Map<String, Object> tool(String name, String param, String type) {
        Map<String, Object> params = Map.of("type", "object", "properties", Map.of(param, Map.of("type", type)), "required", List.of(param));
        return Map.of("type", "function", "function", Map.of("name", name, "description", "d", "parameters", params));
    }

    private static List<Path> templates() throws IOException {
        try (var s = Files.list(Fixtures.file("templates"))) {
            return s.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
    }

    private static String name(Path p) {
        String f = p.getFileName().toString();
        return f.substring(0, f.length() - ".jinja".length());
    }

    @SuppressWarnings("unused")
    private static JsonNode node(Object o) {
        return JSON.valueToTree(o);
    }
}
