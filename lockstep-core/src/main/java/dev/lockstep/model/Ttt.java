package dev.lockstep.model;

import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;

/**
 * The TTT language model (Sun et al. 2024; {@code ttt-lm-pytorch}'s {@code TTTForCausalLM}) as GGUF
 * architecture {@code ttt}, which Lockstep defines (llama.cpp has none). Keys, with the reference
 * config field each comes from:
 * <pre>
 * ttt.embedding_length (hidden_size)   ttt.block_count (num_hidden_layers)  ttt.context_length (max_position_embeddings)
 * ttt.feed_forward_length (intermediate_size)  ttt.attention.head_count (num_attention_heads)
 * ttt.attention.layer_norm_rms_epsilon (rms_norm_eps)  ttt.layer_norm_epsilon (1e-6: the inner and post LayerNorms)
 * ttt.layer_type ("linear" | "mlp")  ttt.mini_batch_size  ttt.base_lr (ttt_base_lr)  ttt.rope.freq_base (rope_theta)
 * ttt.share_qk  ttt.use_gate  ttt.pre_conv  ttt.conv_kernel
 * </pre>
 * Tensors per block {@code blk.N.} (GGUF dims innermost first; projections {in, out} as llama.cpp):
 * <pre>
 * seq_norm.weight {H}  ffn_norm.weight {H}  ffn_gate/ffn_up.weight {H, F}  ffn_down.weight {F, H}
 * ttt_q.weight {H, H}  ttt_k.weight {H, H} (absent with share_qk)  ttt_v.weight  ttt_o.weight  ttt_g.weight (use_gate)
 * ttt_conv_q.weight {K, H} + .bias {H}, ttt_conv_k.* (share_qk)   pre_conv_norm.weight {H}, pre_conv.weight {K, H} + .bias (pre_conv)
 * ttt_token_idx {B}  ttt_lr.weight {H, heads}  ttt_lr.bias {heads}  ttt_norm.weight / .bias {d, heads}
 * ttt_w1 {f, d, heads}  ttt_b1 {f, heads}  [mlp: ttt_w2 {d, f, heads}  ttt_b2 {d, heads}]
 * ttt_post_norm.weight / .bias {H}
 * </pre>
 * plus {@code token_embd.weight}, {@code output_norm.weight} and optionally {@code output.weight}.
 */
public final class Ttt extends RecurrentModel {

    public Ttt(GgufFile f) {
        super(f, "ttt");
    }

    @Override
    protected RecurrentMixer block(TensorLoader tl, int i) {
        GgufFile f = tl.file();
        String p = "blk." + i + ".";
        int hidden = f.getInt("ttt.embedding_length", 1, 1 << 14), heads = f.getInt("ttt.attention.head_count", 1, 1024);
        int ff = f.getInt("ttt.feed_forward_length", 1, 1 << 16), k = f.getInt("ttt.conv_kernel", 4, 1, 16);
        int b = f.getInt("ttt.mini_batch_size", 16, 1, 1024);
        String type = f.getString("ttt.layer_type", "linear");
        if (!type.equals("linear") && !type.equals("mlp"))
            throw new GgufException(f.path(), "ttt.layer_type = '" + type + "'; supported: linear, mlp");
        if (heads <= 0 || hidden % heads != 0)
            throw new GgufException(f.path(), "ttt.attention.head_count = " + heads + " does not divide " + hidden);
        boolean share = f.getBool("ttt.share_qk", false), gate = f.getBool("ttt.use_gate", false), pre = f.getBool("ttt.pre_conv", false);
        boolean mlp = type.equals("mlp");
        int d = hidden / heads, fi = mlp ? 4 * d : d;
        float lnEps = f.getFloat("ttt.layer_norm_epsilon", 1e-6f, 0f, 1f);
        TttLayer layer = new TttLayer(hidden, heads, k, share, gate, f.getFloat("ttt.base_lr", 1f, 0f, 1e6f), lnEps,
                f.getFloat("ttt.rope.freq_base", 10000f, 0f, 1e12f),
                tl.vector(p + "ttt_q.weight", hidden * hidden),
                share ? null : tl.vector(p + "ttt_k.weight", hidden * hidden),
                tl.vector(p + "ttt_v.weight", hidden * hidden),
                tl.vector(p + "ttt_o.weight", hidden * hidden),
                gate ? tl.vector(p + "ttt_g.weight", hidden * hidden) : null,
                share ? tl.vector(p + "ttt_conv_q.weight", hidden * k) : null,
                share ? tl.vector(p + "ttt_conv_q.bias", hidden) : null,
                share ? tl.vector(p + "ttt_conv_k.weight", hidden * k) : null,
                share ? tl.vector(p + "ttt_conv_k.bias", hidden) : null,
                tl.vector(p + "ttt_token_idx", b),
                tl.vector(p + "ttt_lr.weight", heads * hidden),
                tl.vector(p + "ttt_lr.bias", heads),
                tl.vector(p + "ttt_norm.weight", heads * d),
                tl.vector(p + "ttt_norm.bias", heads * d),
                tl.vector(p + "ttt_w1", heads * d * fi),
                tl.vector(p + "ttt_b1", heads * fi),
                mlp ? tl.vector(p + "ttt_w2", heads * fi * d) : null,
                mlp ? tl.vector(p + "ttt_b2", heads * d) : null,
                tl.vector(p + "ttt_post_norm.weight", hidden),
                tl.vector(p + "ttt_post_norm.bias", hidden));
        return new TttBlock(layer, ff, eps,
                tl.vector(p + "seq_norm.weight", hidden),
                tl.vector(p + "ffn_norm.weight", hidden),
                pre ? tl.vector(p + "pre_conv_norm.weight", hidden) : null,
                pre ? tl.vector(p + "pre_conv.weight", hidden * k) : null,
                pre ? tl.vector(p + "pre_conv.bias", hidden) : null,
                tl.vector(p + "ffn_gate.weight", ff * hidden),
                tl.vector(p + "ffn_up.weight", ff * hidden),
                tl.vector(p + "ffn_down.weight", hidden * ff));
    }

    @Override
    public String describe() {
        GgufFile f = file;
        return String.format("ttt: dim %d, %d layers, %d heads, TTT-%s, mini-batch %d, ff %d, vocab %d, context %d%s%s%s%s; "
                        + "state %d floats per sequence", dModel, layers, f.getInt("ttt.attention.head_count"),
                f.getString("ttt.layer_type", "linear").equals("mlp") ? "MLP" : "Linear", f.getInt("ttt.mini_batch_size", 16),
                f.getInt("ttt.feed_forward_length"), vocab, context, f.getBool("ttt.share_qk", false) ? ", shared qk" : "",
                f.getBool("ttt.use_gate", false) ? ", gate" : "", f.getBool("ttt.pre_conv", false) ? ", pre-conv" : "",
                output == embedding ? ", tied output" : "", stateFloats());
    }
}
