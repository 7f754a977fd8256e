package dev.lockstep.model;

import dev.lockstep.kernels.Activations;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.WorkerPool;

/** A loaded model: its weights (in the mapped file) and what it needs from the cache. */
public interface Model {
    GgufFile file();

    String architecture();

    int vocabSize();

    /** The context length the model was trained for (positions beyond it are refused). */
    int contextLength();

    /** Layers that keep a KV cache, and floats per token per layer for K (and again for V). */
    int kvLayers();

    int kvDim();

    /** Size of one K/V head (the cache stores K transposed per head within a block). */
    int kvHeadDim();

    /**
     * Floats of recurrent state one sequence carries (conv windows, scan states), kept in a slot the
     * engine assigns ({@link ForwardBatch#stateSlots}); 0 for attention-only models.
     */
    default int stateFloats() {
        return 0;
    }

    /** Writes a fresh sequence's state into a slot (recurrent models only). */
    default void initState(float[] store, int offset) {
        java.util.Arrays.fill(store, offset, offset + stateFloats(), 0f);
    }

    /** One line describing the hyper-parameters. */
    String describe();

    /** A runner with activation buffers for up to {@code maxTokens} tokens per forward pass (f32 activations). */
    default ModelRunner newRunner(WorkerPool pool, int maxTokens) {
        return newRunner(pool, maxTokens, Activations.F32);
    }

    /** As {@link #newRunner(WorkerPool, int)}, its matrix products in the given activation mode. */
    ModelRunner newRunner(WorkerPool pool, int maxTokens, Activations activations);
}
