package dev.lockstep.train;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.quant.Quantize;

import java.nio.file.Path;

/**
 * Writes trained parameters as a llama-architecture GGUF file that the engine (and llama.cpp) loads:
 * llama.cpp's tensor names, the output matrix tied to the embedding, and the tokenizer keys copied from
 * the tokenizer file. Matrices are written as F32 or quantized to {@code type}; norms stay F32.
 */
public final class ModelExport {
    private ModelExport() {}

    public static void write(TrainConfig c, float[] p, GgmlType type, Path tokenizerFile, String name, Path out) {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.name", name);
        w.putUInt32("general.file_type", type == GgmlType.F32 ? 0 : type == GgmlType.F16 ? 1 : type == GgmlType.Q8_0 ? 7 : 2);
        w.putUInt32("general.quantization_version", 2);
        w.putUInt32("llama.context_length", c.context());
        w.putUInt32("llama.embedding_length", c.dim());
        w.putUInt32("llama.block_count", c.layers());
        w.putUInt32("llama.feed_forward_length", c.ff());
        w.putUInt32("llama.attention.head_count", c.heads());
        w.putUInt32("llama.attention.head_count_kv", c.kvHeads());
        w.putFloat32("llama.attention.layer_norm_rms_epsilon", c.rmsEps());
        w.putFloat32("llama.rope.freq_base", c.ropeBase());
        w.putUInt32("llama.rope.dimension_count", c.headDim());
        w.putUInt32("llama.vocab_size", c.vocab());
        try (GgufFile tok = GgufFile.open(tokenizerFile)) {
            w.copyMetadata(tok, "tokenizer.");
        }
        matrix(w, "token_embd.weight", p, c.embOffset(), c.vocab(), c.dim(), type);
        for (int l = 0; l < c.layers(); l++) {
            String b = "blk." + l + ".";
            vector(w, b + "attn_norm.weight", p, c.attnNorm(l), c.dim());
            matrix(w, b + "attn_q.weight", p, c.wq(l), c.qDim(), c.dim(), type);
            matrix(w, b + "attn_k.weight", p, c.wk(l), c.kvDim(), c.dim(), type);
            matrix(w, b + "attn_v.weight", p, c.wv(l), c.kvDim(), c.dim(), type);
            matrix(w, b + "attn_output.weight", p, c.wo(l), c.dim(), c.qDim(), type);
            vector(w, b + "ffn_norm.weight", p, c.ffnNorm(l), c.dim());
            matrix(w, b + "ffn_gate.weight", p, c.wGate(l), c.ff(), c.dim(), type);
            matrix(w, b + "ffn_up.weight", p, c.wUp(l), c.ff(), c.dim(), type);
            matrix(w, b + "ffn_down.weight", p, c.wDown(l), c.dim(), c.ff(), type);
        }
        vector(w, "output_norm.weight", p, c.outputNorm(), c.dim());
        w.write(out);
    }

    private static void matrix(GgufWriter w, String name, float[] p, int off, int rows, int cols, GgmlType type) {
        float[] m = java.util.Arrays.copyOfRange(p, off, off + rows * cols);
        GgmlType t = cols % type.blockSize == 0 ? type : GgmlType.F32;
        w.addRaw(name, t, new long[]{cols, rows}, Quantize.quantize(t, m));
    }

    private static void vector(GgufWriter w, String name, float[] p, int off, int n) {
        w.addF32(name, new long[]{n}, java.util.Arrays.copyOfRange(p, off, off + n));
    }
}
