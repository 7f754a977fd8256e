package dev.lockstep.engine;

import dev.lockstep.tokenizer.Tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Turns a request's tokens into text as they come: joins token bytes into whole UTF-8 characters,
 * finds stop strings (even across tokens), and holds back text that might be the start of one, so a
 * stream never shows text that a stop string later removes.
 */
final class TextStream {
    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int[] shownSpecial; // sorted: looked up per token without boxing
    private final boolean includeStop;
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    TextStream(Tokenizer tokenizer, List<String> stops) {
        this(tokenizer, stops, Set.of(), false);
    }

    /**
     * {@code shownSpecial}: control tokens whose text is shown ({@link GenerationRequest#shownSpecial});
     * {@code includeStop}: the stop string that ends the text is part of it.
     */
    TextStream(Tokenizer tokenizer, List<String> stops, Set<Integer> shownSpecial, boolean includeStop) {
        this.tokenizer = tokenizer;
        this.stops = stops;
        this.shownSpecial = shownSpecial.stream().mapToInt(Integer::intValue).sorted().toArray();
        this.includeStop = includeStop;
    }

    boolean stopped() {
        return stopped;
    }

    /** Adds a token; returns the text that can be shown now. */
    String push(int token) {
        if (tokenizer == null || stopped) return "";
        partial.writeBytes(tokenizer.piece(token, shownSpecial.length > 0 && Arrays.binarySearch(shownSpecial, token) >= 0));
        byte[] b = partial.toByteArray();
        int complete = completePrefix(b);
        if (complete > 0) {
            held.append(new String(b, 0, complete, StandardCharsets.UTF_8));
            partial.reset();
            partial.write(b, complete, b.length - complete);
        }
        return release();
    }

    /** At the end: whatever is still held (an incomplete UTF-8 tail becomes U+FFFD). */
    String flush() {
        if (stopped) return "";
        if (partial.size() > 0) {
            held.append(partial.toString(StandardCharsets.UTF_8));
            partial.reset();
        }
        String s = held.toString();
        held.setLength(0);
        return s;
    }

    private String release() {
        int cut = -1, end = -1;
        for (String s : stops) {
            if (s.isEmpty()) continue;
            int at = held.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut || at == cut && at + s.length() > end)) {
                cut = at;
                end = at + s.length();
            }
        }
        if (cut >= 0) {
            stopped = true;
            String out = held.substring(0, includeStop ? end : cut);
            held.setLength(0);
            return out;
        }
        int keep = 0; // longest suffix of held that is a proper prefix of a stop string
        String h = held.toString();
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, h.length()); k > keep; k--) {
                if (h.regionMatches(h.length() - k, s, 0, k)) {
                    keep = k;
                    break;
                }
            }
        }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** Length of the longest prefix of {@code b} that does not end inside a UTF-8 sequence. */
    static int completePrefix(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: look further back for the lead
            int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
