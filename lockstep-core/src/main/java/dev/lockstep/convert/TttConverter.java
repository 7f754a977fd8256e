package dev.lockstep.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufWriter;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Converts a TTT checkpoint in the reference PyTorch layout ({@code ttt-lm-pytorch}: a
 * {@code config.json} and {@code model.safetensors} with {@code model.layers.N.seq_modeling_block.*}
 * names) into a GGUF of architecture {@code ttt} (see {@link dev.lockstep.model.Ttt} for the keys and
 * tensor names). Values are stored as F32; every tensor keeps its bytes in row-major order, only the
 * dimension order is reversed (GGUF lists the innermost first).
 */
public final class TttConverter {
    private TttConverter() {}

    public static void convert(Path config, Path checkpoint, Path tokenizerFrom, Path out) {
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(config.toFile());
        } catch (IOException e) {
            throw new LockstepException(config + ": cannot read the config: " + e.getMessage());
        }
        Safetensors st = new Safetensors(checkpoint);
        try {
            int hidden = req(c, config, "hidden_size"), layers = req(c, config, "num_hidden_layers");
            int heads = req(c, config, "num_attention_heads"), ff = req(c, config, "intermediate_size");
            String type = c.path("ttt_layer_type").asText("linear");
            boolean share = c.path("share_qk").asBoolean(false), gate = c.path("use_gate").asBoolean(false);
            boolean pre = c.path("pre_conv").asBoolean(false);
            int k = c.path("conv_kernel").asInt(4), b = c.path("mini_batch_size").asInt(16);
            GgufWriter w = new GgufWriter();
            w.putString("general.architecture", "ttt");
            w.putString("general.name", "ttt converted from " + checkpoint.getFileName());
            w.putUInt32("ttt.embedding_length", hidden);
            w.putUInt32("ttt.block_count", layers);
            w.putUInt32("ttt.context_length", c.path("max_position_embeddings").asInt(2048));
            w.putUInt32("ttt.feed_forward_length", ff);
            w.putUInt32("ttt.attention.head_count", heads);
            w.putFloat32("ttt.attention.layer_norm_rms_epsilon", (float) c.path("rms_norm_eps").asDouble(1e-6));
            w.putFloat32("ttt.layer_norm_epsilon", 1e-6f);
            w.putString("ttt.layer_type", type);
            w.putUInt32("ttt.mini_batch_size", b);
            w.putFloat32("ttt.base_lr", (float) c.path("ttt_base_lr").asDouble(1.0));
            w.putFloat32("ttt.rope.freq_base", (float) c.path("rope_theta").asDouble(10000));
            w.putBool("ttt.share_qk", share);
            w.putBool("ttt.use_gate", gate);
            w.putBool("ttt.pre_conv", pre);
            w.putUInt32("ttt.conv_kernel", k);
            if (tokenizerFrom != null) {
                try (GgufFile tf = GgufFile.open(tokenizerFrom)) {
                    w.copyMetadata(tf, "tokenizer.");
                }
            } else {
                w.putString("tokenizer.ggml.model", "no_vocab");
            }
            add(w, st, "model.embed_tokens.weight", "token_embd.weight");
            add(w, st, "model.norm.weight", "output_norm.weight");
            if (st.tensor("lm_head.weight") != null && !c.path("tie_word_embeddings").asBoolean(false))
                add(w, st, "lm_head.weight", "output.weight");
            for (int i = 0; i < layers; i++) {
                String h = "model.layers." + i + ".", s = h + "seq_modeling_block.", g = "blk." + i + ".";
                add(w, st, h + "seq_norm.weight", g + "seq_norm.weight");
                add(w, st, h + "ffn_norm.weight", g + "ffn_norm.weight");
                add(w, st, h + "mlp.gate_proj.weight", g + "ffn_gate.weight");
                add(w, st, h + "mlp.up_proj.weight", g + "ffn_up.weight");
                add(w, st, h + "mlp.down_proj.weight", g + "ffn_down.weight");
                if (pre) {
                    add(w, st, h + "conv.norm.weight", g + "pre_conv_norm.weight");
                    add(w, st, h + "conv.conv.weight", g + "pre_conv.weight");
                    add(w, st, h + "conv.conv.bias", g + "pre_conv.bias");
                }
                add(w, st, s + "q_proj.weight", g + "ttt_q.weight");
                if (!share) add(w, st, s + "k_proj.weight", g + "ttt_k.weight");
                add(w, st, s + "v_proj.weight", g + "ttt_v.weight");
                add(w, st, s + "o_proj.weight", g + "ttt_o.weight");
                if (gate) add(w, st, s + "g_proj.weight", g + "ttt_g.weight");
                if (share) {
                    add(w, st, s + "conv_q.weight", g + "ttt_conv_q.weight");
                    add(w, st, s + "conv_q.bias", g + "ttt_conv_q.bias");
                    add(w, st, s + "conv_k.weight", g + "ttt_conv_k.weight");
                    add(w, st, s + "conv_k.bias", g + "ttt_conv_k.bias");
                }
                add(w, st, s + "learnable_token_idx", g + "ttt_token_idx");
                add(w, st, s + "learnable_ttt_lr_weight", g + "ttt_lr.weight");
                add(w, st, s + "learnable_ttt_lr_bias", g + "ttt_lr.bias");
                add(w, st, s + "ttt_norm_weight", g + "ttt_norm.weight");
                add(w, st, s + "ttt_norm_bias", g + "ttt_norm.bias");
                add(w, st, s + "W1", g + "ttt_w1");
                add(w, st, s + "b1", g + "ttt_b1");
                if (type.equals("mlp")) {
                    add(w, st, s + "W2", g + "ttt_w2");
                    add(w, st, s + "b2", g + "ttt_b2");
                }
                add(w, st, s + "post_norm.weight", g + "ttt_post_norm.weight");
                add(w, st, s + "post_norm.bias", g + "ttt_post_norm.bias");
            }
            w.write(out);
        } finally {
            st.close();
        }
    }

    private static int req(JsonNode c, Path config, String key) {
        if (!c.has(key) || !c.get(key).canConvertToInt()) throw new LockstepException(config + ": missing integer field '" + key + "'");
        return c.get(key).asInt();
    }

    /**
     * Same bytes, dimensions reversed; size-1 dimensions (e.g. [heads, 1, n]) are dropped, so conv weights
     * [C, 1, K] become {K, C} as llama.cpp stores ssm_conv1d.
     */
    private static void add(GgufWriter w, Safetensors st, String from, String to) {
        Safetensors.Tensor t = st.tensor(from);
        if (t == null) throw new LockstepException("the checkpoint has no tensor '" + from + "' (needed for " + to + ")");
        long[] dims = java.util.Arrays.stream(t.shape()).filter(d -> d != 1).toArray();
        if (dims.length == 0) dims = new long[]{1};
        long[] rev = new long[dims.length];
        for (int i = 0; i < dims.length; i++) rev[i] = dims[dims.length - 1 - i];
        w.addF32(to, rev, st.floats(from));
    }

}
