package dev.lockstep.engine;

import dev.lockstep.LockstepException;
import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelRunner;

import java.util.Locale;

/**
 * Sentence embeddings from a decoder model, as llama.cpp's {@code llama-embedding} makes them: each
 * input runs alone through the model (causal attention, positions from 0), the final hidden states
 * (after the output norm) are pooled, and the result is scaled to unit length.
 *
 * <p>The same bits for an input whatever else is embedded: every input is its own forward pass (in
 * chunks), and the kernels' reduction orders depend on lengths only; so an input's
 * vector does not depend on the other inputs of its request, on other requests, on the thread count
 * or on the vector width (a RAG index built twice is identical). Calls are serialized (one runner).
 */
public final class Embedder implements AutoCloseable {
    /** How token vectors become one: llama.cpp's {@code pooling_type} 1, 2 and 3. */
    public enum Pooling {
        MEAN, CLS, LAST;

        public static Pooling parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new LockstepException("pooling must be mean, cls or last, not '" + s + "'");
            }
        }

        /** The file's {@code <arch>.pooling_type} if it names one of these, else {@code fallback}. */
        static Pooling of(Model model, Pooling fallback) {
            int type = model.file().getInt(model.architecture() + ".pooling_type", 0);
            return switch (type) {
                case 1 -> MEAN;
                case 2 -> CLS;
                case 3 -> LAST;
                default -> fallback; // 0 (none: per-token vectors) and 4 (rank) are not sentence embeddings
            };
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Tokens per forward pass. The bits do not depend on it (a prompt's K/V and hidden states are the
     * same however it is chunked: the engine's chunked-prefill guarantee; {@code EmbedderTest} runs
     * two chunk sizes), only the memory of the runner's buffers does.
     */
    static final int CHUNK = 256;
    private static final int BLOCK = 16;

    private final Model model;
    private final WorkerPool pool;
    private final ModelRunner runner;
    private final int dim;
    private final Pooling defaultPooling;
    private final int chunk;
    private final ForwardBatch batch;
    private final float[] rows;
    private KvCache cache;
    private int[] blockTable = new int[0];

    public Embedder(Model model, int threads, Activations activations) {
        this(model, threads, activations, CHUNK);
    }

    Embedder(Model model, int threads, Activations activations, int chunk) {
        this.model = model;
        this.defaultPooling = Pooling.of(model, Pooling.MEAN);
        this.chunk = chunk;
        this.batch = new ForwardBatch(chunk, 1);
        this.pool = new WorkerPool(threads);
        this.runner = model.newRunner(pool, chunk, activations);
        this.dim = runner.hiddenDim();
        if (dim == 0 || model.kvLayers() == 0) {
            pool.close();
            throw new LockstepException("a " + model.architecture() + " model has no embedding output here (transformers only)");
        }
        this.rows = new float[chunk * dim];
    }

    /** The model's pooling: the file's {@code pooling_type} if it names mean, cls or last, else mean. */
    public Pooling defaultPooling() {
        return defaultPooling;
    }

    /** Length of the vectors. */
    public int dim() {
        return dim;
    }

    /**
     * The longest input, in tokens: the model's context, at most 8192 (OpenAI's limit per input; the KV
     * cache of one input grows with it: 512 MB at 8192 tokens for a 1B Llama 3).
     */
    public int maxTokens() {
        return Math.min(model.contextLength(), MAX_INPUT_TOKENS);
    }

    static final int MAX_INPUT_TOKENS = 8192;

    /** The pooled, L2-normalized (if {@code normalize}) embedding of one token sequence. */
    public synchronized float[] embed(int[] tokens, Pooling pooling, boolean normalize) {
        int n = tokens.length;
        if (n == 0) throw new LockstepException("an input to embed has no tokens");
        if (n > maxTokens()) throw new LockstepException("an input of " + n + " tokens is longer than the " + maxTokens() + " this model embeds");
        ensureCache(n);
        double[] sum = new double[dim];
        for (int start = 0; start < n; start += chunk) {
            int end = Math.min(n, start + chunk);
            batch.clear();
            int seq = batch.addSequence(blockTable, 0, start);
            for (int t = start; t < end; t++) {
                boolean want = pooling == Pooling.MEAN || (pooling == Pooling.CLS && t == 0) || (pooling == Pooling.LAST && t == n - 1);
                batch.addToken(seq, tokens[t], t, want);
            }
            if (batch.numLogits == 0) { // K/V only: later tokens attend to these
                runner.forward(batch, cache, null);
                continue;
            }
            runner.hidden(batch, cache, rows);
            for (int i = 0; i < batch.numLogits; i++) // in token order: the sum's order depends on n only
                for (int j = 0; j < dim; j++) sum[j] += rows[i * dim + j];
        }
        double count = pooling == Pooling.MEAN ? n : 1;
        float[] out = new float[dim];
        for (int j = 0; j < dim; j++) out[j] = (float) (sum[j] / count);
        if (normalize) normalize(out);
        return out;
    }

    /** Scales to unit Euclidean length (llama.cpp's {@code --embd-normalize 2}); a zero vector stays zero. */
    public static void normalize(float[] v) {
        double ss = 0;
        for (float x : v) ss += (double) x * x;
        if (ss == 0) return;
        double inv = 1 / Math.sqrt(ss);
        for (int j = 0; j < v.length; j++) v[j] = (float) (v[j] * inv);
    }

    /** A KV cache for one sequence of {@code n} tokens, grown in steps of 512 tokens as inputs need. */
    private void ensureCache(int n) {
        int blocks = (n + BLOCK - 1) / BLOCK;
        if (cache != null && blockTable.length >= blocks) return;
        int want = Math.min((Math.max(n, 512) + 511) / 512 * 512, maxTokens() + BLOCK);
        int nb = (want + BLOCK - 1) / BLOCK;
        cache = new KvCache(model.kvLayers(), model.kvDim(), Math.max(1, model.kvHeadDim()), BLOCK, nb);
        blockTable = new int[nb];
        for (int i = 0; i < nb; i++) blockTable[i] = i;
    }

    @Override
    public void close() {
        pool.close();
    }
}
