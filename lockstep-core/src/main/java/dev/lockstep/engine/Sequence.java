package dev.lockstep.engine;

import dev.lockstep.sampling.Logprobs;

import java.util.ArrayList;
import java.util.List;

/**
 * The engine's state of one request: its tokens (prompt, then generated), how many of them have K/V
 * in the cache ({@code computed}), and its block table. Owned by the engine thread.
 *
 * <p>Invariant: {@code computed <= length}, and blocks {@code 0 .. blocksFor(computed)} are allocated.
 * A sequence needs a forward pass over tokens {@code [computed, length)}; when that range reaches
 * {@code length} the last token's logits give the next token.
 */
final class Sequence {
    enum State { WAITING, RUNNING, FINISHED }

    final long id;
    /** The sequences submitted with it (the scheduler's unit of fairness). */
    RequestGroup group;
    /** When it was (last) admitted: ties between sequences of equal service go to the earlier one. */
    long admittedAt;
    /** The scheduler step whose batch holds it (never a preemption victim in that step). */
    long scheduledStep = -1;
    final GenerationRequest request;
    final RequestHandle handle;
    final int promptLen;
    final int maxLength; // prompt + tokens it may generate
    /** Prompt, then generated tokens: {@code tokens[0..length)}; grown as they come, up to {@code maxLength}. */
    int[] tokens;
    int length;
    int computed;
    final int[] blockTable;
    int numBlocks;
    /** Chain hashes of this sequence's full blocks registered in the prefix cache. */
    final long[] blockHashes;
    int hashedBlocks;
    State state = State.WAITING;
    /** Whether the prefix cache has been consulted since the sequence (re)started waiting. */
    boolean prefixLooked;
    /** Whether it ever left the queue (the queue limit counts groups with a sequence never admitted). */
    boolean admitted;
    boolean promptLogprobsSent;
    int cachedPromptTokens;
    long arrivalNanos, firstTokenNanos, lastTokenNanos;
    final TextStream text;
    List<Logprobs.Entry> promptLogprobs;
    /** Its Finished event was sent (nothing more happens to it). */
    boolean reported;

    // speculative decoding: proposed tokens for positions length .. length+numDraft-1 (not yet confirmed)
    final SpecConfig.Mode specMode;
    final int[] draft;
    int numDraft;
    int specProposed, specAccepted, specSteps;
    // the draft model's own paged cache: its block table and how many positions hold valid draft K/V
    final int[] draftBlockTable;
    int draftNumBlocks;
    int draftValid;
    /** Recurrent models: the state slot while running (-1 otherwise). */
    int stateSlot = -1;
    // a constrained format (JSON mode, a JSON schema): its grammar's point after the tokens emitted so far
    Constraint constraint;
    /** The grammar points after each token of the proposal in {@code draft} (its job found them), or null. */
    GrammarWorker.Point[] proposalPoints;
    /** Waiting for its grammar with this logits row set aside; the scheduler skips it meanwhile. */
    boolean parked;
    float[] deferredLogits;
    /** At its length, out of the scheduler, to be reported when its grammar says whether its value closed. */
    boolean retired;
    // min_tokens: the tokens that may not be generated before it (end-of-generation and stop token ids)
    int[] bannedEarly;

    Sequence(long id, GenerationRequest request, RequestHandle handle, int maxLength, int blockSize, TextStream text,
             SpecConfig.Mode specMode, int draftMax) {
        this.id = id;
        this.request = request;
        this.handle = handle;
        this.promptLen = request.prompt().length;
        this.maxLength = maxLength;
        this.tokens = new int[Math.min(maxLength, promptLen + 256)]; // not max_tokens up front: most replies stop early
        System.arraycopy(request.prompt(), 0, tokens, 0, promptLen);
        this.length = promptLen;
        int maxBlocks = (maxLength + blockSize - 1) / blockSize;
        this.blockTable = new int[maxBlocks];
        this.blockHashes = new long[maxBlocks];
        this.text = text;
        if (request.promptLogprobs()) promptLogprobs = new ArrayList<>();
        this.specMode = specMode;
        this.draft = new int[specMode == SpecConfig.Mode.OFF ? 0 : draftMax];
        this.draftBlockTable = new int[specMode == SpecConfig.Mode.DRAFT ? maxBlocks : 0];
    }

    /** Appends a generated token (the caller has checked {@code length < maxLength}). */
    void append(int tok) {
        if (length == tokens.length) tokens = java.util.Arrays.copyOf(tokens, (int) Math.min(maxLength, 2L * tokens.length));
        tokens[length++] = tok;
    }

    /** Ready to decode: every token but the last has K/V, so the next step computes one position. */
    boolean decoding() {
        return computed == length - 1 && generated() > 0;
    }

    int generated() {
        return length - promptLen;
    }

    boolean wantsPromptLogprobs() {
        return promptLogprobs != null;
    }
}
