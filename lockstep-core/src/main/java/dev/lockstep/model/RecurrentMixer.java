package dev.lockstep.model;

/** One block of a recurrent model, one token at a time, over its state (a slice of a state slot). */
interface RecurrentMixer {
    /** Floats of this block's state. */
    int stateSize();

    /** x[xo .. xo+dModel) += block(x); the state at {@code state[so ..]} advances by one token. */
    void step(float[] x, int xo, float[] state, int so);

    /** The same weights with scratch buffers of its own (one per runner). */
    RecurrentMixer copy();
}
