package dev.lockstep.engine;

/**
 * The sequences submitted together ({@link Engine#submitAll}: one HTTP request's prompts times its
 * choices): the unit the scheduler shares steps and running slots between. Engine thread only, but
 * for {@link #neverAdmitted}, which the submitting thread sets before the group is published.
 */
final class RequestGroup {
    /** Its sequences running now. */
    int running;
    /** Tokens computed for it so far (prefill and decode): who has been served least goes first. */
    long service;
    /** Its sequences never admitted yet: while any is, the group counts against the engine's queue limit. */
    int neverAdmitted;
    /** The step in which the scheduler last counted it (to count groups with work without a set). */
    long countedAt = -1;
}
