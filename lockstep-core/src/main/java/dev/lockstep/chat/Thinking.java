package dev.lockstep.chat;

/**
 * How a reasoning model marks its thinking: {@code <think>...</think>} (DeepSeek R1, Qwen 3, GLM,
 * MiniMax M2, Kimi K2 Thinking, Nemotron), {@code <seed:think>} (Seed-OSS), {@code [THINK]} (Magistral,
 * Ministral 3), {@code <mm:think>} (MiniMax M3), {@code <|START_THINKING|>} (Command A). The template
 * may open the tag itself at the end of the prompt (DeepSeek R1, Qwen 3 with thinking on), in which
 * case the reply starts inside the thinking.
 */
record Thinking(String open, String close) {
    private static final Thinking[] KNOWN = {
            new Thinking("<seed:think>", "</seed:think>"),
            new Thinking("<mm:think>", "</mm:think>"),
            new Thinking("<think>", "</think>"),
            new Thinking("[THINK]", "[/THINK]"),
            new Thinking("<|START_THINKING|>", "<|END_THINKING|>"),
    };

    /** The thinking tags the template writes, or null. */
    static Thinking of(String templateSource) {
        for (Thinking t : KNOWN) if (templateSource.contains(t.close)) return t;
        return null;
    }

    /** Whether the rendered prompt leaves the thinking open, so that the reply begins inside it. */
    boolean openedBy(String prompt) {
        String p = prompt.stripTrailing();
        return p.endsWith(open);
    }

    /** Where the thinking of {@code text} ends and the answer begins, split; {@code opened}: the prompt opened it. */
    Split split(String text, boolean opened) {
        int start = 0;
        int p = CallSyntax.skipSpace(text, 0);
        if (!opened) {
            if (text.startsWith(open, p)) start = p + open.length();
            else {
                // A model whose template opened the tag in training but not here (R1 distills), or whose history
                // form drops the opening: a close with no open before it still ends the thinking.
                int close = text.indexOf(this.close);
                if (close < 0 || text.lastIndexOf(open, close) >= 0) return new Split(null, text, false);
            }
        }
        int end = text.indexOf(close, start);
        if (end < 0) return new Split(text.substring(start), "", true);
        return new Split(text.substring(start, end), text.substring(CallSyntax.skipSpace(text, end + close.length())), false);
    }

    /** The thinking (null: none), the answer, and whether the thinking is still open at the end of the text. */
    record Split(String reasoning, String answer, boolean unfinished) {}
}
