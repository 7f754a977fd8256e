package dev.lockstep.server;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * {@code system_fingerprint}: a hash of the model file's content, the engine version and the numerics
 * settings. Lockstep's outputs depend on nothing else, so the same fingerprint and the same request
 * give the same response.
 */
final class Fingerprint {
    /** Bump when any kernel's arithmetic changes. */
    static final String NUMERICS = "canonical16-fma;rope-f64;exp-lockstep1;philox4x32-10";

    private Fingerprint() {}

    static String of(Path modelFile, String engineVersion) throws IOException {
        String content = sha256(modelFile);
        MessageDigest md = sha();
        md.update((content + "|" + engineVersion + "|" + NUMERICS).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return "fp_" + HexFormat.of().formatHex(md.digest()).substring(0, 12);
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md = sha();
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest sha() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
