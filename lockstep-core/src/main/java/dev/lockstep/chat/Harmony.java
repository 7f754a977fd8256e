package dev.lockstep.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * gpt-oss' harmony format: a reply is messages on channels, each {@code <|channel|>NAME[ to=RECIPIENT]
 * [<|constrain|>json]<|message|>BODY}, joined by {@code <|end|><|start|>assistant}. The {@code
 * analysis} channel is the reasoning, {@code final} the answer, and a {@code commentary} message to
 * {@code functions.NAME} is a call whose body is its arguments.
 */
final class Harmony extends CallSyntax {
    private static final Pattern MESSAGE = Pattern.compile(
            "(?<pre>[^<]*)<\\|channel\\|>(?<channel>[A-Za-z]+)(?<mid>[^<]*)(?:<\\|constrain\\|>[^<]*)?<\\|message\\|>(?<body>.*?)"
                    + "(?:<\\|end\\|>|<\\|call\\|>|<\\|return\\|>)?\\s*(?:<\\|start\\|>assistant|$)", Pattern.DOTALL);
    private static final Pattern RECIPIENT = Pattern.compile("to=functions\\.([A-Za-z0-9_.-]+)");

    Harmony() {
        super(List.of("<|channel|>commentary to=", "to=functions."));
    }

    @Override
    Parsed parse(String text, ToolSpecs tools) {
        ChatReply r = reply(text, tools);
        return r == null ? null : new Parsed(r.content() == null ? "" : r.content(), r.calls());
    }

    /** The whole reply: reasoning, answer and calls; null if a call is malformed. Text without channels is all answer. */
    ChatReply reply(String text, ToolSpecs tools) {
        if (!text.contains("<|channel|>")) return new ChatReply(null, text, List.of());
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        Matcher m = MESSAGE.matcher(text);
        int pos = 0;
        while (pos < text.length() && m.find(pos) && m.start() == pos) {
            Matcher to = RECIPIENT.matcher(m.group("pre") + m.group("mid"));
            String body = m.group("body");
            if (to.find()) {
                if (!tools.has(to.group(1))) return null;
                Value v = readValue(body, 0);
                if (v == null || !v.node().isObject() || skipSpace(body, v.end()) < body.length()) return null;
                calls.add(new ToolCall(to.group(1), v.node().toString()));
            } else if (m.group("channel").equals("analysis")) {
                reasoning.append(body);
            } else {
                content.append(body);
            }
            pos = m.end();
            if (m.end() == m.start()) break;
        }
        if (pos < text.length()) content.append(text, pos, text.length()); // not a message: kept as written
        return new ChatReply(reasoning.isEmpty() ? null : reasoning.toString(), content.toString(), calls);
    }
}
