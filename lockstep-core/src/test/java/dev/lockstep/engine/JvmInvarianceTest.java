package dev.lockstep.engine;

import dev.lockstep.Fixtures;
import dev.lockstep.convert.QuantPolicy;
import dev.lockstep.convert.Synthesizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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
 *
 * <p>The digests are also pinned ({@link #GOLDEN}): computed on the AVX-512 machine (Zen 4) on
 * 2026-12-07, they must come out the same on an AVX2 machine (Zen 3), whose default JVM runs the
 * 256-bit kernels natively, and after any change that claims to keep the bits. A change that moves
 * them on purpose (a new numerics mode, a changed order) updates them in the same commit, saying why.
 */
class JvmInvarianceTest {
    static final Map<String, List<String>> VARIANTS = new LinkedHashMap<>();

    /** The pinned digests, per model and mode (the SHA-256 of all logits of {@link LogitsDigest}'s run). */
    static final Map<String, String> GOLDEN = Map.of(
            "models/tiny-qwen2-q8_0 f32", "b10cbc5792b55c47ad4ed854107ca373a1a00d2dd05d9dc5153e9521eea06e62",
            "aidreams/aidreams260K-f16 f32", "242063c51dc9bc9f5c0481e740cb1451132f2daa2c4488f5ef35a7adeb7b4119",
            "models/tiny-qwen3-q4_0 f32", "663a7875f454a75839f4fad7f2c31bee7dbe3ebf605e267299cd9e6896c76520",
            // moved on purpose (Scan): the scans' read-out y = s . C is the canonical dot, no longer a sequential fma chain
            "models/tiny-mamba-q8_0 f32", "a11ed1dcd5447b23a3bf27dcfa07aaef166d23a897222daed466fc5ab8edaa41",
            "models/tiny-qwen3-q4_0 int8", "fcba083831ad1d1b108ce9f792290df45fcee9d5cdb39c4cc4f01f0aa2ce6bac",
            "models/tiny-llama-q4_0 int8", "0789ad149d75c88d238c2b44dc02bb249f69a10301f0721abac03aabd108fcd3",
            "synthesized small Q4_K_M int8", "10569c3eac3f22c16fc90f4660f23bb05a4a35dba513951c8e3093316e5f39de");

    @TempDir
    static Path dir;

    static {
        VARIANTS.put("default", List.of());
        VARIANTS.put("MaxVectorSize=32", List.of("-XX:MaxVectorSize=32"));
        VARIANTS.put("MaxVectorSize=16", List.of("-XX:MaxVectorSize=16"));
        VARIANTS.put("C2 disabled", List.of("-XX:TieredStopAtLevel=1"));
        VARIANTS.put("forced scalar", List.of("-Dlockstep.scalar=true"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"models/tiny-qwen2-q8_0", "aidreams/aidreams260K-f16", "models/tiny-qwen3-q4_0", "models/tiny-mamba-q8_0"})
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
        assertEquals(GOLDEN.get(model + " f32"), reference, model + ": the logits moved from the pinned digest");
    }

    /**
     * INT8 activations: the same digest in every JVM too (the kernels of both widths, their Java
     * fallback under C1 and with 128-bit vectors, and the scalar specification), not the f32 mode's
     * digest, and the pinned one. Q4_0 fixtures; the K-quants below.
     */
    @ParameterizedTest
    @ValueSource(strings = {"models/tiny-qwen3-q4_0", "models/tiny-llama-q4_0"})
    void int8LogitsAreIdenticalAcrossVectorWidthsAndJitTiers(String model) throws Exception {
        int8Case(model, Fixtures.file(model + ".gguf"), 8);
    }

    /**
     * The K-quant INT8 kernels (Q4_K, and Q6_K for the output and some of ffn_down and attn_v): the
     * fixtures have no K-quant model, so the synthesizer writes one (seeded: the same file on every
     * machine), with rows of 512 and 1536 values as the K-quants need. Two decode steps: the scalar
     * JVMs take their time on a model this size.
     */
    @Test
    void int8KQuantLogitsAreIdenticalAcrossVectorWidthsAndJitTiers() throws Exception {
        Path file = dir.resolve("small-q4_k_m.gguf");
        Synthesizer.write(Synthesizer.preset("small", null), QuantPolicy.parse("Q4_K_M", false), 7, null, file, b -> {});
        int8Case("synthesized small Q4_K_M", file, 2);
    }

    private static void int8Case(String model, Path file, int steps) throws Exception {
        Map<String, String> digests = new LinkedHashMap<>();
        for (var v : VARIANTS.entrySet()) digests.put(v.getKey(), run(v.getValue(), file, steps, "int8"));
        System.out.println(model + " (int8): " + digests);
        String reference = digests.get("default").split(" ")[1];
        for (var e : digests.entrySet())
            assertEquals(reference, e.getValue().split(" ")[1], "int8 logits of " + e.getKey() + " differ from the default JVM");
        assertNotEquals(run(List.of(), file, steps).split(" ")[1], reference, "int8 gave the f32 digest: the mode is not on");
        assertEquals(GOLDEN.get(model + " int8"), reference, model + ": the int8 logits moved from the pinned digest");
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
