package dev.lockstep.model;

import dev.lockstep.kernels.Activations;
import dev.lockstep.cache.KvCache;
import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.kernels.MatMul;
import dev.lockstep.kernels.Matrix;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.WorkerPool;

/**
 * A language model whose blocks are recurrent ({@link RecurrentMixer}: Mamba, Mamba-2, TTT): an
 * embedding, the blocks, a final RMSNorm and the (often tied) output matrix. No KV cache: each sequence
 * carries a fixed-size state (every block's) in the slot the engine assigns, so memory per sequence is
 * constant however long the context grows.
 *
 * <p>Tokens of a sequence are processed strictly in position order through the same per-token
 * functions (a block's projections may run for all the step's tokens at once, each output the same
 * dot product), so chunked prefill, batching and token-by-token decoding give identical bits.
 */
public abstract class RecurrentModel implements Model {
    protected final GgufFile file;
    protected final String arch;
    protected final int dModel, layers, vocab, context;
    protected final float eps;
    protected final Matrix embedding, output;
    protected final float[] outputNorm;
    protected final RecurrentMixer[] mixers;

    protected RecurrentModel(GgufFile f, String arch) {
        this.file = f;
        this.arch = arch;
        TensorLoader tl = new TensorLoader(f);
        TensorInfo emb = f.tensor("token_embd.weight");
        if (emb == null) throw new GgufException(f.path(), "missing required tensor 'token_embd.weight'");
        String p0 = arch + ".";
        vocab = (int) Math.min(emb.dim(1), Integer.MAX_VALUE);
        if (vocab < 1 || vocab > 1 << 24)
            throw new GgufException(f.path(), "token_embd.weight has " + emb.dim(1) + " rows: not a vocabulary (1 to 2^24 tokens)");
        // ranges checked before anything is sized by them; small enough that every weight count fits an int
        dModel = f.getInt(p0 + "embedding_length", 1, 1 << 14);
        layers = f.getInt(p0 + "block_count", 1, 4096);
        context = f.getInt(p0 + "context_length", 1 << 20, 1, TransformerConfig.MAX_CONTEXT);
        eps = f.getFloat(p0 + "attention.layer_norm_rms_epsilon", 1e-5f, 0f, 1f);
        embedding = tl.matrix("token_embd.weight", vocab, dModel);
        Matrix out = tl.matrixOrNull("output.weight", vocab, dModel);
        output = out != null ? out : embedding;
        outputNorm = tl.vector("output_norm.weight", dModel);
        mixers = new RecurrentMixer[layers];
        for (int i = 0; i < layers; i++) mixers[i] = block(tl, i);
    }

    /** Block {@code i} from the file (called from the constructor; subclass fields are not set yet). */
    protected abstract RecurrentMixer block(TensorLoader tl, int i);

    @Override public GgufFile file() { return file; }
    @Override public String architecture() { return arch; }
    @Override public int vocabSize() { return vocab; }
    @Override public int contextLength() { return context; }
    @Override public int kvLayers() { return 0; }
    @Override public int kvDim() { return 0; }
    @Override public int kvHeadDim() { return 0; }

    /** Floats of one sequence's state: every block's. */
    @Override
    public int stateFloats() {
        int n = 0;
        for (RecurrentMixer m : mixers) n += m.stateSize();
        return n;
    }

    @Override
    public void initState(float[] st, int so) {
        for (RecurrentMixer m : mixers) {
            m.initState(st, so);
            so += m.stateSize();
        }
    }

    @Override
    public ModelRunner newRunner(WorkerPool pool, int maxTokens, Activations activations) {
        return new Runner(pool, maxTokens, activations);
    }

    private final class Runner implements ModelRunner {
        private final int maxTokens;
        private final MatMul matmul;
        private final WorkerPool pool;
        private final float[] x, xb;
        private final int[] so;
        // each runner has its own blocks' scratch: the weights are shared, the buffers are not
        private final RecurrentMixer[] own;

        Runner(WorkerPool pool, int maxTokens, Activations activations) {
            this.maxTokens = maxTokens;
            this.matmul = new MatMul(pool, activations);
            this.pool = pool;
            this.so = new int[maxTokens];
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
            float[] st = b.stateStore;
            int per = stateFloats();
            // block by block over all the tokens (each token's block input is the previous block's output for it,
            // and tokens of one sequence are contiguous and in position order, so each state advances in order)
            for (int t = 0; t < n; t++) so[t] = b.stateSlots[b.seqOf[t]] * per;
            for (int li = 0; li < layers; li++) {
                own[li].steps(x, dModel, n, b.positions, st, so, pool);
                for (int t = 0; t < n; t++) so[t] += own[li].stateSize();
            }
            for (int i = 0; i < b.numLogits; i++)
                Ops.rmsNorm(xb, i * dModel, x, b.logitTokens[i] * dModel, outputNorm, dModel, eps);
            if (b.numLogits > 0) matmul.apply(output, xb, 0, dModel, b.numLogits, logits, 0, vocab);
        }
    }
}
