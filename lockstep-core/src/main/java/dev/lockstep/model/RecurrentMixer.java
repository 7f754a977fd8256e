package dev.lockstep.model;

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

    /** The same weights with scratch buffers of its own (one per runner). */
    RecurrentMixer copy();
}
