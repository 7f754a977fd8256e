package dev.lockstep.train;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgufValue;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.tokenizer.BpeTokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Trains a byte-level BPE tokenizer (GPT-2 style) on a text: the text is split into words with the
 * GPT-2 pre-tokenizer, each word's UTF-8 bytes become symbols, and the most frequent adjacent pair is
 * merged until the vocabulary has the requested size. Ties go to the pair whose token ids are smallest,
 * so the result is a pure function of the text and the size. The result is stored as a {@code gpt2}
 * tokenizer in GGUF ({@code tokenizer.ggml.pre = gpt-2}) that {@link BpeTokenizer} and llama.cpp load.
 */
public final class BpeTrainer {
    /** The one special token: end of text (used as BOS and EOS). */
    public static final String END_OF_TEXT = "<|endoftext|>";

    /** GPT-2's pre-tokenizer expression (as BpeTokenizer uses it for {@code gpt-2}). */
    private static final Pattern GPT2 = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    /** A trained vocabulary: token strings (byte-level form), merges in rank order. */
    public record Result(List<String> tokens, List<String> merges, int endOfText) {
        /** Writes the tokenizer keys into {@code w}. */
        public void writeTo(GgufWriter w) {
            int n = tokens.size();
            int[] types = new int[n];
            for (int i = 0; i < n; i++) types[i] = i == endOfText ? 3 : 1;
            w.putString("tokenizer.ggml.model", "gpt2");
            w.putString("tokenizer.ggml.pre", "gpt-2");
            w.put("tokenizer.ggml.tokens", GgufValue.ofArray(GgufValue.GgufArray.ofStrings(tokens.toArray(String[]::new))));
            w.put("tokenizer.ggml.token_type", GgufValue.ofArray(GgufValue.GgufArray.ofInt32s(types)));
            w.put("tokenizer.ggml.merges", GgufValue.ofArray(GgufValue.GgufArray.ofStrings(merges.toArray(String[]::new))));
            w.putUInt32("tokenizer.ggml.bos_token_id", endOfText);
            w.putUInt32("tokenizer.ggml.eos_token_id", endOfText);
            w.putBool("tokenizer.ggml.add_bos_token", false);
        }
    }

    /** Trains a vocabulary of {@code vocabSize} tokens (256 bytes + merges + end-of-text) on {@code text}. */
    public static Result train(String text, int vocabSize) {
        if (vocabSize < 258) throw new LockstepException("--vocab-size must be at least 258 (256 bytes, a merge, end of text)");
        // 1. words and their counts, in first-seen order (deterministic)
        Map<String, Integer> wordCounts = new LinkedHashMap<>();
        Matcher m = GPT2.matcher(text);
        while (m.find()) wordCounts.merge(BpeTokenizer.toByteLevel(m.group()), 1, Integer::sum);
        List<String> tokens = new ArrayList<>();
        Map<String, Integer> index = new HashMap<>();
        for (int b = 0; b < 256; b++) {
            String s = String.valueOf(BpeTokenizer.byteLevelChar(b));
            index.put(s, tokens.size());
            tokens.add(s);
        }
        int nw = wordCounts.size();
        int[][] words = new int[nw][];
        long[] freq = new long[nw];
        int wi = 0;
        for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
            String w = e.getKey();
            int[] sym = new int[w.length()];
            for (int i = 0; i < w.length(); i++) sym[i] = index.get(String.valueOf(w.charAt(i)));
            words[wi] = sym;
            freq[wi] = e.getValue();
            wi++;
        }
        // 2. pair statistics
        Map<Long, Long> counts = new HashMap<>();
        Map<Long, Set<Integer>> where = new HashMap<>();
        for (int w = 0; w < nw; w++) addPairs(words[w], freq[w], w, counts, where, +1);
        PriorityQueue<long[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(b[0], a[0]) : Long.compare(a[1], b[1]));
        counts.forEach((k, c) -> queue.add(new long[]{c, k}));
        List<String> merges = new ArrayList<>();
        int target = vocabSize - 1; // room for end of text
        while (tokens.size() < target && !queue.isEmpty()) {
            long[] top = queue.poll();
            Long c = counts.get(top[1]);
            if (c == null || c != top[0]) continue; // stale entry
            if (c < 2) break;
            int a = (int) (top[1] >>> 32), b = (int) top[1];
            String merged = tokens.get(a) + tokens.get(b);
            Integer id = index.get(merged);
            if (id == null) {
                id = tokens.size();
                tokens.add(merged);
                index.put(merged, id);
            }
            merges.add(tokens.get(a) + " " + tokens.get(b));
            Set<Integer> ws = where.remove(top[1]);
            counts.remove(top[1]);
            Map<Long, Long> touched = new HashMap<>();
            for (int w : ws == null ? Set.<Integer>of() : new java.util.TreeSet<>(ws)) {
                int[] sym = words[w];
                addPairs(sym, freq[w], w, counts, where, -1, touched);
                words[w] = mergeIn(sym, a, b, id);
                addPairs(words[w], freq[w], w, counts, where, +1, touched);
            }
            for (Long k : touched.keySet()) {
                Long cc = counts.get(k);
                if (cc != null && cc > 0) queue.add(new long[]{cc, k});
            }
        }
        int eot = tokens.size();
        tokens.add(END_OF_TEXT);
        return new Result(List.copyOf(tokens), List.copyOf(merges), eot);
    }

    private static void addPairs(int[] sym, long f, int w, Map<Long, Long> counts, Map<Long, Set<Integer>> where, int sign) {
        addPairs(sym, f, w, counts, where, sign, null);
    }

    private static void addPairs(int[] sym, long f, int w, Map<Long, Long> counts, Map<Long, Set<Integer>> where, int sign,
                                 Map<Long, Long> touched) {
        for (int i = 0; i + 1 < sym.length; i++) {
            long key = ((long) sym[i] << 32) | (sym[i + 1] & 0xFFFFFFFFL);
            long c = counts.getOrDefault(key, 0L) + sign * f;
            if (c <= 0) counts.remove(key);
            else counts.put(key, c);
            if (sign > 0) where.computeIfAbsent(key, k -> new HashSet<>()).add(w);
            if (touched != null) touched.put(key, 0L);
        }
    }

    private static int[] mergeIn(int[] sym, int a, int b, int id) {
        int[] out = new int[sym.length];
        int n = 0;
        for (int i = 0; i < sym.length; i++) {
            if (i + 1 < sym.length && sym[i] == a && sym[i + 1] == b) {
                out[n++] = id;
                i++;
            } else {
                out[n++] = sym[i];
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** Trains and writes a tokenizer-only GGUF file (like llama.cpp's ggml-vocab-*.gguf). */
    public static Result trainToFile(String text, int vocabSize, Path out) {
        Result r = train(text, vocabSize);
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.name", "lockstep byte-level BPE, " + r.tokens().size() + " tokens");
        r.writeTo(w);
        w.write(out);
        return r;
    }
}
