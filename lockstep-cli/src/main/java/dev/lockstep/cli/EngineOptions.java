package dev.lockstep.cli;

import dev.lockstep.engine.EngineConfig;
import picocli.CommandLine.Option;

/** The engine's flags, shared by generate, chat and (later) serve. */
final class EngineOptions {
    @Option(names = "--kv-cache-memory", paramLabel = "SIZE", converter = Sizes.class,
            description = "memory for the paged KV cache, e.g. 512M or 4G (default: sized to the work, or from free memory)")
    Long kvCacheMemory;

    @Option(names = "--max-batch-tokens", paramLabel = "N", description = "tokens computed per step at most (default: ${DEFAULT-VALUE})")
    int maxBatchTokens = 512;

    @Option(names = "--max-seqs", paramLabel = "N", description = "sequences decoded together at most (default: ${DEFAULT-VALUE})")
    int maxSeqs = 32;

    @Option(names = "--block-size", paramLabel = "N", description = "tokens per KV block (default: ${DEFAULT-VALUE})")
    int blockSize = 16;

    @Option(names = "--no-prefix-cache", description = "do not reuse cached KV blocks of identical prompt prefixes")
    boolean noPrefixCache;

    EngineConfig toConfig(int threads) {
        return EngineConfig.defaults().withThreads(threads).withKvCacheBytes(kvCacheMemory == null ? 0 : kvCacheMemory)
                .withMaxBatchTokens(maxBatchTokens).withMaxSeqs(maxSeqs).withBlockSize(blockSize)
                .withPrefixCaching(!noPrefixCache);
    }
}
