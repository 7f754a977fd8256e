package dev.lockstep.tokenizer;

import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE ({@code tokenizer.ggml.model = gpt2}), as GPT-2, Llama 3 and Qwen use it:
 * <ol>
 *   <li>pre-tokenize: split the text into words with the regular expression named by
 *       {@code tokenizer.ggml.pre};</li>
 *   <li>map each word's UTF-8 bytes to printable characters (GPT-2's byte-to-unicode table);</li>
 *   <li>merge adjacent symbols by the rank of the pair in {@code tokenizer.ggml.merges}, lowest rank
 *       first (ties: leftmost). Llama 3 first looks the whole word up as one token ("ignore merges").</li>
 * </ol>
 */
public final class BpeTokenizer extends Tokenizer {

    // Pre-tokenizer expressions (llama.cpp's adaptation of the tokenizer.json patterns; case-insensitive
    // contractions spelled out). Compiled with UNICODE_CHARACTER_CLASS so that \s is Unicode whitespace.
    private static final String LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** The pre-tokenizer names this class knows, mapped to their expression. */
    private static final Map<String, String> PRE = Map.ofEntries(
            Map.entry("llama3", LLAMA3), Map.entry("llama-v3", LLAMA3), Map.entry("llama-bpe", LLAMA3),
            Map.entry("smaug-bpe", LLAMA3), Map.entry("dbrx", LLAMA3),
            Map.entry("qwen2", QWEN2), Map.entry("deepseek-r1-qwen", QWEN2), Map.entry("stablelm2", QWEN2),
            Map.entry("default", GPT2), Map.entry("gpt-2", GPT2), Map.entry("gpt2", GPT2), Map.entry("phi-2", GPT2),
            Map.entry("mpt", GPT2), Map.entry("olmo", GPT2));

    /** Pre-tokenizers for which llama.cpp adds BOS by default and looks whole words up first. */
    static boolean preAddsBos(String pre) {
        return PRE.get(pre) == LLAMA3;
    }

    private final Pattern split;
    private final boolean ignoreMerges;
    private final Map<String, Integer> mergeRanks;

    // GPT-2's reversible map from bytes to printable code points (and back).
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();

    static {
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_CHAR[b] = printable ? (char) b : (char) (256 + n++);
            CHAR_TO_BYTE.put(BYTE_TO_CHAR[b], b);
        }
    }

    BpeTokenizer(Vocabulary vocab, GgufFile f) {
        super(vocab);
        String expr = PRE.get(vocab.pre);
        if (expr == null) throw new GgufException(f.path(), "unsupported pre-tokenizer '" + vocab.pre
                + "' (tokenizer.ggml.pre); supported: " + String.join(", ", new java.util.TreeSet<>(PRE.keySet())));
        this.split = Pattern.compile(expr, Pattern.UNICODE_CHARACTER_CLASS);
        this.ignoreMerges = expr == LLAMA3;
        String[] merges = f.getStringArray("tokenizer.ggml.merges");
        this.mergeRanks = new HashMap<>(merges.length * 2);
        for (int i = 0; i < merges.length; i++) mergeRanks.putIfAbsent(merges[i], i);
    }

    @Override
    protected void encodeFragments(List<Object> fragments, IntList out) {
        for (Object f : fragments) {
            if (f instanceof Integer id) out.add(id);
            else encodeText((String) f, out);
        }
    }

    private void encodeText(String text, IntList out) {
        Matcher m = split.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) encodeWord(byteEncode(text.substring(last, m.start())), out);
            if (m.end() > m.start()) encodeWord(byteEncode(m.group()), out);
            last = m.end();
        }
        if (last < text.length()) encodeWord(byteEncode(text.substring(last)), out);
    }

    static String byteEncode(String word) {
        byte[] b = word.getBytes(StandardCharsets.UTF_8);
        char[] c = new char[b.length];
        for (int i = 0; i < b.length; i++) c[i] = BYTE_TO_CHAR[b[i] & 0xFF];
        return new String(c);
    }

    private record Bigram(int left, int right, int rank, String text) {}

    private void encodeWord(String word, IntList out) {
        if (ignoreMerges) {
            int id = vocab.id(word);
            if (id != Vocabulary.NONE) {
                out.add(id);
                return;
            }
        }
        // symbols: one per character (byte-encoded words have no surrogates), linked list by index
        int n = word.length();
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            start[i] = i;
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.rank != b.rank
                ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) addBigram(word, start, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram bg = queue.poll();
            int l = bg.left, r = bg.right;
            if (len[l] == 0 || len[r] == 0) continue;
            String lt = word.substring(start[l], start[l] + len[l]), rt = word.substring(start[r], start[r] + len[r]);
            if (!(lt + rt).equals(bg.text)) continue; // outdated
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            addBigram(word, start, len, prev[l], l, queue);
            addBigram(word, start, len, l, next[l], queue);
        }
        for (int i = n == 0 ? -1 : 0; i != -1; i = next[i]) {
            if (len[i] == 0) continue;
            String s = word.substring(start[i], start[i] + len[i]);
            int id = vocab.id(s);
            if (id != Vocabulary.NONE) {
                out.add(id);
            } else {
                for (int j = 0; j < s.length(); j++) {
                    int bid = vocab.id(String.valueOf(s.charAt(j)));
                    if (bid != Vocabulary.NONE) out.add(bid);
                }
            }
        }
    }

    private void addBigram(String word, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left == -1 || right == -1) return;
        String lt = word.substring(start[left], start[left] + len[left]);
        String rt = word.substring(start[right], start[right] + len[right]);
        Integer rank = mergeRanks.get(lt + " " + rt);
        if (rank == null) return;
        queue.add(new Bigram(left, right, rank, lt + rt));
    }

    @Override
    public byte[] piece(int id, boolean special) {
        int type = vocab.types[id];
        String t = vocab.tokens[id];
        if (type == Vocabulary.CONTROL || type == Vocabulary.UNKNOWN) {
            return special ? t.getBytes(StandardCharsets.UTF_8) : new byte[0];
        }
        if (type == Vocabulary.USER_DEFINED) return t.getBytes(StandardCharsets.UTF_8);
        if (type != Vocabulary.NORMAL) return new byte[0];
        ByteArrayOutputStream b = new ByteArrayOutputStream(t.length());
        for (int i = 0; i < t.length(); i++) {
            Integer by = CHAR_TO_BYTE.get(t.charAt(i));
            if (by != null) b.write(by);
            else b.writeBytes(String.valueOf(t.charAt(i)).getBytes(StandardCharsets.UTF_8));
        }
        return b.toByteArray();
    }

    /** The printable character GPT-2's table assigns to byte {@code b}. */
    public static char byteLevelChar(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte-level form of a text, as token strings spell it (for tools that build vocabularies). */
    public static String toByteLevel(String text) {
        return byteEncode(text);
    }

    /** Bytes of a byte-level token string. */
    public static byte[] fromByteLevel(String token) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int i = 0; i < token.length(); i++) {
            Integer by = CHAR_TO_BYTE.get(token.charAt(i));
            if (by != null) b.write(by);
        }
        return b.toByteArray();
    }
}
