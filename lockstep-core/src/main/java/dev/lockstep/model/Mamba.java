package dev.lockstep.model;

import dev.lockstep.cache.KvCache;
import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.kernels.MatMul;
import dev.lockstep.kernels.Matrix;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.WorkerPool;

/**
 * Mamba-1 (arch {@code mamba}, llama.cpp's tensor names and {@code mamba.ssm.*} keys): an embedding,
 * pre-norm {@link MambaMixer} blocks, a final RMSNorm and the (usually tied) output matrix. No KV cache:
 * each sequence carries a fixed-size recurrent state (conv windows and scan states of every layer) in
 * the slot the engine assigns, so memory per sequence is constant however long the context grows.
 *
 * <p>Tokens of a sequence are processed strictly in position order through the same per-token
 * function, so chunked prefill, batching and token-by-token decoding give identical bits.
 */
public final class Mamba implements Model {
    private final GgufFile file;
    private final int dModel, layers, vocab, context, dInner, dState, dConv, dtRank;
    private final float eps;
    private final Matrix embedding, output;
    private final float[] outputNorm;
    private final MambaMixer[] mixers;

    public Mamba(GgufFile f) {
        this.file = f;
        TensorLoader tl = new TensorLoader(f);
        TensorInfo emb = f.tensor("token_embd.weight");
        if (emb == null) throw new GgufException(f.path(), "missing required tensor 'token_embd.weight'");
        vocab = (int) emb.dim(1);
        dModel = f.getInt("mamba.embedding_length");
        layers = f.getInt("mamba.block_count");
        context = (int) Math.min(Integer.MAX_VALUE - 1, f.getInt("mamba.context_length", 1 << 20));
        dConv = f.getInt("mamba.ssm.conv_kernel");
        dInner = f.getInt("mamba.ssm.inner_size");
        dState = f.getInt("mamba.ssm.state_size");
        dtRank = f.getInt("mamba.ssm.time_step_rank");
        eps = f.getFloat("mamba.attention.layer_norm_rms_epsilon", 1e-5f);
        if (f.getBool("mamba.ssm.dt_b_c_rms", false))
            throw new GgufException(f.path(), "mamba.ssm.dt_b_c_rms = true (Falcon-Mamba) is not supported yet");
        embedding = tl.matrix("token_embd.weight", vocab, dModel);
        Matrix out = tl.matrixOrNull("output.weight", vocab, dModel);
        output = out != null ? out : embedding;
        outputNorm = tl.vector("output_norm.weight", dModel);
        mixers = new MambaMixer[layers];
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            mixers[i] = new MambaMixer(dModel, dInner, dState, dConv, dtRank, eps,
                    tl.vector(p + "attn_norm.weight", dModel),
                    tl.vector(p + "ssm_in.weight", 2 * dInner * dModel),
                    tl.vector(p + "ssm_conv1d.weight", dInner * dConv),
                    tl.vector(p + "ssm_conv1d.bias", dInner),
                    tl.vector(p + "ssm_x.weight", (dtRank + 2 * dState) * dInner),
                    tl.vector(p + "ssm_dt.weight", dInner * dtRank),
                    tl.vector(p + "ssm_dt.bias", dInner),
                    tl.vector(p + "ssm_a", dInner * dState),
                    tl.vector(p + "ssm_d", dInner),
                    tl.vector(p + "ssm_out.weight", dModel * dInner));
        }
    }

    @Override public GgufFile file() { return file; }
    @Override public String architecture() { return "mamba"; }
    @Override public int vocabSize() { return vocab; }
    @Override public int contextLength() { return context; }
    @Override public int kvLayers() { return 0; }
    @Override public int kvDim() { return 0; }
    @Override public int kvHeadDim() { return 0; }

    /** Floats of one sequence's state: per layer, its conv window and its scan state. */
    @Override
    public int stateFloats() {
        return layers * (mixers[0].convStateSize() + mixers[0].ssmStateSize());
    }

    @Override
    public String describe() {
        return String.format("mamba: dim %d, %d layers, d_inner %d, d_state %d, d_conv %d, dt_rank %d, vocab %d, context %d, "
                + "rms eps %.1e%s; state %d floats per sequence", dModel, layers, dInner, dState, dConv, dtRank, vocab, context,
                eps, output == embedding ? ", tied output" : "", stateFloats());
    }

    @Override
    public ModelRunner newRunner(WorkerPool pool, int maxTokens) {
        return new Runner(pool, maxTokens);
    }

    private final class Runner implements ModelRunner {
        private final int maxTokens;
        private final MatMul matmul;
        private final float[] x, xb;
        // each runner has its own mixers' scratch: the weights are shared, the buffers are not
        private final MambaMixer[] own;

        Runner(WorkerPool pool, int maxTokens) {
            this.maxTokens = maxTokens;
            this.matmul = new MatMul(pool);
            this.x = new float[maxTokens * dModel];
            this.xb = new float[maxTokens * dModel];
            this.own = new MambaMixer[layers];
            for (int i = 0; i < layers; i++) own[i] = mixers[i].copy();
        }

        @Override
        public int maxTokens() {
            return maxTokens;
        }

        @Override
        public void forward(ForwardBatch b, KvCache cache, float[] logits) {
            int n = b.numTokens;
            if (n > maxTokens) throw new IllegalArgumentException(n + " tokens > runner capacity " + maxTokens);
            if (b.stateStore == null) throw new IllegalStateException("a recurrent model needs the batch's state store");
            for (int t = 0; t < n; t++) embedding.dequantizeRow(b.tokens[t], x, t * dModel);
            int conv = own[0].convStateSize(), ssm = own[0].ssmStateSize(), perLayer = conv + ssm;
            float[] st = b.stateStore;
            // tokens of one sequence are contiguous and in position order: run each through every layer in turn
            for (int t = 0; t < n; t++) {
                int base = b.stateSlots[b.seqOf[t]] * stateFloats();
                for (int li = 0; li < layers; li++) {
                    int o = base + li * perLayer;
                    own[li].step(x, t * dModel, st, o, st, o + conv);
                }
            }
            for (int i = 0; i < b.numLogits; i++)
                Ops.rmsNorm(xb, i * dModel, x, b.logitTokens[i] * dModel, outputNorm, dModel, eps);
            if (b.numLogits > 0) matmul.apply(output, xb, 0, dModel, b.numLogits, logits, 0, vocab);
        }
    }
}
