package dev.lockstep.engine;

import dev.lockstep.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same generation in separate JVMs that use different vector widths and JIT tiers gives identical
 * logits (SHA-256 of the logit bytes): the machine's widest vectors with C2 (default: the 512-bit
 * kernels on AVX-512, the 256-bit ones on AVX2), a 256-bit maximum vector size (the 256-bit kernels
 * everywhere), a 128-bit one (the scalar kernels), C2 disabled (C1 runs the Vector API's Java fallback
 * code), and the scalar kernels forced. (The pure interpreter, {@code -Xint}, gives the same digest
 * too but needs about a minute per model, so it is left to the README's manual check.)
 */
class JvmInvarianceTest {
    static final Map<String, List<String>> VARIANTS = new LinkedHashMap<>();

    static {
        VARIANTS.put("default", List.of());
        VARIANTS.put("MaxVectorSize=32", List.of("-XX:MaxVectorSize=32"));
        VARIANTS.put("MaxVectorSize=16", List.of("-XX:MaxVectorSize=16"));
        VARIANTS.put("C2 disabled", List.of("-XX:TieredStopAtLevel=1"));
        VARIANTS.put("forced scalar", List.of("-Dlockstep.scalar=true"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"models/tiny-qwen2-q8_0", "aidreams/aidreams260K-f16", "models/tiny-qwen3-q4_0"})
    void logitsAreIdenticalAcrossVectorWidthsAndJitTiers(String model) throws Exception {
        Path file = Fixtures.file(model + ".gguf");
        Map<String, String> digests = new LinkedHashMap<>();
        for (var v : VARIANTS.entrySet()) digests.put(v.getKey(), run(v.getValue(), file, 8));
        System.out.println(model + ": " + digests);
        String reference = digests.get("default").split(" ")[1];
        for (var e : digests.entrySet())
            assertEquals(reference, e.getValue().split(" ")[1], "logits of " + e.getKey() + " differ from the default JVM");
        assertTrue(digests.get("default").startsWith("simd"), "the default JVM runs a vector path");
        assertTrue(digests.get("MaxVectorSize=32").startsWith("simd256"));
        assertTrue(digests.get("MaxVectorSize=16").startsWith("scalar"));
    }

    /**
     * INT8 activations: the same digest in every JVM too (the kernels' 256-bit code, its Java fallback
     * under C1 and with 128-bit vectors, and the scalar specification), and not the f32 mode's digest.
     */
    @ParameterizedTest
    @ValueSource(strings = {"models/tiny-qwen2-q8_0", "models/tiny-qwen3-q4_0"})
    void int8LogitsAreIdenticalAcrossVectorWidthsAndJitTiers(String model) throws Exception {
        Path file = Fixtures.file(model + ".gguf");
        Map<String, String> digests = new LinkedHashMap<>();
        for (var v : VARIANTS.entrySet()) digests.put(v.getKey(), run(v.getValue(), file, 8, "int8"));
        System.out.println(model + " (int8): " + digests);
        String reference = digests.get("default").split(" ")[1];
        for (var e : digests.entrySet())
            assertEquals(reference, e.getValue().split(" ")[1], "int8 logits of " + e.getKey() + " differ from the default JVM");
        assertNotEquals(run(List.of(), file, 8).split(" ")[1], reference, "int8 gave the f32 digest: the mode is not on");
    }

    static String run(List<String> flags, Path model, int steps, String... more) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--add-modules=jdk.incubator.vector");
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.addAll(flags);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(LogitsDigest.class.getName());
        cmd.add(model.toString());
        cmd.add(String.valueOf(steps));
        cmd.addAll(List.of(more));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "child JVM timed out");
        assertEquals(0, p.exitValue(), "child JVM failed: " + err);
        return out;
    }
}
