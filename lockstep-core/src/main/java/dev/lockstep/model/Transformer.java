package dev.lockstep.model;

import dev.lockstep.kernels.Activations;
import dev.lockstep.cache.KvCache;
import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.kernels.Attention;
import dev.lockstep.kernels.MatMul;
import dev.lockstep.kernels.Matrix;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.Rope;
import dev.lockstep.kernels.WorkerPool;

/**
 * The Llama-family decoder (llama 2/3, mistral, qwen2, qwen3): pre-norm blocks of GQA attention with
 * RoPE and a SwiGLU feed-forward network. Weights stay in the memory-mapped GGUF file.
 *
 * <pre>
 * x = embed(token)
 * per layer:  h = rmsnorm(x) ; q,k,v = Wq h (+bq), Wk h (+bk), Wv h (+bv)
 *             [qwen3: q,k = rmsnorm per head] ; q,k = rope(q,k, pos) ; cache[pos] = k,v
 *             x += Wo attention(q, cache[0..pos])
 *             h = rmsnorm(x) ; x += Wdown (silu(Wgate h) * Wup h)
 * logits = Wout rmsnorm(x)        (Wout = embedding when the file has no output.weight)
 * </pre>
 */
public final class Transformer implements Model {

    /** Weights of one block; shapes in (rows x cols) of the matrices. */
    static final class Layer {
        float[] attnNorm;          // (dim)
        Matrix wq, wk, wv, wo;     // (qDim x dim), (kvDim x dim), (kvDim x dim), (dim x qDim)
        float[] bq, bk, bv;        // qwen2: (qDim), (kvDim), (kvDim)
        float[] qNorm, kNorm;      // qwen3: (headDim)
        float[] ffnNorm;           // (dim)
        Matrix gate, up, down;     // (ff x dim), (ff x dim), (dim x ff)
    }

    private final GgufFile file;
    private final TransformerConfig cfg;
    private final Matrix embedding;   // (vocab x dim)
    private final Layer[] layers;
    private final float[] outputNorm; // (dim)
    private final Matrix output;      // (vocab x dim)
    private final Rope rope;

    public Transformer(GgufFile file, String arch) {
        this.file = file;
        TensorLoader tl = new TensorLoader(file);
        TensorInfo emb = file.tensor("token_embd.weight");
        if (emb == null) throw new GgufException(file.path(), "missing required tensor 'token_embd.weight'");
        int vocab = (int) emb.dim(1);
        this.cfg = TransformerConfig.from(file, arch, vocab);
        int dim = cfg.dim();
        this.embedding = tl.matrix("token_embd.weight", vocab, dim);
        this.layers = new Layer[cfg.layers()];
        for (int i = 0; i < cfg.layers(); i++) {
            String p = "blk." + i + ".";
            Layer l = new Layer();
            l.attnNorm = tl.vector(p + "attn_norm.weight", dim);
            l.wq = tl.matrix(p + "attn_q.weight", cfg.qDim(), dim);
            l.wk = tl.matrix(p + "attn_k.weight", cfg.kvDim(), dim);
            l.wv = tl.matrix(p + "attn_v.weight", cfg.kvDim(), dim);
            l.wo = tl.matrix(p + "attn_output.weight", dim, cfg.qDim());
            if (cfg.qkvBias()) {
                l.bq = tl.vector(p + "attn_q.bias", cfg.qDim());
                l.bk = tl.vector(p + "attn_k.bias", cfg.kvDim());
                l.bv = tl.vector(p + "attn_v.bias", cfg.kvDim());
            }
            if (cfg.qkNorm()) {
                l.qNorm = tl.vector(p + "attn_q_norm.weight", cfg.headDim());
                l.kNorm = tl.vector(p + "attn_k_norm.weight", cfg.headDim());
            }
            l.ffnNorm = tl.vector(p + "ffn_norm.weight", dim);
            l.gate = tl.matrix(p + "ffn_gate.weight", cfg.ffDim(), dim);
            l.up = tl.matrix(p + "ffn_up.weight", cfg.ffDim(), dim);
            l.down = tl.matrix(p + "ffn_down.weight", dim, cfg.ffDim());
            layers[i] = l;
        }
        this.outputNorm = tl.vector("output_norm.weight", dim);
        Matrix out = tl.matrixOrNull("output.weight", vocab, dim);
        this.output = out != null ? out : embedding;
        float[] freqFactors = tl.vectorOrNull("rope_freqs.weight", cfg.ropeDim() / 2);
        this.rope = new Rope(cfg.ropeDim(), cfg.ropeBase(), freqFactors, cfg.ropeLayout(), cfg.ropePositionScale());
    }

    public TransformerConfig config() {
        return cfg;
    }

    @Override public GgufFile file() { return file; }
    @Override public String architecture() { return cfg.arch(); }
    @Override public int vocabSize() { return cfg.vocabSize(); }
    @Override public int contextLength() { return cfg.contextLength(); }
    @Override public int kvLayers() { return cfg.layers(); }
    @Override public int kvDim() { return cfg.kvDim(); }
    @Override public int kvHeadDim() { return cfg.headDim(); }
    public Rope rope() { return rope; }

    @Override
    public String describe() {
        return String.format("%s: dim %d, %d layers, %d heads / %d kv heads (head %d), ff %d, vocab %d, context %d, "
                        + "rope %s base %.0f dim %d, rms eps %.1e%s%s%s",
                cfg.arch(), cfg.dim(), cfg.layers(), cfg.nHead(), cfg.nKvHead(), cfg.headDim(), cfg.ffDim(),
                cfg.vocabSize(), cfg.contextLength(), cfg.ropeLayout(), cfg.ropeBase(), cfg.ropeDim(), cfg.rmsEps(),
                output == embedding ? ", tied output" : "", cfg.qkvBias() ? ", qkv bias" : "",
                cfg.qkNorm() ? ", q/k norm" : "");
    }

    @Override
    public ModelRunner newRunner(WorkerPool pool, int maxTokens, Activations activations) {
        return new Runner(pool, maxTokens, activations);
    }

    /** Activation buffers for up to {@code maxTokens} tokens per forward pass, allocated once. */
    private final class Runner implements ModelRunner {
        private final int maxTokens;
        private final MatMul matmul;
        private final Attention attention;
        // [token][...] row-major activations
        private final float[] x, xb, q, k, v, att, hb, hb2, ropeCos, ropeSin;

        Runner(WorkerPool pool, int maxTokens, Activations activations) {
            this.maxTokens = maxTokens;
            this.matmul = new MatMul(pool, activations);
            this.attention = new Attention(pool);
            int dim = cfg.dim();
            x = new float[maxTokens * dim];
            xb = new float[maxTokens * Math.max(dim, cfg.qDim())];
            q = new float[maxTokens * cfg.qDim()];
            k = new float[maxTokens * cfg.kvDim()];
            v = new float[maxTokens * cfg.kvDim()];
            att = new float[maxTokens * cfg.qDim()];
            hb = new float[maxTokens * cfg.ffDim()];
            hb2 = new float[maxTokens * cfg.ffDim()];
            ropeCos = new float[maxTokens * cfg.ropeDim() / 2];
            ropeSin = new float[maxTokens * cfg.ropeDim() / 2];
        }

        @Override
        public int maxTokens() {
            return maxTokens;
        }

        @Override
        public long matmulNanos() {
            return matmul.nanos();
        }

        @Override
        public long attentionNanos() {
            return attention.nanos();
        }

        @Override
        public void forward(ForwardBatch b, KvCache cache, float[] logits) {
            layers(b, cache);
            // logits only where asked: gather the normalized rows, then one matmul
            outputRows(b, xb);
            if (b.numLogits > 0) matmul.apply(output, xb, 0, cfg.dim(), b.numLogits, logits, 0, cfg.vocabSize());
        }

        @Override
        public int hiddenDim() {
            return cfg.dim();
        }

        @Override
        public boolean hidden(ForwardBatch b, KvCache cache, float[] out) {
            layers(b, cache);
            outputRows(b, out);
            return true;
        }

        /** The output norm of each token {@code b.logitTokens[i]}'s residual, into {@code dst[i*dim ..]}. */
        private void outputRows(ForwardBatch b, float[] dst) {
            int dim = cfg.dim();
            for (int i = 0; i < b.numLogits; i++)
                Ops.rmsNorm(dst, i * dim, x, b.logitTokens[i] * dim, outputNorm, dim, cfg.rmsEps());
        }

        /** Every layer over the batch: the residual stream ends in {@code x}. */
        private void layers(ForwardBatch b, KvCache cache) {
            int n = b.numTokens;
            if (n > maxTokens) throw new IllegalArgumentException(n + " tokens > runner capacity " + maxTokens);
            int dim = cfg.dim(), qDim = cfg.qDim(), kvDim = cfg.kvDim(), ff = cfg.ffDim(), hd = cfg.headDim();
            for (int t = 0; t < n; t++) embedding.dequantizeRow(b.tokens[t], x, t * dim);
            rope.fillTables(b.positions, n, ropeCos, ropeSin);
            int half = cfg.ropeDim() / 2;
            float scale = 1f / (float) Math.sqrt(hd);

            for (int li = 0; li < layers.length; li++) {
                Layer l = layers[li];
                // attention
                for (int t = 0; t < n; t++) Ops.rmsNorm(xb, t * dim, x, t * dim, l.attnNorm, dim, cfg.rmsEps());
                matmul.applyShared(xb, 0, dim, n, l.wq, q, l.wk, k, l.wv, v);
                for (int t = 0; t < n; t++) {
                    if (l.bq != null) {
                        Ops.addInPlace(q, t * qDim, l.bq, 0, qDim);
                        Ops.addInPlace(k, t * kvDim, l.bk, 0, kvDim);
                        Ops.addInPlace(v, t * kvDim, l.bv, 0, kvDim);
                    }
                    if (l.qNorm != null) {
                        for (int h = 0; h < cfg.nHead(); h++)
                            Ops.rmsNorm(q, t * qDim + h * hd, q, t * qDim + h * hd, l.qNorm, hd, cfg.rmsEps());
                        for (int h = 0; h < cfg.nKvHead(); h++)
                            Ops.rmsNorm(k, t * kvDim + h * hd, k, t * kvDim + h * hd, l.kNorm, hd, cfg.rmsEps());
                    }
                    rope.apply(q, t * qDim, cfg.nHead(), hd, ropeCos, ropeSin, t * half);
                    rope.apply(k, t * kvDim, cfg.nKvHead(), hd, ropeCos, ropeSin, t * half);
                    // K/V go into their pages before attention reads them.
                    cache.write(li, b.blockTables[b.seqOf[t]], b.positions[t], k, t * kvDim, v, t * kvDim);
                }
                attention.apply(cache, li, q, att, n, b.positions, b.seqOf, b.blockTables, cfg.nHead(), cfg.nKvHead(),
                        hd, scale);
                matmul.apply(l.wo, att, 0, qDim, n, xb, 0, dim);
                for (int t = 0; t < n; t++) Ops.addInPlace(x, t * dim, xb, t * dim, dim);

                // feed-forward
                for (int t = 0; t < n; t++) Ops.rmsNorm(xb, t * dim, x, t * dim, l.ffnNorm, dim, cfg.rmsEps());
                matmul.applyShared(xb, 0, dim, n, l.gate, hb, l.up, hb2, null, null);
                for (int t = 0; t < n; t++) Ops.swiglu(hb, t * ff, hb2, t * ff, ff);
                matmul.apply(l.down, hb, 0, ff, n, xb, 0, dim);
                for (int t = 0; t < n; t++) Ops.addInPlace(x, t * dim, xb, t * dim, dim);
            }
        }
    }
}
