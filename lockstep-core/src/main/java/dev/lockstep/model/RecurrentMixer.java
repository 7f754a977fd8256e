package dev.lockstep.model;

import dev.lockstep.kernels.WorkerPool;

/** One block of a recurrent model, one token at a time, over its state (a slice of a state slot). */
interface RecurrentMixer {
    /** Floats of this block's state. */
    int stateSize();

    /** A fresh sequence's state (zero for Mamba; the trained inner weights for TTT). */
    default void initState(float[] state, int so) {
        java.util.Arrays.fill(state, so, so + stateSize(), 0f);
    }

    /** x[xo .. xo+dModel) = block(x) for the token at absolute position {@code pos}; the state advances. */
    void step(float[] x, int xo, int pos, float[] state, int so);

    /**
     * {@code n} tokens through this block, in order: token t's vector at {@code x[t*dModel ..)}, its
     * state at {@code state[so[t] ..)} (tokens of one sequence in position order). The same bits as
     * {@link #step} token by token; a block may do the parts that do not depend on the recurrence for
     * all tokens at once (the projections, with each weight row reused across the tokens, split among
     * the pool's workers by output row).
     */
    default void steps(float[] x, int dModel, int n, int[] positions, float[] state, int[] so, WorkerPool pool) {
        for (int t = 0; t < n; t++) step(x, t * dModel, positions[t], state, so[t]);
    }

    /** The same weights with scratch buffers of its own (one per runner). */
    RecurrentMixer copy();
}
