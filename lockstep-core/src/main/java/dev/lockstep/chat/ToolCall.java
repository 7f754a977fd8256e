package dev.lockstep.chat;

/**
 * A call a model wrote: the tool's name and its arguments as JSON object text (OpenAI's
 * {@code function.arguments} is a string, so the arguments stay text).
 */
public record ToolCall(String name, String arguments) {
}
