package dev.lockstep.chat;

import java.util.List;

/**
 * A finished reply as a chat API returns it: the model's thinking ({@code reasoning_content}, null
 * when it wrote none), the text meant for the user (null when nothing is left beside the calls), and
 * the tool calls it made (empty: none).
 */
public record ChatReply(String reasoning, String content, List<ToolCall> calls) {
    public ChatReply {
        calls = List.copyOf(calls);
    }
}
