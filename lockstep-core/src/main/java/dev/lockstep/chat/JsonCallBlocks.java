package dev.lockstep.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Calls as JSON after an opening marker: one object, several, or a list of them, up to a closing
 * marker or, for the families that have none, to the first text that is not JSON. Hermes and Qwen
 * 2.5 ({@code <tool_call>{...}</tool_call>}), Mistral ({@code [TOOL_CALLS][{...}]}), Granite 3
 * ({@code <|tool_call|>[...]}), Command R ({@code <|START_ACTION|>[...]<|END_ACTION|>}), Firefunction
 * v2 ({@code functools[...]}), Apriel and MiniMax-M1 ({@code <tool_calls>}), Nemotron Nano 2
 * ({@code <TOOLCALL>}), GigaChat 3.1, Apertus; Llama 3's {@code <|python_tag|>}.
 */
final class JsonCallBlocks extends CallSyntax {
    private final String open, close; // close: null where the calls run to the end

    JsonCallBlocks(String open, String close) {
        super(List.of(open));
        this.open = open;
        this.close = close;
    }

    @Override
    Parsed parse(String text, ToolSpecs tools) {
        StringBuilder content = new StringBuilder();
        List<ToolCall> calls = new ArrayList<>();
        int pos = 0, at;
        while ((at = text.indexOf(open, pos)) >= 0) {
            content.append(text, pos, at);
            int p = at + open.length();
            while (true) {
                p = skipSpace(text, p);
                if (close != null && text.startsWith(close, p)) {
                    p += close.length();
                    break;
                }
                if (p >= text.length()) {
                    if (close != null && calls.isEmpty()) return null; // opened, never closed, nothing in it
                    break; // the model ended at its end-of-turn token before writing the close
                }
                char c = text.charAt(p);
                if (close == null && c != '{' && c != '[') break; // the calls are over; the rest is content
                Value v = readValue(text, p);
                if (v == null || !addCalls(v.node(), tools, calls)) return null;
                p = v.end();
                p = skipSpace(text, p);
                if (p < text.length() && (text.charAt(p) == ',' || text.charAt(p) == ';')) p++; // calls one after another
            }
            pos = p;
        }
        content.append(text, pos, text.length());
        if (opensCall(content)) return null; // an opener left outside every block: a call that did not parse
        return calls.isEmpty() ? new Parsed(text, List.of()) : new Parsed(content.toString(), calls);
    }

    private static boolean addCalls(JsonNode node, ToolSpecs tools, List<ToolCall> calls) {
        if (node.isArray()) {
            if (node.isEmpty()) return false;
            for (JsonNode n : node) if (!addCalls(n, tools, calls)) return false;
            return true;
        }
        ToolCall c = callOf(node, tools);
        if (c == null) return false;
        calls.add(c);
        return true;
    }
}
