package dev.lockstep.convert;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufWriter;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Random-weight Mamba and Mamba-2 models of real shapes, in the GGUF layout llama.cpp writes for them
 * ({@code <arch>.ssm.*} keys, {@code ssm_*} tensors), so that the recurrent models can be benchmarked
 * against llama.cpp on the same file without a download; and TTT-Linear models in Lockstep's {@code ttt}
 * layout ({@link dev.lockstep.model.Ttt}), to set against a Transformer of the same size. The initialisation follows the papers' where
 * it matters for stable values: A from {@code -(1..d_state)} (Mamba-1, S4D-real) or {@code -U(1, 16)}
 * per head (Mamba-2), dt biases the inverse softplus of steps spread over [0.001, 0.1], D = 1; matrices
 * N(0, 1/fan_in) and norms 1 + N(0, 0.05) as {@link Synthesizer}'s, each row from its own seeded generator.
 */
public final class RecurrentSynthesizer {
    private RecurrentSynthesizer() {}

    /**
     * A recurrent shape. {@code dtRank}: Mamba-1's time-step rank, or Mamba-2's head count;
     * {@code groups}: Mamba-2's B/C groups (1 for Mamba-1).
     */
    public record Preset(String name, String arch, int dim, int layers, int inner, int state, int conv, int dtRank, int groups,
                         int vocab) {}

    public static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    static {
        add(new Preset("mamba-130m", "mamba", 768, 24, 1536, 16, 4, 48, 1, 50280));
        add(new Preset("mamba2-370m", "mamba2", 1024, 48, 2048, 128, 4, 32, 1, 50280));
        add(new Preset("mamba-tiny", "mamba", 64, 2, 128, 16, 4, 4, 1, 512));
        add(new Preset("mamba2-tiny", "mamba2", 64, 2, 128, 16, 4, 8, 2, 512));
        // TTT: inner = the feed-forward width, dtRank = heads, state = the mini-batch size (the reference 125M config)
        add(new Preset("ttt-linear-125m", "ttt", 768, 12, 2048, 16, 4, 12, 1, 32000));
        add(new Preset("ttt-tiny", "ttt", 64, 2, 172, 16, 4, 4, 1, 512));
    }

    private static void add(Preset p) {
        PRESETS.put(p.name(), p);
    }

    /** The preset named {@code name}, or null if it is not a recurrent one. */
    public static Preset find(String name) {
        return PRESETS.get(name);
    }

    /** Plans the file: metadata, a minimal vocabulary, and the tensors (matrices in {@code policy}'s types, the rest F32). */
    public static GgufWriter plan(Preset p, QuantPolicy policy, long seed) {
        if (p.arch().equals("ttt")) return ttt(p, policy, seed);
        if (!p.arch().equals("mamba") && !p.arch().equals("mamba2")) throw new LockstepException("not a recurrent preset: " + p.name());
        boolean v2 = p.arch().equals("mamba2");
        GgufWriter w = new GgufWriter();
        String a = p.arch() + ".";
        w.putString("general.architecture", p.arch());
        w.putString("general.name", "lockstep-synth " + p.name() + " " + policy.name() + " seed " + seed);
        w.putString("general.description", "synthetic random-weight model written by lockstep synth; not a trained model");
        w.putUInt32("general.file_type", policy.fileType());
        w.putUInt32("general.quantization_version", 2);
        w.putUInt32(a + "context_length", 1 << 20); // a recurrent state has no context limit; llama.cpp writes 1M too
        w.putUInt32(a + "embedding_length", p.dim());
        w.putUInt32(a + "feed_forward_length", 0);
        w.putUInt32(a + "attention.head_count", 0);
        w.putUInt32(a + "block_count", p.layers());
        w.putFloat32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
        w.putUInt32(a + "vocab_size", p.vocab());
        w.putUInt32(a + "ssm.conv_kernel", p.conv());
        w.putUInt32(a + "ssm.inner_size", p.inner());
        w.putUInt32(a + "ssm.state_size", p.state());
        w.putUInt32(a + "ssm.time_step_rank", p.dtRank());
        if (v2) w.putUInt32(a + "ssm.group_count", p.groups());
        Synthesizer.minimalVocabulary(w, p.vocab());

        int dim = p.dim(), inner = p.inner(), state = p.state();
        matrix(w, policy, p, seed, "token_embd.weight", dim, p.vocab(), 2 / Math.sqrt(dim));
        for (int l = 0; l < p.layers(); l++) {
            String b = "blk." + l + ".";
            vector(w, seed, b + "attn_norm.weight", new long[]{dim}, 0.05, 1.0);
            if (v2) {
                int heads = p.dtRank(), convDim = inner + 2 * p.groups() * state;
                matrix(w, policy, p, seed, b + "ssm_in.weight", dim, inner + convDim + heads, 1 / Math.sqrt(dim));
                vector(w, seed, b + "ssm_conv1d.weight", new long[]{p.conv(), convDim}, 1 / Math.sqrt(p.conv()), 0.0);
                vector(w, seed, b + "ssm_conv1d.bias", new long[]{convDim}, 0.1, 0.0);
                w.addF32(b + "ssm_dt.bias", new long[]{heads}, dtBias(heads));
                float[] aHeads = new float[heads], d = new float[heads];
                for (int h = 0; h < heads; h++) {
                    aHeads[h] = -(1 + 15f * h / Math.max(1, heads - 1));
                    d[h] = 1;
                }
                w.addF32(b + "ssm_a", new long[]{1, heads}, aHeads);
                w.addF32(b + "ssm_d", new long[]{1, heads}, d);
                vector(w, seed, b + "ssm_norm.weight", new long[]{inner / p.groups(), p.groups()}, 0.05, 1.0);
            } else {
                matrix(w, policy, p, seed, b + "ssm_in.weight", dim, 2 * inner, 1 / Math.sqrt(dim));
                vector(w, seed, b + "ssm_conv1d.weight", new long[]{p.conv(), inner}, 1 / Math.sqrt(p.conv()), 0.0);
                vector(w, seed, b + "ssm_conv1d.bias", new long[]{inner}, 0.1, 0.0);
                matrix(w, policy, p, seed, b + "ssm_x.weight", inner, p.dtRank() + 2 * state, 1 / Math.sqrt(inner));
                matrix(w, policy, p, seed, b + "ssm_dt.weight", p.dtRank(), inner, 1 / Math.sqrt(p.dtRank()));
                w.addF32(b + "ssm_dt.bias", new long[]{inner}, dtBias(inner));
                float[] aMat = new float[inner * state], d = new float[inner];
                for (int i = 0; i < inner; i++) {
                    d[i] = 1;
                    for (int s = 0; s < state; s++) aMat[i * state + s] = -(s + 1);
                }
                w.addF32(b + "ssm_a", new long[]{state, inner}, aMat);
                w.addF32(b + "ssm_d", new long[]{inner}, d);
            }
            matrix(w, policy, p, seed, b + "ssm_out.weight", inner, dim, 1 / Math.sqrt(inner));
        }
        vector(w, seed, "output_norm.weight", new long[]{dim}, 0.05, 1.0);
        return w; // the output matrix is the embedding (tied), as in the Mamba releases
    }

    /**
     * TTT-Linear with the Transformer backbone (no shared Q/K convs, no gate, no pre-conv): per layer
     * the Q/K/V/O projections, the inner model's initial weights (N(0, 0.02), zero bias), the
     * learning-rate gate, the inner LayerNorm and post-norm, and a SwiGLU feed-forward; the reference
     * initialisation's token index 1/(i+1) over the mini-batch.
     */
    private static GgufWriter ttt(Preset p, QuantPolicy policy, long seed) {
        int hidden = p.dim(), heads = p.dtRank(), ff = p.inner(), b = p.state(), d = hidden / heads;
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "ttt");
        w.putString("general.name", "lockstep-synth " + p.name() + " " + policy.name() + " seed " + seed);
        w.putString("general.description", "synthetic random-weight model written by lockstep synth; not a trained model");
        w.putUInt32("general.file_type", policy.fileType());
        w.putUInt32("ttt.context_length", 2048);
        w.putUInt32("ttt.embedding_length", hidden);
        w.putUInt32("ttt.block_count", p.layers());
        w.putUInt32("ttt.feed_forward_length", ff);
        w.putUInt32("ttt.attention.head_count", heads);
        w.putFloat32("ttt.attention.layer_norm_rms_epsilon", 1e-6f);
        w.putUInt32("ttt.mini_batch_size", b);
        w.putUInt32("ttt.conv_kernel", p.conv());
        w.putString("ttt.layer_type", "linear");
        w.putFloat32("ttt.base_lr", 1f);
        w.putUInt32("ttt.vocab_size", p.vocab());
        Synthesizer.minimalVocabulary(w, p.vocab());
        matrix(w, policy, p, seed, "token_embd.weight", hidden, p.vocab(), 1.0);
        for (int l = 0; l < p.layers(); l++) {
            String x = "blk." + l + ".";
            for (String m : new String[]{"ttt_q", "ttt_k", "ttt_v", "ttt_o"})
                matrix(w, policy, p, seed, x + m + ".weight", hidden, hidden, 1 / Math.sqrt(hidden));
            float[] idx = new float[b];
            for (int i = 0; i < b; i++) idx[i] = 1f / (i + 1);
            w.addF32(x + "ttt_token_idx", new long[]{b}, idx);
            vector(w, seed, x + "ttt_lr.weight", new long[]{hidden, heads}, 0.02, 0.0);
            w.addF32(x + "ttt_lr.bias", new long[]{heads}, new float[heads]);
            vector(w, seed, x + "ttt_norm.weight", new long[]{d, heads}, 0.0, 1.0);
            w.addF32(x + "ttt_norm.bias", new long[]{d, heads}, new float[heads * d]);
            vector(w, seed, x + "ttt_w1", new long[]{d, d, heads}, 0.02, 0.0);
            w.addF32(x + "ttt_b1", new long[]{d, heads}, new float[heads * d]);
            vector(w, seed, x + "ttt_post_norm.weight", new long[]{hidden}, 0.0, 1.0);
            w.addF32(x + "ttt_post_norm.bias", new long[]{hidden}, new float[hidden]);
            vector(w, seed, x + "seq_norm.weight", new long[]{hidden}, 0.05, 1.0);
            vector(w, seed, x + "ffn_norm.weight", new long[]{hidden}, 0.05, 1.0);
            matrix(w, policy, p, seed, x + "ffn_gate.weight", hidden, ff, 1 / Math.sqrt(hidden));
            matrix(w, policy, p, seed, x + "ffn_up.weight", hidden, ff, 1 / Math.sqrt(hidden));
            matrix(w, policy, p, seed, x + "ffn_down.weight", ff, hidden, 1 / Math.sqrt(ff));
        }
        vector(w, seed, "output_norm.weight", new long[]{hidden}, 0.05, 1.0);
        matrix(w, policy, p, seed, "output.weight", hidden, p.vocab(), 2 / Math.sqrt(hidden));
        return w;
    }

    private static void matrix(GgufWriter w, QuantPolicy policy, Preset p, long seed, String name, int cols, int rows, double std) {
        long[] dims = {cols, rows};
        GgmlType type = policy.typeFor(name, dims, p.layers(), true); // (ssm_dt and the small tensors stay F32, as llama.cpp keeps them)
        w.addTensor(name, type, dims, TensorStreams.quantized(type, cols, rows, Synthesizer.gaussianRows(seed, name, cols, 0, std)));
    }

    /** A small F32 tensor of N(mean, std) values (rows of its first dimension). */
    private static void vector(GgufWriter w, long seed, String name, long[] dims, double std, double mean) {
        int cols = (int) dims[0], rows = 1;
        for (int i = 1; i < dims.length; i++) rows *= (int) dims[i];
        float[] v = new float[cols * rows];
        Synthesizer.gaussianRows(seed, name, cols, mean, std).rows(0, rows, v);
        w.addF32(name, dims, v);
    }

    /** softplus^-1 of time steps spread geometrically over [0.001, 0.1], as Mamba initialises dt. */
    private static float[] dtBias(int n) {
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            double dt = Math.exp(Math.log(0.001) + (Math.log(0.1) - Math.log(0.001)) * (n == 1 ? 0.5 : (double) i / (n - 1)));
            b[i] = (float) (dt + Math.log(-Math.expm1(-dt)));
        }
        return b;
    }
}
