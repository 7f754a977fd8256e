package dev.lockstep.chat;

/**
 * A reply read while it is written: each piece of text in, the thinking and the content that can be
 * shown now out. Content stops at the first place a tool call may begin ({@link CallSyntax#callStart})
 * and the rest waits for {@link #finish}, which parses the whole reply as {@link ChatSyntax#parse}
 * does; a tail that could still become a thinking tag is held back the same way. Harmony replies
 * (gpt-oss) are shown at the end.
 */
public final class ReplyStream {
    /** What to show now: thinking and content, each possibly empty. */
    public record Delta(String reasoning, String content) {
        public boolean isEmpty() {
            return reasoning.isEmpty() && content.isEmpty();
        }
    }

    private final ChatSyntax syntax;
    private final boolean thinkingOpened;
    private final ToolSpecs tools;
    private final StringBuilder text = new StringBuilder();
    private final StringBuilder shownReasoning = new StringBuilder(), shownContent = new StringBuilder();

    ReplyStream(ChatSyntax syntax, boolean thinkingOpened, ToolSpecs tools) {
        this.syntax = syntax;
        this.thinkingOpened = thinkingOpened;
        this.tools = tools;
    }

    public Delta push(String piece) {
        text.append(piece);
        if (syntax.calls() instanceof Harmony) return new Delta("", "");
        String all = text.toString(), reasoning = "", answer = all;
        Thinking t = syntax.thinking();
        if (t != null) {
            String head = all.substring(CallSyntax.skipSpace(all, 0));
            if (!thinkingOpened && !head.isEmpty() && head.length() < t.open().length() && t.open().startsWith(head))
                return new Delta("", ""); // may still become the opening tag
            Thinking.Split s = t.split(all, thinkingOpened);
            if (s.reasoning() != null) {
                reasoning = s.unfinished() ? s.reasoning().substring(0, holdBack(s.reasoning(), t.close())) : s.reasoning();
                answer = s.unfinished() ? "" : s.answer();
            }
        }
        String content = tools == null ? answer : answer.substring(0, syntax.calls().callStart(answer));
        return new Delta(grow(shownReasoning, reasoning), grow(shownContent, content));
    }

    /** The whole reply, and what was not shown yet. */
    public Finished finish() {
        ChatReply r = syntax.parse(text.toString(), thinkingOpened, tools);
        return new Finished(r, remaining(r));
    }

    /** The text pushed so far. */
    public String text() {
        return text.toString();
    }

    /** What of {@code r} (the reply as finally read) was not shown yet. */
    public Delta remaining(ChatReply r) {
        String reasoning = r.reasoning() == null ? "" : r.reasoning(), content = r.content() == null ? "" : r.content();
        return new Delta(rest(shownReasoning, reasoning), rest(shownContent, content));
    }

    public record Finished(ChatReply reply, Delta delta) {}

    /** What {@code now} adds to what was shown (a stream never takes text back). */
    private static String grow(StringBuilder shown, String now) {
        if (now.length() <= shown.length() || !now.startsWith(shown.toString())) return "";
        String add = now.substring(shown.length());
        shown.append(add);
        return add;
    }

    /** The end of the final text past what was shown; the final text is stripped where the stream was not. */
    private static String rest(StringBuilder shown, String fin) {
        String s = shown.toString();
        if (fin.startsWith(s)) return fin.substring(s.length());
        String stripped = s.strip();
        int at = fin.indexOf(stripped);
        return at >= 0 && !stripped.isEmpty() ? fin.substring(at + stripped.length()) : stripped.isEmpty() ? fin : "";
    }

    /** Length of {@code s} less a tail that could grow into {@code tag}. */
    private static int holdBack(String s, String tag) {
        for (int k = Math.min(tag.length() - 1, s.length()); k > 0; k--)
            if (s.regionMatches(s.length() - k, tag, 0, k)) return s.length() - k;
        return s.length();
    }
}
