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
 * Mamba-1 and Mamba-2 (archs {@code mamba} and {@code mamba2}, llama.cpp's tensor names and
 * {@code <arch>.ssm.*} keys): an embedding, pre-norm {@link MambaMixer} / {@link Mamba2Mixer} blocks, a final RMSNorm and the (usually tied) output matrix. No KV cache:
 * each sequence carries a fixed-size recurrent state (conv windows and scan states of every layer) in
 * the slot the engine assigns, so memory per sequence is constant however long the context grows.
 *
 * <p>Tokens of a sequence are processed strictly in position order through the same per-token
 * function, so chunked prefill, batching and token-by-token decoding give identical bits.
 */
public final class Mamba implements Model {
    private final GgufFile file;
    private final String arch;
    private final int dModel, layers, vocab, context, dInner, dState, dConv, dtRank, groups;
    private final float eps;
    private final Matrix embedding, output;
    private final float[] outputNorm;
    private final RecurrentMixer[] mixers;

    public Mamba(GgufFile f, String arch) {
        this.file = f;
        this.arch = arch;
        boolean v2 = arch.equals("mamba2");
        TensorLoader tl = new TensorLoader(f);
        TensorInfo emb = f.tensor("token_embd.weight");
        if (emb == null) throw new GgufException(f.path(), "missing required tensor 'token_embd.weight'");
        vocab = (int) emb.dim(1);
        String p0 = arch + ".";
        dModel = f.getInt(p0 + "embedding_length");
        layers = f.getInt(p0 + "block_count");
        context = (int) Math.min(Integer.MAX_VALUE - 1, f.getInt(p0 + "context_length", 1 << 20));
        dConv = f.getInt(p0 + "ssm.conv_kernel");
        dInner = f.getInt(p0 + "ssm.inner_size");
        dState = f.getInt(p0 + "ssm.state_size");
        dtRank = f.getInt(p0 + "ssm.time_step_rank"); // mamba2: the number of heads
        groups = v2 ? f.getInt(p0 + "ssm.group_count", 1) : 1;
        eps = f.getFloat(p0 + "attention.layer_norm_rms_epsilon", 1e-5f);
        if (v2 && (dtRank <= 0 || dInner % dtRank != 0 || groups <= 0 || dtRank % groups != 0))
            throw new GgufException(f.path(), "mamba2: " + dtRank + " heads and " + groups + " groups do not divide d_inner "
                    + dInner + " evenly");
        if (f.getBool(p0 + "ssm.dt_b_c_rms", false))
            throw new GgufException(f.path(), "mamba.ssm.dt_b_c_rms = true (Falcon-Mamba) is not supported yet");
        embedding = tl.matrix("token_embd.weight", vocab, dModel);
        Matrix out = tl.matrixOrNull("output.weight", vocab, dModel);
        output = out != null ? out : embedding;
        outputNorm = tl.vector("output_norm.weight", dModel);
        mixers = new RecurrentMixer[layers];
        int convDim = dInner + 2 * groups * dState;
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            if (v2) {
                mixers[i] = new Mamba2Mixer(dModel, dInner, dState, dConv, dtRank, groups, eps,
                        tl.vector(p + "attn_norm.weight", dModel),
                        tl.vector(p + "ssm_in.weight", (dInner + convDim + dtRank) * dModel),
                        tl.vector(p + "ssm_conv1d.weight", convDim * dConv),
                        tl.vector(p + "ssm_conv1d.bias", convDim),
                        tl.vector(p + "ssm_dt.bias", dtRank),
                        tl.vector(p + "ssm_a", dtRank),
                        tl.vector(p + "ssm_d", dtRank),
                        tl.vector(p + "ssm_norm.weight", dInner),
                        tl.vector(p + "ssm_out.weight", dModel * dInner));
                continue;
            }
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
    @Override public String architecture() { return arch; }
    @Override public int vocabSize() { return vocab; }
    @Override public int contextLength() { return context; }
    @Override public int kvLayers() { return 0; }
    @Override public int kvDim() { return 0; }
    @Override public int kvHeadDim() { return 0; }

    /** Floats of one sequence's state: per layer, its conv window and its scan state. */
    @Override
    public int stateFloats() {
        return layers * mixers[0].stateSize();
    }

    @Override
    public String describe() {
        return String.format("%s: dim %d, %d layers, d_inner %d, d_state %d, d_conv %d, %s %d%s, vocab %d, context %d, "
                + "rms eps %.1e%s; state %d floats per sequence", arch, dModel, layers, dInner, dState, dConv,
                arch.equals("mamba2") ? "heads" : "dt_rank", dtRank, arch.equals("mamba2") ? ", groups " + groups : "", vocab,
                context, eps, output == embedding ? ", tied output" : "", stateFloats());
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
        private final RecurrentMixer[] own;

        Runner(WorkerPool pool, int maxTokens) {
            this.maxTokens = maxTokens;
            this.matmul = new MatMul(pool);
            this.x = new float[maxTokens * dModel];
            this.xb = new float[maxTokens * dModel];
            this.own = new RecurrentMixer[layers];
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
            int perLayer = own[0].stateSize();
            float[] st = b.stateStore;
            // tokens of one sequence are contiguous and in position order: run each through every layer in turn
            for (int t = 0; t < n; t++) {
                int base = b.stateSlots[b.seqOf[t]] * stateFloats();
                for (int li = 0; li < layers; li++) {
                    own[li].step(x, t * dModel, st, base + li * perLayer);
                }
            }
            for (int i = 0; i < b.numLogits; i++)
                Ops.rmsNorm(xb, i * dModel, x, b.logitTokens[i] * dModel, outputNorm, dModel, eps);
            if (b.numLogits > 0) matmul.apply(output, xb, 0, dModel, b.numLogits, logits, 0, vocab);
        }
    }
}
