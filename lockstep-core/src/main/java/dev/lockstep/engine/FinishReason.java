package dev.lockstep.engine;

/** Why a request ended. */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** max_tokens reached, or the context is full. */
    LENGTH,
    /** The client cancelled (or disconnected). */
    CANCELLED,
    /** Computing this request failed (a bug, a resource exhausted, a grammar limit); see the message. */
    ERROR,
    /**
     * The engine stopped before the request finished, through no fault of the request: it shut down, or
     * it can serve nothing any more (the model file was damaged); see the message.
     */
    ABORTED,
    /**
     * The request asked for more than the engine's bounds allow, found while computing it (a response
     * format whose grammar grew past its limits); see the message.
     */
    REFUSED;

    /** Ended without its answer: cancelled, failed or aborted. */
    public boolean failed() {
        return this == CANCELLED || this == ERROR || this == ABORTED || this == REFUSED;
    }

    /** The OpenAI API's spelling. */
    public String openAi() {
        return switch (this) {
            case STOP -> "stop";
            case LENGTH -> "length";
            case CANCELLED -> "cancelled";
            case ERROR, ABORTED, REFUSED -> "error";
        };
    }
}
