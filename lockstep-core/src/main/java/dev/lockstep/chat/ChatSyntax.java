package dev.lockstep.chat;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * What a model's chat template says about its replies: the family of tool-call syntax it teaches (so
 * calls can be read back out of a free reply) and how it marks thinking. Detected from the template
 * source by the markers each family's template writes, in the spirit of llama.cpp's {@code chat.cpp};
 * a template no family matches gets {@link #family()} {@code "none"} and its replies are text.
 */
public final class ChatSyntax {
    /**
     * A family: how to recognize its template, its call syntax, and text its replies carry around
     * the calls that is neither content nor call ({@code erase}: message headers, namespace tokens).
     */
    private record Family(String name, Predicate<String> detect, CallSyntax syntax, Pattern erase, Thinking thinking) {
        Family(String name, Predicate<String> detect, CallSyntax syntax) {
            this(name, detect, syntax, null, null);
        }
    }

    private static boolean all(String src, String... markers) {
        for (String m : markers) if (!src.contains(m)) return false;
        return true;
    }

    /** Most specific first: several families share {@code <tool_call>}. */
    private static final List<Family> FAMILIES = List.of(
            new Family("gpt-oss", s -> s.contains("<|channel|>"), new Harmony()),
            new Family("kimi-k2", s -> all(s, "<|tool_calls_section_begin|>", "<|tool_call_begin|>"), NamedCalls.jsonArguments(
                    List.of("<|tool_call_begin|>"), List.of("<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"),
                    "<\\|tool_call_begin\\|>\\s*(?:functions\\.)?(?<name>[^:<\\s]+)(?::\\d+)?\\s*<\\|tool_call_argument_begin\\|>",
                    "\\s*<\\|tool_call_end\\|>")),
            new Family("kimi-k3", s -> all(s, "<|open|>", "<|close|>", "<|end_of_msg|>"), NamedCalls.markupArguments(
                    List.of("<|open|>call "), List.of("<|open|>tools<|sep|>", "<|close|>tools<|sep|>"),
                    "<\\|open\\|>call tool=\"(?<name>[^\"]+)\"[^<]*<\\|sep\\|>(?<body>.*?)<\\|close\\|>call<\\|sep\\|>",
                    "<\\|open\\|>argument key=\"(?<key>[^\"]+)\"(?: type=\"(?<type>[^\"]*)\")?[^<]*<\\|sep\\|>(?<value>.*?)<\\|close\\|>argument<\\|sep\\|>"),
                    Pattern.compile("<\\|(?:open|close)\\|>response<\\|sep\\|>|<\\|close\\|>message(?:<\\|sep\\|>)?|<\\|end_of_msg\\|>"),
                    new Thinking("<|open|>think<|sep|>", "<|close|>think<|sep|>")),
            new Family("deepseek-v3.2", s -> all(s, "dsml_token", "DSML"), NamedCalls.markupArguments(
                    List.of("｜DSML｜invoke"), List.of("<｜DSML｜function_calls>", "</｜DSML｜function_calls>", "<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>"),
                    "<｜DSML｜invoke name=\"(?<name>[^\"]+)\">(?<body>.*?)</｜DSML｜invoke>",
                    "<｜DSML｜parameter name=\"(?<key>[^\"]+)\"(?: string=\"(?<str>true|false)\")?>(?<value>.*?)</｜DSML｜parameter>")),
            new Family("deepseek-r1", s -> all(s, "<｜tool▁sep｜>", "```json"), NamedCalls.jsonArguments(
                    List.of("<｜tool▁call▁begin｜>"), List.of("<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"),
                    "<｜tool▁call▁begin｜>(?:function)?<｜tool▁sep｜>(?<name>[^\\n<]+)\\s*```(?:json)?\\s*",
                    "\\s*```\\s*<｜tool▁call▁end｜>")),
            new Family("deepseek-v3", s -> s.contains("<｜tool▁sep｜>"), NamedCalls.jsonArguments(
                    List.of("<｜tool▁call▁begin｜>"), List.of("<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"),
                    "<｜tool▁call▁begin｜>(?:function<｜tool▁sep｜>)?(?<name>[^<\\n]+?)(?:<｜tool▁sep｜>|\\n```json\\n)",
                    "(?:\\s*```)?\\s*<｜tool▁call▁end｜>")),
            new Family("minimax-m3", s -> s.contains("]<]minimax[>["), NamedCalls.markupArguments(
                    List.of("<invoke name="), List.of("<tool_call>", "</tool_call>"),
                    "<invoke name=\"(?<name>[^\"]+)\">(?<body>.*?)</invoke>",
                    "<(?<key>[A-Za-z0-9_.-]+)>(?<value>.*?)</\\k<key>>"), Pattern.compile(Pattern.quote("]<]minimax[>[")), null),
            new Family("minimax-m2", s -> s.contains("<minimax:tool_call>"), NamedCalls.markupArguments(
                    List.of("<minimax:tool_call>", "<invoke name="), List.of("<minimax:tool_call>", "</minimax:tool_call>"),
                    "<invoke name=\"(?<name>[^\"]+)\">(?<body>.*?)</invoke>",
                    "<parameter name=\"(?<key>[^\"]+)\">(?<value>.*?)</parameter>")),
            new Family("seed-oss", s -> all(s, "<seed:tool_call>", "<function="), NamedCalls.markupArguments(
                    List.of("<seed:tool_call>"), List.of(),
                    "<seed:tool_call>\\s*<function=(?<name>[^>\\n]+)>(?<body>.*?)</function>\\s*</seed:tool_call>",
                    "<parameter=(?<key>[^>\\n]+)>(?<value>.*?)</parameter>")),
            new Family("qwen3-coder", s -> all(s, "<tool_call>", "<function=", "<parameter="), NamedCalls.markupArguments(
                    List.of("<tool_call>"), List.of(),
                    "<tool_call>\\s*<function=(?<name>[^>\\n]+)>(?<body>.*?)</function>\\s*</tool_call>",
                    "<parameter=(?<key>[^>\\n]+)>(?<value>.*?)</parameter>")),
            new Family("hunyuan", s -> all(s, "':opensource'", "arg_key"), NamedCalls.markupArguments(
                    List.of("<tool_call:opensource>"), List.of("<tool_calls:opensource>", "</tool_calls:opensource>"),
                    "<tool_call:opensource>(?<name>[^<\\n]+?)\\s*<tool_sep:opensource>(?<body>.*?)</tool_call:opensource>",
                    "<arg_key:opensource>(?<key>.*?)</arg_key:opensource>\\s*<arg_value:opensource>(?<value>.*?)</arg_value:opensource>")),
            new Family("glm", s -> all(s, "<tool_call>", "<arg_key>"), NamedCalls.markupArguments(
                    List.of("<tool_call>"), List.of(),
                    "<tool_call>\\s*(?<name>[^<\\n]+?)\\s*(?<body>(?:<arg_key>.*?)?)</tool_call>",
                    "<arg_key>(?<key>.*?)</arg_key>\\s*<arg_value>(?<value>.*?)</arg_value>")),
            new Family("minicpm", s -> all(s, "<function name=\"", "<param name=\""), NamedCalls.markupArguments(
                    List.of("<function name="), List.of(),
                    "<function name=\"(?<name>[^\"]+)\">(?<body>.*?)</function>",
                    "<param name=\"(?<key>[^\"]+)\">(?<value>.*?)</param>")),
            new Family("glimmer", s -> s.contains("<atem:function_calls>"), NamedCalls.markupArguments(
                    List.of("<atem:invoke"), List.of("<atem:function_calls>", "</atem:function_calls>"),
                    "<atem:invoke name=\"(?<name>[^\"]+)\">(?<body>.*?)</atem:invoke>",
                    "<atem:parameter name=\"(?<key>[^\"]+)\">(?<value>.*?)</atem:parameter>"),
                    Pattern.compile("(?:<\\|eom\\|>)?(?:<\\|start\\|>assistant)?\\s*to=[A-Za-z0-9_.-]+<\\|message\\|>"), null),
            new Family("gemma4", s -> s.contains("'<|tool_call>call:'"), new GemmaCalls(),
                    Pattern.compile("<\\|tool_response>\\s*$"), new Thinking("<|channel>thought", "<channel|>")), // it ends a turn of calls
            new Family("functionary-v3.2", s -> all(s, ">>>all", ">>>${recipient}"), new Recipients()),
            new Family("functionary-v3.1", s -> all(s, "<function=", "<|start_header_id|>"), NamedCalls.jsonArguments(
                    List.of("<function="), List.of(), "<function=(?<name>[^>]+)>", "\\s*</function>")),
            new Family("solar", s -> s.contains("<|tool_call:begin|>"), NamedCalls.jsonArguments(
                    List.of("<|tool_call:begin|>"), List.of("<|tool_calls|>", "<|calls|>"),
                    "<\\|tool_call:begin\\|>[^<]*<\\|tool_call:name\\|>(?<name>[^<]+)<\\|tool_call:args\\|>", "\\s*<\\|tool_call:end\\|>")),
            new Family("ministral-3", s -> all(s, "[TOOL_CALLS]", "[ARGS]"), NamedCalls.jsonArguments(
                    List.of("[TOOL_CALLS]"), List.of(), "\\[TOOL_CALLS\\](?<name>[^\\[\\]{}\\s]+)(?:\\[CALL_ID\\][^\\[]*)?\\[ARGS\\]", null)),
            new Family("mistral", s -> s.contains("[TOOL_CALLS]"), new JsonCallBlocks("[TOOL_CALLS]", null)),
            new Family("command-r-plus", s -> s.contains("Action:\\n```json"), new JsonCallBlocks("Action:\n```json", "```")),
            new Family("command-r", s -> s.contains("<|START_ACTION|>"), new JsonCallBlocks("<|START_ACTION|>", "<|END_ACTION|>")),
            new Family("firefunction-v2", s -> s.contains("functools["), new JsonCallBlocks("functools", null)),
            new Family("granite-3", s -> s.contains("<|tool_call|>"), new JsonCallBlocks("<|tool_call|>", null)),
            new Family("gigachat", s -> s.contains("<|function_call|>"), new JsonCallBlocks("<|function_call|>", null)),
            new Family("apertus", s -> s.contains("<|tools_prefix|>"), new JsonCallBlocks("<|tools_prefix|>", "<|tools_suffix|>")),
            new Family("nemotron-v2", s -> s.contains("<TOOLCALL>"), new JsonCallBlocks("<TOOLCALL>", "</TOOLCALL>")),
            new Family("tool-calls-block", s -> s.contains("<tool_calls>"), new JsonCallBlocks("<tool_calls>", "</tool_calls>")),
            new Family("hermes", s -> s.contains("<tool_call>"), new JsonCallBlocks("<tool_call>", "</tool_call>")),
            new Family("llama3", s -> all(s, "<|start_header_id|>", "ipython") || s.contains("<|python_tag|>"), new BareJsonCall()));

    /** The syntax of templates that teach none: calls are asked for in Hermes' syntax by the system prompt ({@link #describeTools}). */
    private static final CallSyntax FALLBACK = new JsonCallBlocks("<tool_call>", "</tool_call>");

    private final String family;
    private final CallSyntax calls;
    private final Pattern erase;
    private final Thinking thinking;
    private final boolean templateShowsTools;

    private ChatSyntax(String family, CallSyntax calls, Pattern erase, Thinking thinking, boolean templateShowsTools) {
        this.family = family;
        this.calls = calls;
        this.erase = erase;
        this.thinking = thinking;
        this.templateShowsTools = templateShowsTools;
    }

    /** The syntax the template {@code source} teaches. */
    public static ChatSyntax of(String source) {
        Thinking t = Thinking.of(source);
        boolean showsTools = source.contains("tools");
        for (Family f : FAMILIES)
            if (f.detect.test(source)) return new ChatSyntax(f.name, f.syntax, f.erase, f.thinking != null ? f.thinking : t, showsTools);
        return new ChatSyntax("none", FALLBACK, null, t, showsTools);
    }

    /** The family's name ({@code hermes}, {@code llama3}, {@code mistral}, ...), or {@code none}. */
    public String family() {
        return family;
    }

    /**
     * Whether the template itself shows the model its tools. When it does not, the caller describes
     * them in the system prompt ({@link #describeTools}) so the model can still call them.
     */
    public boolean templateShowsTools() {
        return templateShowsTools;
    }

    /**
     * A system-prompt paragraph for templates that do not show tools: the tools ({@code toolsJson}:
     * their functions, compact JSON) and, when the template teaches no call syntax, how to call one
     * (Hermes' syntax, which {@link #parse} then reads); a model of a known family (DeepSeek V3.1's
     * template writes calls but never lists tools) calls in its own syntax. Short, since small models
     * have short contexts.
     */
    public String describeTools(String toolsJson) {
        String tools = "Tools: " + toolsJson;
        return calls == FALLBACK ? tools + "\nTo call one, reply <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>" : tools;
    }

    /** Whether the template's model marks thinking in its replies (or writes harmony channels). */
    public boolean marksThinking() {
        return thinking != null || calls instanceof Harmony;
    }

    /** Whether the rendered prompt leaves the model inside its thinking (the reply starts there). */
    public boolean opensThinking(String renderedPrompt) {
        return thinking != null && thinking.openedBy(renderedPrompt);
    }

    /**
     * The text of special tokens the reply must show for it to be parsed (call markers, thinking tags,
     * harmony's channel tokens); tokenizers leave control tokens out of the text otherwise.
     */
    public Set<String> markers() {
        Set<String> out = new LinkedHashSet<>(calls.openers);
        if (thinking != null) {
            out.add(thinking.open());
            out.add(thinking.close());
        }
        if (calls instanceof Harmony) out.addAll(List.of("<|channel|>", "<|message|>", "<|constrain|>", "<|start|>", "<|end|>"));
        out.addAll(MORE_MARKERS);
        return out;
    }

    /** Closing markers and separators that are single special tokens in some vocabularies. */
    private static final List<String> MORE_MARKERS = List.of("</tool_call>", "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>",
            "<|tool_call_argument_begin|>", "<|tool_call_end|>", "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁sep｜>",
            "<｜tool▁call▁end｜>", "<|END_ACTION|>", "</tool_calls>", "</TOOLCALL>", "<|tools_suffix|>", "[ARGS]", "[CALL_ID]",
            "<|tool_call:name|>", "<|tool_call:args|>", "<|tool_call:end|>", "<|tool_calls|>", "<|calls|>");

    /**
     * A finished reply read as a chat API returns it. {@code thinkingOpened}: the prompt opened the
     * thinking ({@link #opensThinking}). {@code tools}: null when the request offered none (then no
     * calls are read). A reply with malformed calls is content, as written.
     */
    public ChatReply parse(String reply, boolean thinkingOpened, ToolSpecs tools) {
        if (calls instanceof Harmony h) {
            ChatReply r = h.reply(reply, tools == null ? ToolSpecs.of(null) : tools);
            if (r == null) r = new ChatReply(null, reply, List.of());
            if (tools == null && !r.calls().isEmpty()) r = new ChatReply(r.reasoning(), reply, List.of());
            return new ChatReply(r.reasoning(), emptyToNull(r.content(), !r.calls().isEmpty()), r.calls());
        }
        String answer = erase == null ? reply : erase.matcher(reply).replaceAll(""), reasoning = null;
        Thinking.Split s = thinking == null ? null : thinking.split(answer, thinkingOpened);
        if (s != null) {
            reasoning = s.reasoning() == null ? null : s.reasoning().strip();
            answer = s.answer();
        }
        // the answer as the model wrote it, for a reply read as text (a family's erased markers only frame calls)
        String asWritten = erase == null ? answer : thinking == null ? reply : thinking.split(reply, thinkingOpened).answer();
        if (tools == null) {
            if (calls instanceof Recipients) { // its content has a recipient in front, tools or not
                CallSyntax.Parsed p = calls.parse(answer, ToolSpecs.of(null));
                if (p != null) asWritten = p.content();
            }
            return new ChatReply(reasoning, asWritten, List.of());
        }
        CallSyntax.Parsed p = calls.parse(answer, tools);
        // no call: the answer as the model wrote it (the family's erased markers only frame calls)
        if (p == null || p.calls().isEmpty()) return new ChatReply(reasoning, asWritten, List.of());
        return new ChatReply(reasoning, emptyToNull(p.content().strip(), true), p.calls());
    }

    /**
     * The content of a reply cut short (by max_tokens, a stop string) up to where a call it was
     * writing begins: half a call is neither a call nor content.
     */
    public String beforeCall(String content) {
        return content == null ? null : content.substring(0, calls.callStart(content));
    }

    private static String emptyToNull(String content, boolean called) {
        return called && (content == null || content.isBlank()) ? null : content;
    }

    /** A reply being streamed: what can be shown as it comes. */
    public ReplyStream stream(boolean thinkingOpened, ToolSpecs tools) {
        return new ReplyStream(this, thinkingOpened, tools);
    }

    CallSyntax calls() {
        return calls;
    }

    Thinking thinking() {
        return thinking;
    }
}
