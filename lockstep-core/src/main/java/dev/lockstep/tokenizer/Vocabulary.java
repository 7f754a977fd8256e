package dev.lockstep.tokenizer;

import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The token list of a GGUF file ({@code tokenizer.ggml.*}) with the special ids and flags resolved the
 * way llama.cpp resolves them: defaults per tokenizer model, then per pre-tokenizer, then the file's
 * explicit keys.
 */
public final class Vocabulary {
    /** Token types as stored in {@code tokenizer.ggml.token_type}. */
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    public static final int NONE = -1;

    final String model;          // "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE)
    final String pre;            // pre-tokenizer name for gpt2 models
    final String[] tokens;
    final float[] scores;
    final int[] types;
    final Map<String, Integer> index;
    final int bos, eos, eot, eom, unk, pad;
    final boolean addBos, addEos, addSpacePrefix;
    final Set<Integer> endOfGeneration;
    /** Control, user-defined and unknown tokens, longest text first (matched in text before tokenizing). */
    final List<Integer> specialTokens;

    private static final List<String> EOT_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>");
    private static final List<String> EOG_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<eos>",
            "<｜end▁of▁sentence｜>");

    Vocabulary(GgufFile f) {
        this.model = f.getString("tokenizer.ggml.model");
        this.tokens = f.getStringArray("tokenizer.ggml.tokens");
        int n = tokens.length;
        this.scores = f.has("tokenizer.ggml.scores") ? f.getFloatArray("tokenizer.ggml.scores") : new float[n];
        int[] t = f.has("tokenizer.ggml.token_type") ? f.getIntArray("tokenizer.ggml.token_type") : null;
        if (scores.length < n) throw new GgufException(f.path(), "tokenizer.ggml.scores has " + scores.length
                + " entries for " + n + " tokens");
        if (t != null && t.length < n) throw new GgufException(f.path(), "tokenizer.ggml.token_type has " + t.length
                + " entries for " + n + " tokens");
        this.types = new int[n];
        for (int i = 0; i < n; i++) types[i] = t == null ? NORMAL : t[i];
        this.index = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) index.put(tokens[i], i);

        int dBos, dEos, dUnk;
        boolean dAddBos, dAddSpace;
        String preName = "default";
        switch (model) {
            case "llama" -> {
                dBos = 1; dEos = 2; dUnk = 0;
                dAddBos = true; dAddSpace = true;
            }
            case "gpt2" -> {
                dBos = 11; dEos = 11; dUnk = NONE;
                dAddSpace = false;
                preName = f.getString("tokenizer.ggml.pre", "default");
                dAddBos = BpeTokenizer.preAddsBos(preName);
            }
            default -> throw new GgufException(f.path(), "unsupported tokenizer model '" + model
                    + "' (tokenizer.ggml.model); supported: llama (SentencePiece BPE), gpt2 (byte-level BPE)");
        }
        this.pre = preName;
        this.bos = special(f, "tokenizer.ggml.bos_token_id", dBos);
        this.eos = special(f, "tokenizer.ggml.eos_token_id", dEos);
        this.unk = special(f, "tokenizer.ggml.unknown_token_id", dUnk);
        this.pad = special(f, "tokenizer.ggml.padding_token_id", NONE);
        int eotId = special(f, "tokenizer.ggml.eot_token_id", NONE);
        int eomId = special(f, "tokenizer.ggml.eom_token_id", NONE);
        this.addBos = f.getBool("tokenizer.ggml.add_bos_token", dAddBos);
        this.addEos = f.getBool("tokenizer.ggml.add_eos_token", false);
        this.addSpacePrefix = f.getBool("tokenizer.ggml.add_space_prefix", dAddSpace);

        // Like llama.cpp: recognise the end-of-turn token of common chat formats by its text, and treat
        // every such token as an end of generation.
        for (String s : EOT_TEXTS) {
            Integer id = index.get(s);
            if (id != null && eotId == NONE) eotId = id;
        }
        Integer eomText = index.get("<|eom_id|>");
        if (eomId == NONE && eomText != null) eomId = eomText;
        this.eot = eotId;
        this.eom = eomId;
        Set<Integer> eog = new TreeSet<>();
        for (String s : EOG_TEXTS) {
            Integer id = index.get(s);
            if (id != null) eog.add(id);
        }
        for (int id : new int[]{eos, eot, eom}) if (id != NONE) eog.add(id);
        this.endOfGeneration = Set.copyOf(eog);

        List<Integer> sp = new ArrayList<>();
        for (int i = 0; i < n; i++)
            if (types[i] == CONTROL || types[i] == USER_DEFINED || types[i] == UNKNOWN) sp.add(i);
        sp.sort(Comparator.comparingInt((Integer i) -> -tokens[i].getBytes(java.nio.charset.StandardCharsets.UTF_8).length));
        this.specialTokens = List.copyOf(sp);
    }

    private int special(GgufFile f, String key, int def) {
        int id = def;
        if (f.has(key)) {
            long v = f.getLong(key);
            // u32 -1 (4294967295) means "no such token", as llama.cpp's converters write it
            id = v < 0 || v >= tokens.length ? NONE : (int) v;
        }
        return id >= 0 && id < tokens.length ? id : NONE;
    }

    public int size() {
        return tokens.length;
    }

    public String token(int id) {
        return tokens[id];
    }

    public int type(int id) {
        return types[id];
    }

    public float score(int id) {
        return scores[id];
    }

    /** The id of a token text, or {@link #NONE}. */
    public int id(String text) {
        Integer i = index.get(text);
        return i == null ? NONE : i;
    }
}
