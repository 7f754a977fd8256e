package dev.lockstep.model;

import java.util.Arrays;

/**
 * One forward pass's worth of work: a ragged batch of tokens from several sequences, each at its own
 * position (prefill chunks and decode tokens mixed), plus, per sequence, where its cache lives.
 * The engine fills it; the model runner reads it. Preallocated to a capacity and reused every step.
 *
 * <p>Invariant: the tokens of one sequence appear in increasing position order and are contiguous.
 */
public final class ForwardBatch {
    public final int maxTokens, maxSeqs;
    /** Token ids, their positions, and the index of their sequence (into {@link #blockTables}). */
    public final int[] tokens, positions, seqOf;
    public int numTokens;
    /** Per sequence: its KV block table (transformers) and its recurrent state slot (SSM/TTT). */
    public final int[][] blockTables;
    public final int[] stateSlots;
    /** Recurrent models: every slot's state, {@code stateFloats} floats per slot (set once by the engine). */
    public float[] stateStore;
    /** Position of each sequence's first token in this batch (its cached length). */
    public final int[] seqStart;
    public int numSeqs;
    /** Indices (into the token arrays) of the tokens whose logits are wanted, in output order. */
    public final int[] logitTokens;
    public int numLogits;

    public ForwardBatch(int maxTokens, int maxSeqs) {
        this.maxTokens = maxTokens;
        this.maxSeqs = maxSeqs;
        this.tokens = new int[maxTokens];
        this.positions = new int[maxTokens];
        this.seqOf = new int[maxTokens];
        this.blockTables = new int[maxSeqs][];
        this.stateSlots = new int[maxSeqs];
        this.seqStart = new int[maxSeqs];
        this.logitTokens = new int[maxTokens];
    }

    public void clear() {
        numTokens = 0;
        numSeqs = 0;
        numLogits = 0;
        Arrays.fill(blockTables, null);
    }

    /** Starts a sequence whose next token is at {@code startPos}; returns its index in the batch. */
    public int addSequence(int[] blockTable, int stateSlot, int startPos) {
        if (numSeqs == maxSeqs) throw new IllegalStateException("batch holds at most " + maxSeqs + " sequences");
        blockTables[numSeqs] = blockTable;
        stateSlots[numSeqs] = stateSlot;
        seqStart[numSeqs] = startPos;
        return numSeqs++;
    }

    /** Adds a token of sequence {@code seq} at {@code pos}; returns its index in the batch. */
    public int addToken(int seq, int token, int pos, boolean wantLogits) {
        if (numTokens == maxTokens) throw new IllegalStateException("batch holds at most " + maxTokens + " tokens");
        int i = numTokens++;
        tokens[i] = token;
        positions[i] = pos;
        seqOf[i] = seq;
        if (wantLogits) logitTokens[numLogits++] = i;
        return i;
    }
}
