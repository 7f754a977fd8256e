package dev.lockstep.tokenizer;

import dev.lockstep.gguf.GgufFile;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Text to token ids and back, as llama.cpp does it for the tokenizer a GGUF file carries.
 * Encoding first cuts special tokens out of the text (control and unknown tokens only when asked,
 * user-defined tokens always), then hands each remaining fragment to the model's algorithm
 * ({@link SpmTokenizer} or {@link BpeTokenizer}).
 */
public abstract sealed class Tokenizer permits SpmTokenizer, BpeTokenizer {
    protected final Vocabulary vocab;

    protected Tokenizer(Vocabulary vocab) {
        this.vocab = vocab;
    }

    /** The tokenizer of {@code f}, or null when the file has none ({@code no_vocab} or no tokenizer keys). */
    public static Tokenizer fromGguf(GgufFile f) {
        if (!f.has("tokenizer.ggml.model") || f.getString("tokenizer.ggml.model").equals("no_vocab")) return null;
        Vocabulary v = new Vocabulary(f);
        return switch (v.model) {
            case "llama" -> new SpmTokenizer(v);
            default -> new BpeTokenizer(v, f);
        };
    }

    public Vocabulary vocabulary() {
        return vocab;
    }

    public int size() {
        return vocab.size();
    }

    public int bos() { return vocab.bos; }
    public int eos() { return vocab.eos; }
    public int eot() { return vocab.eot; }
    public boolean addsBos() { return vocab.addBos; }
    public Set<Integer> endOfGenerationTokens() { return vocab.endOfGeneration; }

    /** Whether generating {@code id} ends the turn (EOS, EOT, EOM and the like). */
    public boolean isEndOfGeneration(int id) {
        return vocab.endOfGeneration.contains(id);
    }

    /** A short description: model, pre-tokenizer, size, special ids. */
    public String describe() {
        return vocab.model + (vocab.model.equals("gpt2") ? " (pre '" + vocab.pre + "')" : "") + ", " + vocab.size()
                + " tokens, bos " + vocab.bos + ", eos " + vocab.eos + (vocab.eot >= 0 ? ", eot " + vocab.eot : "")
                + ", add_bos " + vocab.addBos;
    }

    /**
     * Tokenizes {@code text}. {@code addSpecial}: add BOS/EOS as the model's metadata says;
     * {@code parseSpecial}: recognise control tokens such as {@code <|im_start|>} written in the text.
     */
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntList out = new IntList();
        List<Object> fragments = partition(text, parseSpecial);
        if (addSpecial && vocab.addBos && vocab.bos >= 0) out.add(vocab.bos);
        encodeFragments(fragments, out);
        if (addSpecial && vocab.addEos && vocab.eos >= 0) out.add(vocab.eos);
        return out.toArray();
    }

    /** Fragments are Strings (text) or Integers (special token ids), in order. */
    protected abstract void encodeFragments(List<Object> fragments, IntList out);

    /** Splits text around special tokens, longest token first (llama.cpp's tokenizer_st_partition). */
    private List<Object> partition(String text, boolean parseSpecial) {
        List<Object> frags = new ArrayList<>();
        if (text.isEmpty()) return frags;
        frags.add(text);
        for (int id : vocab.specialTokens) {
            int type = vocab.types[id];
            if (!parseSpecial && (type == Vocabulary.CONTROL || type == Vocabulary.UNKNOWN)) continue;
            String tok = vocab.tokens[id];
            if (tok.isEmpty()) continue;
            for (int i = 0; i < frags.size(); i++) {
                if (!(frags.get(i) instanceof String s)) continue;
                int at = s.indexOf(tok);
                if (at < 0) continue;
                List<Object> parts = new ArrayList<>();
                int from = 0;
                while (at >= 0) {
                    if (at > from) parts.add(s.substring(from, at));
                    parts.add(id);
                    from = at + tok.length();
                    at = s.indexOf(tok, from);
                }
                if (from < s.length()) parts.add(s.substring(from));
                frags.remove(i);
                frags.addAll(i, parts);
                i += parts.size() - 1;
            }
        }
        return frags;
    }

    /**
     * The bytes token {@code id} stands for. Control and unknown tokens are empty unless
     * {@code special}, in which case their text is returned.
     */
    /**
     * Tokenizes a rendered chat template: special tokens are parsed; BOS is added when the model wants
     * one unless the template already wrote it.
     */
    public int[] encodeChat(String rendered) {
        boolean hasBos = bos() >= 0 && rendered.startsWith(vocab.tokens[bos()]);
        int[] ids = encode(rendered, false, true);
        if (!addsBos() || hasBos || bos() < 0) return ids;
        int[] withBos = new int[ids.length + 1];
        withBos[0] = bos();
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return withBos;
    }

    public abstract byte[] piece(int id, boolean special);

    /** Concatenated pieces (special tokens not rendered), decoded as UTF-8. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    public String decode(int[] ids, boolean special) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int id : ids) b.writeBytes(piece(id, special));
        return b.toString(StandardCharsets.UTF_8);
    }

    /**
     * The control tokens whose text is one of {@code texts}: the markers a chat reply must show to be
     * parsed (a tool-call opener may be a single control token whose text decoding leaves out).
     */
    public Set<Integer> controlTokens(Collection<String> texts) {
        Set<Integer> out = new TreeSet<>();
        for (String t : texts) {
            int id = vocab.id(t);
            if (id >= 0 && isSpecialType(id)) out.add(id);
        }
        return out;
    }

    protected boolean isSpecialType(int id) {
        int t = vocab.types[id];
        return t == Vocabulary.CONTROL || t == Vocabulary.UNKNOWN;
    }

    /** A growable int array. */
    public static final class IntList {
        private int[] a = new int[16];
        private int n;

        public void add(int v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        public int size() {
            return n;
        }

        public int get(int i) {
            return a[i];
        }

        public int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
