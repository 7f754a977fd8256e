package dev.lockstep.model;

import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Rope;

/**
 * Hyper-parameters of a Llama-family transformer, read from the GGUF keys llama.cpp uses
 * ({@code <arch>.embedding_length}, {@code <arch>.attention.head_count}, ...).
 *
 * @param headDim      size of one query/key head ({@code attention.key_length}, default dim / heads)
 * @param ropeDim      rotated dimensions per head ({@code rope.dimension_count}, default headDim)
 * @param qkvBias      qwen2: q, k and v projections have biases
 * @param qkNorm       qwen3: per-head RMSNorm of q and k before RoPE
 */
public record TransformerConfig(String arch, int dim, int layers, int nHead, int nKvHead, int headDim, int ffDim,
                                int vocabSize, int contextLength, float rmsEps, double ropeBase, int ropeDim,
                                Rope.Layout ropeLayout, double ropePositionScale, boolean qkvBias, boolean qkNorm) {

    /** The largest context_length accepted (16M tokens; beyond any model's, far below what would overflow a size). */
    public static final int MAX_CONTEXT = 1 << 24;

    public int qDim() {
        return nHead * headDim;
    }

    public int kvDim() {
        return nKvHead * headDim;
    }

    public static TransformerConfig from(GgufFile f, String arch, int vocabSize) {
        String p = arch + ".";
        // every value is checked before anything is sized by it: a corrupt file fails here, by key
        int dim = f.getInt(p + "embedding_length", 1, 1 << 20);
        int layers = f.getInt(p + "block_count", 1, 4096);
        int nHead = f.getInt(p + "attention.head_count", 1, 4096);
        int nKv = f.getInt(p + "attention.head_count_kv", nHead, 1, nHead);
        int ff = f.getInt(p + "feed_forward_length", 1, 1 << 22);
        int ctx = f.getInt(p + "context_length", 2048, 1, MAX_CONTEXT);
        float eps = f.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f, 0f, 1f);
        double base = f.getFloat(p + "rope.freq_base", 10000f, 0f, 1e12f);
        if (vocabSize < 1 || vocabSize > 1 << 24)
            throw new GgufException(f.path(), "token_embd.weight has " + vocabSize + " rows: not a vocabulary (1 to 2^24 tokens)");
        if (nHead % nKv != 0)
            throw new GgufException(f.path(), "invalid head counts: " + p + "attention.head_count = " + nHead + ", "
                    + p + "attention.head_count_kv = " + nKv + " (heads must be a multiple of kv heads)");
        int headDim = f.getInt(p + "attention.key_length", dim / nHead, 2, 4096);
        int valueDim = f.getInt(p + "attention.value_length", headDim, 1, 4096);
        if (valueDim != headDim)
            throw new GgufException(f.path(), p + "attention.value_length = " + valueDim + " differs from key_length "
                    + headDim + ": not supported");
        int ropeDim = f.getInt(p + "rope.dimension_count", headDim, 2, headDim);
        if (ropeDim % 2 != 0)
            throw new GgufException(f.path(), p + "rope.dimension_count = " + ropeDim + " must be even (rotations act on pairs)");
        double posScale = 1.0;
        String scaling = f.getString(p + "rope.scaling.type", "none");
        switch (scaling) {
            case "none" -> { }
            case "linear" -> {
                float factor = f.getFloat(p + "rope.scaling.factor", 1f, 0f, 1e6f);
                posScale = 1.0 / factor;
            }
            default -> throw new GgufException(f.path(), p + "rope.scaling.type = '" + scaling
                    + "' is not supported (supported: none, linear; llama 3 scaling via rope_freqs.weight)");
        }
        Rope.Layout layout = switch (arch) {
            case "qwen2", "qwen3" -> Rope.Layout.NEOX;
            default -> Rope.Layout.NORMAL;
        };
        return new TransformerConfig(arch, dim, layers, nHead, nKv, headDim, ff, vocabSize, ctx, eps, base, ropeDim,
                layout, posScale, arch.equals("qwen2"), arch.equals("qwen3"));
    }
}
