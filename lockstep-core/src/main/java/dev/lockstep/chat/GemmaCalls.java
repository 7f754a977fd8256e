package dev.lockstep.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Gemma 4: {@code <|tool_call>call:NAME{city:<|"|>Paris<|"|>,days:3}<tool_call|>}. The arguments are
 * not JSON: keys are bare and strings are quoted with the {@code <|"|>} token, so they are rewritten
 * as JSON (keys quoted, strings escaped) and then parsed.
 */
final class GemmaCalls extends CallSyntax {
    private static final Pattern CALL = Pattern.compile("<\\|tool_call>call:(?<name>[A-Za-z0-9_.-]+)(?<args>\\{.*?\\})<tool_call\\|>", Pattern.DOTALL);
    private static final String QUOTE = "<|\"|>";

    GemmaCalls() {
        super(List.of("<|tool_call>"));
    }

    @Override
    Parsed parse(String text, ToolSpecs tools) {
        StringBuilder content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        Matcher m = CALL.matcher(text);
        int pos = 0;
        while (m.find()) {
            content.append(text, pos, m.start());
            if (!tools.has(m.group("name"))) return null;
            JsonNode args = json(m.group("args"));
            if (args == null || !args.isObject()) return null;
            calls.add(new ToolCall(m.group("name"), args.toString()));
            pos = m.end();
        }
        content.append(text, pos, text.length());
        if (opensCall(content)) return null;
        return new Parsed(calls.isEmpty() ? text : content.toString(), calls);
    }

    /** Gemma's argument syntax as JSON, parsed; null if it is not well formed. */
    static JsonNode json(String args) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < args.length()) {
            if (args.startsWith(QUOTE, i)) {
                int end = args.indexOf(QUOTE, i + QUOTE.length());
                if (end < 0) return null;
                out.append(JSON.getNodeFactory().textNode(args.substring(i + QUOTE.length(), end)));
                i = end + QUOTE.length();
            } else if (Character.isLetter(args.charAt(i)) || args.charAt(i) == '_') {
                int end = i;
                while (end < args.length() && (Character.isLetterOrDigit(args.charAt(end)) || "_.-".indexOf(args.charAt(end)) >= 0)) end++;
                String word = args.substring(i, end);
                boolean key = skipSpace(args, end) < args.length() && args.charAt(skipSpace(args, end)) == ':';
                out.append(key ? JSON.getNodeFactory().textNode(word).toString() : word);
                i = end;
            } else {
                out.append(args.charAt(i++));
            }
        }
        try {
            return JSON.readTree(out.toString());
        } catch (IOException e) {
            return null;
        }
    }
}
