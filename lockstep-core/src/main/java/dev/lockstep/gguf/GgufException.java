package dev.lockstep.gguf;

import dev.lockstep.LockstepException;

import java.nio.file.Path;

/**
 * A GGUF file that cannot be read: the message names the file and what is wrong (and where). Names
 * quoted from the file (keys, tensors) may be anything a corrupt file holds, so the message is made
 * printable: control characters escaped, at most 1,000 characters, always one line.
 */
public final class GgufException extends LockstepException {
    public GgufException(Path file, String problem) {
        super(printable(file + ": " + problem));
    }

    public GgufException(Path file, String problem, Throwable cause) {
        super(printable(file + ": " + problem), cause);
    }

    /** {@code s} with control characters (newlines included) as {@code \xNN} and replacement characters as {@code \ufffd}, clipped. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 1000) + 16);
        for (int i = 0; i < s.length() && b.length() < 1000; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7F) b.append(String.format("\\x%02x", (int) c));
            else if (c == 0xFFFD || Character.isSurrogate(c) && !(Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1)))) b.append("\\ufffd");
            else if (Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)))) b.append("\\ufffd");
            else b.append(c);
        }
        if (b.length() >= 1000) b.append("...");
        return b.toString();
    }
}
