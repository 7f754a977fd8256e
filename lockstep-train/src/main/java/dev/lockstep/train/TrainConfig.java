package dev.lockstep.train;

import dev.lockstep.LockstepException;

/**
 * Shape of a trainable Llama-architecture model (RMSNorm, RoPE, GQA attention, SwiGLU, tied
 * embeddings) and its parameter layout in one flat float array.
 */
public record TrainConfig(int dim, int layers, int heads, int kvHeads, int ff, int vocab, int context, float ropeBase,
                         float rmsEps) {

    public TrainConfig {
        if (dim % heads != 0) throw new LockstepException("--dim " + dim + " is not a multiple of --heads " + heads);
        if (heads % kvHeads != 0) throw new LockstepException("--heads " + heads + " is not a multiple of --kv-heads " + kvHeads);
        if ((dim / heads) % 2 != 0) throw new LockstepException("the head size dim/heads must be even for RoPE");
    }

    public int headDim() { return dim / heads; }
    public int qDim() { return dim; }
    public int kvDim() { return kvHeads * headDim(); }

    // ---- parameter layout: token_embd, then per layer, then output_norm

    public int embOffset() { return 0; }

    /** Floats of one layer's parameters. */
    public int layerSize() {
        return dim + qDim() * dim + 2 * kvDim() * dim + dim * qDim() + dim + 3 * ff * dim;
    }

    public int layerOffset(int l) { return vocab * dim + l * layerSize(); }
    public int attnNorm(int l) { return layerOffset(l); }
    public int wq(int l) { return attnNorm(l) + dim; }
    public int wk(int l) { return wq(l) + qDim() * dim; }
    public int wv(int l) { return wk(l) + kvDim() * dim; }
    public int wo(int l) { return wv(l) + kvDim() * dim; }
    public int ffnNorm(int l) { return wo(l) + dim * qDim(); }
    public int wGate(int l) { return ffnNorm(l) + dim; }
    public int wUp(int l) { return wGate(l) + ff * dim; }
    public int wDown(int l) { return wUp(l) + ff * dim; }
    public int outputNorm() { return layerOffset(layers); }
    public int paramCount() { return outputNorm() + dim; }

    /** Whether the parameter at {@code offset} belongs to a norm (no weight decay, initialised to 1). */
    public boolean isNorm(int offset) {
        if (offset >= outputNorm()) return true;
        if (offset < layerOffset(0)) return false;
        int l = (offset - layerOffset(0)) / layerSize();
        return (offset >= attnNorm(l) && offset < wq(l)) || (offset >= ffnNorm(l) && offset < wGate(l));
    }
}
