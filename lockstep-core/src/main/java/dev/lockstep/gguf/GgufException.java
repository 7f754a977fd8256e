package dev.lockstep.gguf;

import dev.lockstep.LockstepException;

import java.nio.file.Path;

/** A GGUF file that cannot be read: the message names the file and what is wrong (and where). */
public final class GgufException extends LockstepException {
    public GgufException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public GgufException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
