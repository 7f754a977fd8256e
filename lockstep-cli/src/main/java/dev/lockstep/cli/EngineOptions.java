package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.SpecConfig;
import dev.lockstep.kernels.Activations;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The engine's flags, shared by generate, chat, serve, bench and verify. */
final class EngineOptions {
    @Option(names = "--kv-cache-memory", paramLabel = "SIZE", converter = Sizes.class,
            description = "memory for the paged KV cache, e.g. 512M or 4G (default: sized to the work, or from free memory)")
    Long kvCacheMemory;

    @Option(names = "--max-batch-tokens", paramLabel = "N", description = "tokens computed per step at most (default: ${DEFAULT-VALUE})")
    int maxBatchTokens = 512;

    @Option(names = "--max-seqs", paramLabel = "N", description = "sequences decoded together at most (default: ${DEFAULT-VALUE})")
    int maxSeqs = 32;

    @Option(names = "--max-request-tokens", paramLabel = "N", description = "what one request may hold: its sequences "
            + "(prompts times n) times their prompt plus max_tokens; a request above it is refused (default: ${DEFAULT-VALUE})")
    long maxRequestTokens = EngineConfig.DEFAULT_MAX_REQUEST_TOKENS;

    @Option(names = "--max-queued-requests", paramLabel = "N", description = "requests waiting for the engine at most; "
            + "more get 429 (default: ${DEFAULT-VALUE})")
    int maxQueued = 1024;

    @Option(names = "--block-size", paramLabel = "N", description = "tokens per KV block (default: ${DEFAULT-VALUE})")
    int blockSize = 16;

    @Option(names = "--no-prefix-cache", description = "do not reuse cached KV blocks of identical prompt prefixes")
    boolean noPrefixCache;

    @Option(names = "--spec", paramLabel = "off|ngram|draft", description = "speculative decoding: prompt lookup or a draft "
            + "model proposes tokens, the model verifies them; the output is bit-identical to --spec off "
            + "(default: draft with --draft-model, else off)")
    String spec;

    @Option(names = "--draft-model", paramLabel = "FILE", description = "GGUF draft model with the same vocabulary (e.g. the model quantized to Q4_0)")
    Path draftModel;

    @Option(names = "--draft-max", paramLabel = "N", description = "tokens proposed per step at most (default: ${DEFAULT-VALUE})")
    int draftMax = 4;

    @Option(names = "--draft-min", paramLabel = "N", description = "fewer proposed tokens are not verified (default: ${DEFAULT-VALUE})")
    int draftMin = 1;

    @Option(names = "--activations", paramLabel = "f32|int8", description = "activations in the matrix products: f32 "
            + "(exact dequantized weights times f32), or int8 (quantized per block of 32 for Q8_0/Q4_0 weights, integer "
            + "products, as llama.cpp does: faster decoding on AVX2, less accurate, slower prompts); either keeps every "
            + "invariance guarantee (default: ${DEFAULT-VALUE})")
    String activations = "f32";

    Activations activationMode() {
        return activationMode(activations);
    }

    /** {@code --activations}' value, or a one-line error naming the flag (also for perplexity's flag). */
    static Activations activationMode(String value) {
        try {
            return Activations.parse(value);
        } catch (IllegalArgumentException e) {
            throw new LockstepException("--activations: " + e.getMessage());
        }
    }

    SpecConfig.Mode specMode() {
        if (spec == null) return draftModel != null ? SpecConfig.Mode.DRAFT : SpecConfig.Mode.OFF;
        SpecConfig.Mode m = SpecConfig.Mode.parse(spec, "--spec");
        if (m == SpecConfig.Mode.DRAFT && draftModel == null)
            throw new LockstepException("--spec draft needs --draft-model FILE");
        return m;
    }

    EngineConfig toConfig(int threads) {
        return EngineConfig.defaults().withThreads(threads).withKvCacheBytes(kvCacheMemory == null ? 0 : kvCacheMemory)
                .withMaxBatchTokens(maxBatchTokens).withMaxSeqs(maxSeqs).withBlockSize(blockSize)
                .withPrefixCaching(!noPrefixCache).withMaxRequestTokens(maxRequestTokens).withMaxWaiting(maxQueued)
                .withSpec(new SpecConfig(specMode(), draftMax, draftMin, 3, 1)).withActivations(activationMode());
    }

    /** The draft model, opened (null without --draft-model); the caller closes it. */
    LoadedModel openDraft() {
        return draftModel == null ? null : LoadedModel.open(draftModel, false);
    }
}
