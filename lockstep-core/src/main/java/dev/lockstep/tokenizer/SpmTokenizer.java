package dev.lockstep.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * SentencePiece-style BPE ({@code tokenizer.ggml.model = llama}): spaces become U+2581 ("▁"), a space
 * is prefixed to text that starts the prompt or follows a special token, then adjacent symbols are
 * merged greedily, highest-scoring merged token first (ties: leftmost), as long as the merged text is
 * a token. Symbols that are not tokens fall back to their UTF-8 bytes ({@code <0xNN>} tokens).
 */
public final class SpmTokenizer extends Tokenizer {
    private static final String SPACE = "\u2581";

    SpmTokenizer(Vocabulary vocab) {
        super(vocab);
    }

    @Override
    protected void encodeFragments(List<Object> fragments, IntList out) {
        boolean prevSpecial = true; // the first fragment gets the space prefix too
        for (Object f : fragments) {
            if (f instanceof Integer id) {
                out.add(id);
                prevSpecial = true;
            } else {
                String text = (vocab.addSpacePrefix && prevSpecial ? " " : "") + f;
                encodeText(text.replace(" ", SPACE), out);
                prevSpecial = false;
            }
        }
    }

    /** A symbol: a span of the text, linked to its neighbours; len 0 once merged away. */
    private static final class Sym {
        int start, len, prev, next;
    }

    private record Bigram(int left, int right, float score, int len) {}

    private void encodeText(String text, IntList out) {
        List<Sym> syms = new ArrayList<>();
        for (int i = 0, idx = 0; i < text.length(); idx++) {
            Sym s = new Sym();
            s.start = i;
            s.len = Character.charCount(text.codePointAt(i));
            i += s.len;
            s.prev = idx - 1;
            s.next = i == text.length() ? -1 : idx + 1;
            syms.add(s);
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score
                ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        Map<String, int[]> revMerge = new HashMap<>();
        for (int i = 1; i < syms.size(); i++) tryAddBigram(text, syms, i - 1, i, queue, revMerge);
        while (!queue.isEmpty()) {
            Bigram bg = queue.poll();
            Sym l = syms.get(bg.left), r = syms.get(bg.right);
            if (l.len == 0 || r.len == 0 || l.len + r.len != bg.len) continue; // stale
            l.len += r.len;
            r.len = 0;
            l.next = r.next;
            if (r.next >= 0) syms.get(r.next).prev = bg.left;
            tryAddBigram(text, syms, l.prev, bg.left, queue, revMerge);
            tryAddBigram(text, syms, bg.left, l.next, queue, revMerge);
        }
        for (int i = syms.isEmpty() ? -1 : 0; i != -1; i = syms.get(i).next) resegment(text, syms, syms.get(i), revMerge, out);
    }

    private void tryAddBigram(String text, List<Sym> syms, int left, int right, PriorityQueue<Bigram> queue,
                              Map<String, int[]> revMerge) {
        if (left == -1 || right == -1) return;
        Sym l = syms.get(left), r = syms.get(right);
        String merged = text.substring(l.start, l.start + l.len + r.len);
        int id = vocab.id(merged);
        if (id == Vocabulary.NONE) return;
        queue.add(new Bigram(left, right, vocab.scores[id], merged.length()));
        revMerge.put(merged, new int[]{left, right});
    }

    private void resegment(String text, List<Sym> syms, Sym s, Map<String, int[]> revMerge, IntList out) {
        String t = text.substring(s.start, s.start + s.len);
        int id = vocab.id(t);
        if (id != Vocabulary.NONE) {
            out.add(id);
            return;
        }
        int[] p = revMerge.get(t);
        if (p == null) {
            for (byte b : t.getBytes(StandardCharsets.UTF_8)) out.add(byteToken(b & 0xFF));
            return;
        }
        resegment(text, syms, syms.get(p[0]), revMerge, out);
        resegment(text, syms, syms.get(p[1]), revMerge, out);
    }

    private int byteToken(int b) {
        int id = vocab.id(String.format("<0x%02X>", b));
        if (id != Vocabulary.NONE) return id;
        id = vocab.id(String.valueOf((char) b));
        return id != Vocabulary.NONE ? id : vocab.unk;
    }

    @Override
    public byte[] piece(int id, boolean special) {
        int type = vocab.types[id];
        String t = vocab.tokens[id];
        if (type == Vocabulary.CONTROL || type == Vocabulary.UNKNOWN) {
            return special ? t.getBytes(StandardCharsets.UTF_8) : new byte[0];
        }
        if (type == Vocabulary.BYTE && t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
            return new byte[]{(byte) Integer.parseInt(t.substring(3, 5), 16)};
        }
        if (type == Vocabulary.USER_DEFINED) return t.getBytes(StandardCharsets.UTF_8);
        if (type == Vocabulary.NORMAL) return t.replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
        return new byte[0]; // unused / undefined tokens render as nothing, as in llama.cpp
    }
}
