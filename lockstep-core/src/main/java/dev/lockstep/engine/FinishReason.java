package dev.lockstep.engine;

/** Why a request ended. */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** max_tokens reached, or the context is full. */
    LENGTH,
    /** The client cancelled (or disconnected). */
    CANCELLED,
    /** The engine failed or shut down before the request finished; see the message. */
    ERROR;

    /** Ended without its answer: cancelled, or failed. */
    public boolean failed() {
        return this == CANCELLED || this == ERROR;
    }

    /** The OpenAI API's spelling. */
    public String openAi() {
        return switch (this) {
            case STOP -> "stop";
            case LENGTH -> "length";
            case CANCELLED -> "cancelled";
            case ERROR -> "error";
        };
    }
}
