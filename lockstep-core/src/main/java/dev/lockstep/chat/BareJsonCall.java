package dev.lockstep.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Llama 3.1-3.3: a reply that is nothing but a call, {@code {"name": ..., "parameters": {...}}}
 * (several joined by {@code ;}), or a call after {@code <|python_tag|>}. A reply that is JSON but not
 * a call of an offered tool is content (a model may answer in JSON).
 */
final class BareJsonCall extends CallSyntax {
    private static final String PYTHON_TAG = "<|python_tag|>";
    private final JsonCallBlocks tagged = new JsonCallBlocks(PYTHON_TAG, null);

    BareJsonCall() {
        super(List.of(PYTHON_TAG));
    }

    @Override
    Parsed parse(String text, ToolSpecs tools) {
        if (text.contains(PYTHON_TAG)) return tagged.parse(text, tools);
        int p = skipSpace(text, 0);
        if (p >= text.length() || text.charAt(p) != '{') return new Parsed(text, List.of());
        List<ToolCall> calls = new ArrayList<>();
        while (p < text.length()) {
            Value v = readValue(text, p);
            ToolCall c = v == null ? null : callOf(v.node(), tools);
            if (c == null) return new Parsed(text, List.of());
            calls.add(c);
            p = skipSpace(text, v.end());
            if (p < text.length() && text.charAt(p) == ';') p = skipSpace(text, p + 1);
            else if (p < text.length()) return new Parsed(text, List.of());
        }
        return new Parsed("", calls);
    }

    /** A reply that begins with JSON may be a call: nothing is shown until it is finished. */
    @Override
    int callStart(String text) {
        int p = skipSpace(text, 0);
        if (p < text.length() && text.charAt(p) == '{') return 0;
        return super.callStart(text);
    }
}
