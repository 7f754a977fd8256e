package dev.lockstep.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Calls that name the tool in markup and then give the arguments, either as one JSON object
 * ({@link #jsonArguments}: DeepSeek V3 and R1, Kimi K2, Functionary v3.1, Ministral 3, Solar) or as
 * one element per argument ({@link #markupArguments}: Qwen3-Coder / Qwen 3.5 / Nemotron 3 / Seed-OSS
 * {@code <parameter=k>v</parameter>}, GLM 4.5-4.7 {@code <arg_key>k</arg_key><arg_value>v</arg_value>},
 * MiniMax M2 and DeepSeek V3.2 {@code <parameter name="k">v</parameter>}, MiniCPM 5, Kimi K3). The
 * section markers some families wrap their calls in are dropped from the content.
 */
final class NamedCalls extends CallSyntax {
    private final Pattern head;      // jsonArguments: up to the arguments, group "name"; markupArguments: the whole call, groups "name", "body"
    private final Pattern tail;      // jsonArguments: what must follow the arguments (null: nothing)
    private final Pattern argument;  // markupArguments: one argument, groups "key", "value", optional "str" (true: a string) or "type"
    private final boolean typed, flagged; // the argument says its type ("type") or whether it is a string ("str")
    private final List<String> sections;

    private NamedCalls(List<String> openers, List<String> sections, Pattern head, Pattern tail, Pattern argument) {
        super(openers);
        this.sections = sections;
        this.head = head;
        this.tail = tail;
        this.argument = argument;
        this.typed = argument != null && argument.pattern().contains("(?<type>");
        this.flagged = argument != null && argument.pattern().contains("(?<str>");
    }

    /** {@code head} (group "name") directly followed by a JSON object and then {@code tail}. */
    static NamedCalls jsonArguments(List<String> openers, List<String> sections, String head, String tail) {
        return new NamedCalls(openers, sections, Pattern.compile(head), tail == null ? null : Pattern.compile(tail), null);
    }

    /** {@code call} (groups "name" and "body") whose body is a sequence of {@code argument}s. */
    static NamedCalls markupArguments(List<String> openers, List<String> sections, String call, String argument) {
        return new NamedCalls(openers, sections, Pattern.compile(call, Pattern.DOTALL), null, Pattern.compile(argument, Pattern.DOTALL));
    }

    @Override
    Parsed parse(String text, ToolSpecs tools) {
        StringBuilder content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        Matcher m = head.matcher(text);
        int pos = 0;
        while (m.find(pos)) {
            content.append(text, pos, m.start());
            String name = m.group("name").strip();
            if (!tools.has(name)) return null;
            if (argument == null) {
                Value v = readValue(text, m.end());
                if (v == null || !v.node().isObject()) return null;
                pos = v.end();
                if (tail != null) {
                    Matcher t = tail.matcher(text).region(pos, text.length());
                    if (t.lookingAt()) pos = t.end();
                    else if (skipSpace(text, pos) < text.length()) return null; // the close may only be missing at the very end
                }
                calls.add(new ToolCall(name, v.node().toString()));
            } else {
                String args = markup(m.group("body"), name, tools);
                if (args == null) return null;
                calls.add(new ToolCall(name, args));
                pos = m.end();
            }
        }
        content.append(text, pos, text.length());
        if (calls.isEmpty()) return opensCall(text) ? null : new Parsed(text, List.of());
        String rest = content.toString();
        for (String s : sections) rest = rest.replace(s, "");
        return opensCall(rest) ? null : new Parsed(rest, calls);
    }

    /** The arguments of a markup call as a JSON object, or null if the body holds anything but arguments. */
    private String markup(String body, String tool, ToolSpecs tools) {
        ObjectNode args = JSON.createObjectNode();
        Matcher a = argument.matcher(body);
        int pos = 0;
        while (a.find(pos)) {
            if (!body.substring(pos, a.start()).isBlank()) return null;
            String key = a.group("key").strip(), raw = a.group("value");
            args.set(key, value(raw, string(a, tool, key, tools)));
            pos = a.end();
        }
        return body.substring(pos).isBlank() ? args.toString() : null;
    }

    private boolean string(Matcher a, String tool, String key, ToolSpecs tools) {
        if (flagged && a.group("str") != null) return a.group("str").equals("true");
        if (typed && a.group("type") != null) return a.group("type").equals("string");
        return tools.isString(tool, key);
    }

    /** A string argument is the text between the tags, less the newline the template puts on each side. */
    private static JsonNode value(String raw, boolean string) {
        String v = raw;
        if (v.startsWith("\n")) v = v.substring(1);
        if (v.endsWith("\n")) v = v.substring(0, v.length() - 1);
        if (!string) {
            try {
                JsonNode n = JSON.readTree(v.strip());
                if (n != null && !n.isMissingNode()) return n;
            } catch (IOException e) {
                // not JSON: the model wrote it as text
            }
        }
        return JSON.getNodeFactory().textNode(v);
    }
}
