package dev.lockstep.convert;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufValue;
import dev.lockstep.gguf.GgufWriter;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * Writes random-weight models of real shapes (seeded, reproducible bit for bit) so that benchmarks and
 * tests need no download. Initialisation follows the fixtures' convention: linear weights
 * N(0, 1/fan_in), norm weights 1 + N(0, 0.05), untied embeddings N(0, 1), tied embeddings
 * N(0, 2/sqrt(dim)), output matrix N(0, 2/sqrt(dim)), biases N(0, 0.1). Each row's values come from its
 * own generator seeded by (seed, tensor name, row), so the file does not depend on the thread count.
 */
public final class Synthesizer {

    /** A model shape. */
    public record Preset(String name, String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ff,
                         int vocab, int context, double ropeBase, float rmsEps, boolean tied, double llama3Factor) {}

    public static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    static {
        add(new Preset("llama-3.2-1b", "llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, 500000, 1e-5f, true, 32));
        add(new Preset("llama-3.2-3b", "llama", 3072, 28, 24, 8, 128, 8192, 128256, 131072, 500000, 1e-5f, true, 32));
        add(new Preset("llama-3.1-8b", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 500000, 1e-5f, false, 8));
        add(new Preset("qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1000000, 1e-6f, true, 0));
        add(new Preset("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1000000, 1e-6f, true, 0));
        add(new Preset("tiny", "llama", 128, 4, 8, 2, 16, 352, 512, 2048, 10000, 1e-5f, false, 0));
        add(new Preset("small", "llama", 512, 8, 8, 4, 64, 1536, 8192, 4096, 10000, 1e-5f, true, 0));
    }

    private static void add(Preset p) {
        PRESETS.put(p.name(), p);
    }

    public static Preset preset(String name, String arch) {
        Preset p = PRESETS.get(name);
        if (p == null) throw new LockstepException("unknown --preset '" + name + "'; presets: " + String.join(", ", PRESETS.keySet()));
        if (arch != null && !arch.equals(p.arch())) {
            if (!List.of("llama", "qwen2", "qwen3", "mistral").contains(arch))
                throw new LockstepException("unknown --arch '" + arch + "'; supported: llama, mistral, qwen2, qwen3");
            p = new Preset(p.name() + "-as-" + arch, arch, p.dim(), p.layers(), p.heads(), p.kvHeads(), p.headDim(), p.ff(),
                    p.vocab(), p.context(), p.ropeBase(), p.rmsEps(), p.tied(), arch.startsWith("qwen") ? 0 : p.llama3Factor());
        }
        return p;
    }

    /**
     * Plans the file: metadata, tokenizer (copied from {@code vocabFrom}, else a minimal byte-level
     * SentencePiece vocabulary), and one streamed tensor per weight.
     */
    public static GgufWriter plan(Preset p, QuantPolicy policy, long seed, Path vocabFrom) {
        GgufWriter w = new GgufWriter();
        String a = p.arch();
        int vocab = p.vocab();
        GgufFile tokFile = null;
        try {
            if (vocabFrom != null) {
                tokFile = GgufFile.open(vocabFrom);
                vocab = tokFile.getStringArray("tokenizer.ggml.tokens").length;
            }
            w.putString("general.architecture", a);
            w.putString("general.name", "lockstep-synth " + p.name() + " " + policy.name() + " seed " + seed);
            w.putString("general.description", "synthetic random-weight model written by lockstep synth; not a trained model");
            w.putUInt32("general.file_type", policy.fileType());
            w.putUInt32("general.quantization_version", 2);
            w.putUInt32(a + ".context_length", p.context());
            w.putUInt32(a + ".embedding_length", p.dim());
            w.putUInt32(a + ".block_count", p.layers());
            w.putUInt32(a + ".feed_forward_length", p.ff());
            w.putUInt32(a + ".attention.head_count", p.heads());
            w.putUInt32(a + ".attention.head_count_kv", p.kvHeads());
            w.putFloat32(a + ".attention.layer_norm_rms_epsilon", p.rmsEps());
            w.putFloat32(a + ".rope.freq_base", (float) p.ropeBase());
            w.putUInt32(a + ".rope.dimension_count", p.headDim());
            if (p.headDim() * p.heads() != p.dim()) {
                w.putUInt32(a + ".attention.key_length", p.headDim());
                w.putUInt32(a + ".attention.value_length", p.headDim());
            }
            w.putUInt32(a + ".vocab_size", vocab);
            if (tokFile != null) w.copyMetadata(tokFile, "tokenizer.");
            else minimalVocabulary(w, vocab);
        } finally {
            if (tokFile != null) tokFile.close();
        }

        int dim = p.dim(), qDim = p.heads() * p.headDim(), kvDim = p.kvHeads() * p.headDim();
        List<Object[]> tensors = new ArrayList<>();
        tensors.add(new Object[]{"token_embd.weight", dim, vocab, p.tied() ? 2 / Math.sqrt(dim) : 1.0, 0.0});
        if (p.llama3Factor() > 0)
            w.addF32("rope_freqs.weight", new long[]{p.headDim() / 2}, llama3FreqFactors(p.headDim(), p.ropeBase(), p.llama3Factor()));
        for (int l = 0; l < p.layers(); l++) {
            String b = "blk." + l + ".";
            tensors.add(new Object[]{b + "attn_norm.weight", dim, 1, 0.05, 1.0});
            tensors.add(new Object[]{b + "attn_q.weight", dim, qDim, 1 / Math.sqrt(dim), 0.0});
            tensors.add(new Object[]{b + "attn_k.weight", dim, kvDim, 1 / Math.sqrt(dim), 0.0});
            tensors.add(new Object[]{b + "attn_v.weight", dim, kvDim, 1 / Math.sqrt(dim), 0.0});
            if (a.equals("qwen2")) {
                tensors.add(new Object[]{b + "attn_q.bias", qDim, 1, 0.1, 0.0});
                tensors.add(new Object[]{b + "attn_k.bias", kvDim, 1, 0.1, 0.0});
                tensors.add(new Object[]{b + "attn_v.bias", kvDim, 1, 0.1, 0.0});
            }
            if (a.equals("qwen3")) {
                tensors.add(new Object[]{b + "attn_q_norm.weight", p.headDim(), 1, 0.05, 1.0});
                tensors.add(new Object[]{b + "attn_k_norm.weight", p.headDim(), 1, 0.05, 1.0});
            }
            tensors.add(new Object[]{b + "attn_output.weight", qDim, dim, 1 / Math.sqrt(qDim), 0.0});
            tensors.add(new Object[]{b + "ffn_norm.weight", dim, 1, 0.05, 1.0});
            tensors.add(new Object[]{b + "ffn_gate.weight", dim, p.ff(), 1 / Math.sqrt(dim), 0.0});
            tensors.add(new Object[]{b + "ffn_up.weight", dim, p.ff(), 1 / Math.sqrt(dim), 0.0});
            tensors.add(new Object[]{b + "ffn_down.weight", p.ff(), dim, 1 / Math.sqrt(p.ff()), 0.0});
        }
        tensors.add(new Object[]{"output_norm.weight", dim, 1, 0.05, 1.0});
        if (!p.tied()) tensors.add(new Object[]{"output.weight", dim, vocab, 2 / Math.sqrt(dim), 0.0});

        for (Object[] t : tensors) {
            String name = (String) t[0];
            int cols = (Integer) t[1], rows = (Integer) t[2];
            double std = (Double) t[3], mean = (Double) t[4];
            long[] dims = rows == 1 ? new long[]{cols} : new long[]{cols, rows};
            GgmlType type = policy.typeFor(name, dims, p.layers(), p.tied());
            w.addTensor(name, type, dims, TensorStreams.quantized(type, cols, rows, gaussianRows(seed, name, cols, mean, std)));
        }
        return w;
    }

    /** Rows of N(mean, std), each row from its own generator keyed by (seed, name, row). */
    static RowSource gaussianRows(long seed, String name, int cols, double mean, double std) {
        long nameKey = name.hashCode() * 0x9E3779B97F4A7C15L;
        return (first, count, out) -> {
            for (int r = 0; r < count; r++) {
                SplittableRandom g = new SplittableRandom(seed ^ nameKey ^ ((first + r) * 0xC2B2AE3D27D4EB4FL));
                for (int c = 0; c < cols; c++) out[r * cols + c] = (float) (mean + std * g.nextGaussian());
            }
        };
    }

    /** Llama 3.1's rope scaling as per-pair frequency divisors (low_freq_factor 1, high 4, original context 8192). */
    static float[] llama3FreqFactors(int headDim, double base, double factor) {
        double oldCtx = 8192, low = 1, high = 4;
        double lowWavelen = oldCtx / low, highWavelen = oldCtx / high;
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            double freq = Math.pow(base, -2.0 * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) f[i] = 1;
            else if (wavelen > lowWavelen) f[i] = (float) factor;
            else {
                double smooth = (oldCtx / wavelen - low) / (high - low);
                f[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return f;
    }

    /** A SentencePiece vocabulary of {@code n} tokens: unk, bos, eos, the 256 bytes, then placeholders. */
    static void minimalVocabulary(GgufWriter w, int n) {
        if (n < 259) throw new LockstepException("a vocabulary needs at least 259 tokens, got " + n);
        String[] toks = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        toks[0] = "<unk>";
        types[0] = 2;
        toks[1] = "<s>";
        types[1] = 3;
        toks[2] = "</s>";
        types[2] = 3;
        for (int b = 0; b < 256; b++) {
            toks[3 + b] = String.format("<0x%02X>", b);
            types[3 + b] = 6;
        }
        for (int i = 259; i < n; i++) {
            toks[i] = "\u2581t" + i;
            scores[i] = -i;
            types[i] = 1;
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.put("tokenizer.ggml.tokens", GgufValue.ofArray(GgufValue.GgufArray.ofStrings(toks)));
        w.put("tokenizer.ggml.scores", GgufValue.ofArray(GgufValue.GgufArray.ofFloats(scores)));
        w.put("tokenizer.ggml.token_type", GgufValue.ofArray(GgufValue.GgufArray.ofInt32s(types)));
        w.putUInt32("tokenizer.ggml.bos_token_id", 1);
        w.putUInt32("tokenizer.ggml.eos_token_id", 2);
        w.putUInt32("tokenizer.ggml.unknown_token_id", 0);
    }

    /** Writes the model; {@code progress} receives tensor bytes written so far. */
    public static void write(Preset p, QuantPolicy policy, long seed, Path vocabFrom, Path out, LongConsumer progress) {
        plan(p, policy, seed, vocabFrom).write(out, progress);
    }
}
