package dev.lockstep.engine;

import dev.lockstep.kernels.Activations;

/**
 * Engine settings (the CLI's and server's engine flags).
 *
 * @param threads          worker threads for the kernels
 * @param kvCacheBytes     memory for the paged KV cache; 0 = automatic (see {@link Engine})
 * @param blockSize        tokens per KV block
 * @param maxBatchTokens   tokens computed per step at most (prefill chunks + decode tokens)
 * @param maxSeqs          sequences running at once at most
 * @param maxWaiting       requests queued at most (a request: the sequences submitted together, with any not
 *                         yet admitted); more are rejected
 * @param maxRequestTokens what one request may hold: the sum over its sequences of prompt plus max_tokens;
 *                         a request above it is refused
 * @param prefixCaching    reuse cached KV blocks of identical prompt prefixes
 * @param maxLogitRows     logits rows per step at most (bounds memory when prompts are scored)
 * @param spec             speculative decoding (default for requests that do not choose)
 * @param activations      f32 (default) or INT8 activations in the matrix products ({@link Activations})
 */
public record EngineConfig(int threads, long kvCacheBytes, int blockSize, int maxBatchTokens, int maxSeqs,
                           int maxWaiting, boolean prefixCaching, int maxLogitRows, SpecConfig spec,
                           Activations activations, long maxRequestTokens) {

    /** The default {@link #maxRequestTokens}: 16 sequences of a 16K context. */
    public static final long DEFAULT_MAX_REQUEST_TOKENS = 1 << 18;

    public static EngineConfig defaults() {
        return new EngineConfig(Runtime.getRuntime().availableProcessors(), 0, 16, 512, 32, 1024, true, 64, SpecConfig.OFF, Activations.F32,
                DEFAULT_MAX_REQUEST_TOKENS);
    }

    public EngineConfig {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
        if (blockSize < 1) throw new IllegalArgumentException("block size must be >= 1");
        if (maxBatchTokens < 1) throw new IllegalArgumentException("max batch tokens must be >= 1");
        if (maxSeqs < 1) throw new IllegalArgumentException("max seqs must be >= 1");
        if (maxLogitRows < 1) throw new IllegalArgumentException("max logit rows must be >= 1");
        if (maxRequestTokens < 1) throw new IllegalArgumentException("max request tokens must be >= 1");
        if (spec == null) spec = SpecConfig.OFF;
        if (activations == null) activations = Activations.F32;
    }

    public EngineConfig withThreads(int t) {
        return new EngineConfig(t, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withKvCacheBytes(long b) {
        return new EngineConfig(threads, b, blockSize, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withMaxBatchTokens(int n) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, n, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withMaxSeqs(int n) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, n, maxWaiting, prefixCaching, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withMaxWaiting(int n) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, n, prefixCaching, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withPrefixCaching(boolean on) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, maxWaiting, on, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withBlockSize(int n) {
        return new EngineConfig(threads, kvCacheBytes, n, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, spec, activations, maxRequestTokens);
    }

    public EngineConfig withMaxLogitRows(int n) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, n, spec, activations, maxRequestTokens);
    }

    public EngineConfig withSpec(SpecConfig s) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, s, activations, maxRequestTokens);
    }

    public EngineConfig withActivations(Activations a) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, spec, a, maxRequestTokens);
    }

    public EngineConfig withMaxRequestTokens(long n) {
        return new EngineConfig(threads, kvCacheBytes, blockSize, maxBatchTokens, maxSeqs, maxWaiting, prefixCaching, maxLogitRows, spec,
                activations, n);
    }
}
