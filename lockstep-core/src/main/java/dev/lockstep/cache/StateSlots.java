package dev.lockstep.cache;

import dev.lockstep.model.Model;

/**
 * Recurrent-state slots: for models with a per-sequence state instead of (or besides) K/V — Mamba's conv
 * windows and scan states, TTT's inner weights and accumulated gradients — one fixed-size slot per
 * running sequence, kept beside the paged KV blocks. A slot is initialised by the model when a sequence
 * (re)starts at position 0 and returned when it finishes, is preempted or cancelled.
 */
public final class StateSlots {
    private final Model model;
    private final int floats;
    private final float[] store;
    private final int[] free;
    private int numFree;

    public StateSlots(Model model, int slots) {
        this.model = model;
        this.floats = model.stateFloats();
        this.store = new float[Math.multiplyExact(slots, floats)];
        this.free = new int[slots];
        for (int i = 0; i < slots; i++) free[i] = slots - 1 - i;
        this.numFree = slots;
    }

    /** Every slot's floats ({@code floats()} per slot), read and written by the model runner. */
    public float[] store() {
        return store;
    }

    public int floats() {
        return floats;
    }

    public int available() {
        return numFree;
    }

    /** A slot holding a fresh state. */
    public int acquire() {
        if (numFree == 0) throw new IllegalStateException("no free state slot");
        int s = free[--numFree];
        model.initState(store, s * floats);
        return s;
    }

    public void release(int slot) {
        free[numFree++] = slot;
    }
}
