package dev.lockstep.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Functionary v3.2: the prompt ends with {@code >>>} and every message of the reply starts with its
 * recipient, {@code all\n} for the user (content) or {@code NAME\n} for a tool (a call whose body is
 * its JSON arguments), later messages after {@code >>>} again. A reply whose first recipient is
 * neither is text, as written.
 */
final class Recipients extends CallSyntax {
    Recipients() {
        super(List.of(">>>"));
    }

    @Override
    Parsed parse(String text, ToolSpecs tools) {
        String body = text.startsWith(">>>") ? text.substring(3) : text;
        StringBuilder content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        for (String message : body.split(">>>", -1)) {
            int nl = message.indexOf('\n');
            String recipient = (nl < 0 ? message : message.substring(0, nl)).strip(), rest = nl < 0 ? "" : message.substring(nl + 1);
            if (recipient.equals("all")) {
                content.append(rest);
            } else if (tools.has(recipient)) {
                Value v = readValue(rest, 0);
                if (v == null || !v.node().isObject() || skipSpace(rest, v.end()) < rest.length()) return null;
                calls.add(new ToolCall(recipient, v.node().toString()));
            } else {
                return calls.isEmpty() && content.isEmpty() ? new Parsed(text, List.of()) : null;
            }
        }
        return new Parsed(content.toString(), calls);
    }

    /** The recipient decides what the text is: nothing is shown until the reply is finished. */
    @Override
    int callStart(String text) {
        return 0;
    }
}
