package dev.lockstep.gguf;

import dev.lockstep.Fixtures;
import dev.lockstep.LockstepException;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Corrupt model files fail with one line that names the problem, or load and run; never another
 * exception, a hang or a crash. Corruptions: the file cut short, bytes flipped in the header, metadata
 * and tensor table, counts and offsets overwritten with absurd values, hyper-parameters set to absurd
 * values (0, negative, 2^31-1, NaN, infinity) by rewriting the file, and tensor data overwritten (which
 * may give NaN weights: a model that loads must then answer a request with a result or an explicit
 * error). Each file that loads runs one short request.
 */
class GgufCorruptionProperties {
    private static final List<String> BASES = List.of("models/tiny-llama-q8_0.gguf", "models/tiny-qwen3-q4_0.gguf",
            "models/tiny-qwen2-f16.gguf", "models/tiny-mamba-f32.gguf", "mamba/mamba2_block.gguf");
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("lockstep-corrupt");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterContainer
    static void cleanUp() throws IOException {
        OUTCOMES.forEach((k, v) -> System.out.println("GGUF corruption outcome: " + k + " x" + v));
        try (var files = Files.list(DIR)) {
            for (Path p : files.toList()) Files.deleteIfExists(p);
        }
        Files.deleteIfExists(DIR);
    }

    enum Kind { TRUNCATE, FLIP_HEADER_BYTES, ABSURD_FIELD, ABSURD_HYPERPARAMETER, OVERWRITE_TENSOR_DATA }

    /** Outcomes seen, for the README's figures (printed at the end of the run). */
    private static final Map<String, Integer> OUTCOMES = new java.util.concurrent.ConcurrentSkipListMap<>();

    @Property(tries = 300, seed = "20261207")
    void aCorruptFileFailsWithOneLineOrLoadsAndRuns(@ForAll @IntRange(min = 0, max = 4) int base,
                                                     @ForAll @IntRange(min = 0, max = 4) int kind, @ForAll long seed) throws Exception {
        Path original = Fixtures.file(BASES.get(base));
        byte[] bytes = Files.readAllBytes(original);
        Random rnd = new Random(seed);
        Kind k = Kind.values()[kind];
        Path bad = DIR.resolve("corrupt-" + base + "-" + kind + "-" + Long.toHexString(seed) + ".gguf");
        long dataStart;
        try (GgufFile f = GgufFile.open(original)) {
            dataStart = f.dataStart();
        }
        switch (k) {
            case TRUNCATE -> Files.write(bad, Arrays.copyOf(bytes, rnd.nextInt(bytes.length)));
            case FLIP_HEADER_BYTES -> {
                for (int i = 1 + rnd.nextInt(4); i > 0; i--) bytes[rnd.nextInt((int) dataStart)] ^= (byte) (1 << rnd.nextInt(8));
                Files.write(bad, bytes);
            }
            case ABSURD_FIELD -> {
                long[] absurd = {-1L, Long.MAX_VALUE, 1L << 40, 0L, 0xFFFFFFFFL, 1L << 31};
                int at = 8 + rnd.nextInt((int) dataStart - 16);
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(at, absurd[rnd.nextInt(absurd.length)]);
                Files.write(bad, bytes);
            }
            case ABSURD_HYPERPARAMETER -> rewriteWithAbsurdValue(original, bad, rnd);
            case OVERWRITE_TENSOR_DATA -> {
                int from = (int) dataStart + rnd.nextInt(bytes.length - (int) dataStart);
                byte fill = (byte) (rnd.nextBoolean() ? 0xFF : 0x7F); // NaN / huge float and half patterns
                for (int i = from; i < Math.min(bytes.length, from + 1 + rnd.nextInt(4096)); i++) bytes[i] = fill;
                Files.write(bad, bytes);
            }
        }
        try {
            String outcome = loadAndRun(bad);
            OUTCOMES.merge(k + ": " + outcome, 1, Integer::sum);
        } finally {
            Files.deleteIfExists(bad);
        }
    }

    /** "refused" (a one-line LockstepException), "loaded, <finish reason>", or a failed assertion. */
    private static String loadAndRun(Path file) throws Exception {
        GgufFile f;
        Model m;
        Tokenizer tok;
        try {
            f = GgufFile.open(file);
        } catch (LockstepException e) {
            return refused(e);
        } catch (RuntimeException | Error e) {
            throw new AssertionError("opening " + file.getFileName() + " threw " + e, e);
        }
        try (f) {
            try {
                m = ModelLoader.load(f);
                tok = Tokenizer.fromGguf(f);
            } catch (LockstepException e) {
                return refused(e);
            } catch (RuntimeException | Error e) {
                throw new AssertionError("loading " + file.getFileName() + " threw " + e, e);
            }
            EngineConfig cfg = EngineConfig.defaults().withThreads(1).withMaxSeqs(2).withKvCacheBytes(0);
            Engine e;
            try {
                e = new Engine(m, tok, cfg);
            } catch (LockstepException ex) {
                return refused(ex);
            }
            try (e) {
                int[] prompt = {Math.min(1, m.vocabSize() - 1), Math.min(2, m.vocabSize() - 1)};
                var h = e.submit(GenerationRequest.greedy(prompt, 3).withIgnoreEos(true));
                GenerationResult r = awaitWithin(h, 60);
                assertTrue(EnumSet.of(FinishReason.LENGTH, FinishReason.STOP, FinishReason.ERROR).contains(r.reason()), r.reason().toString());
                if (r.reason() == FinishReason.ERROR) {
                    assertFalse(r.finish().message().contains("\n"), "one line: " + r.finish().message());
                    return "loaded, request error";
                }
                for (var lp : r.logprobs()) assertFalse(Float.isNaN(lp.logprob()), "no NaN logprob reaches a client");
                return "loaded, " + r.reason().openAi();
            } catch (Engine.RejectedException ex) {
                return refused(ex);
            }
        }
    }

    private static GenerationResult awaitWithin(dev.lockstep.engine.RequestHandle h, int seconds) throws Exception {
        List<Integer> tokens = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            var ev = h.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (ev == null) fail("no answer within " + seconds + " s");
            if (ev instanceof dev.lockstep.engine.GenerationEvent.Token t) tokens.add(t.token());
            if (ev instanceof dev.lockstep.engine.GenerationEvent.Finished fin)
                return new GenerationResult(tokens.stream().mapToInt(Integer::intValue).toArray(), "", List.of(), null, fin);
        }
    }

    private static String refused(LockstepException e) {
        String msg = e.getMessage();
        assertTrue(msg != null && !msg.isBlank(), "a message");
        assertFalse(msg.contains("\n"), "one line: " + msg);
        return "refused";
    }

    /** A copy of the file with one hyper-parameter (a numeric key of the architecture) set to an absurd value. */
    private static void rewriteWithAbsurdValue(Path original, Path out, Random rnd) {
        try (GgufFile f = GgufFile.open(original)) {
            GgufWriter w = new GgufWriter();
            List<String> numeric = new ArrayList<>();
            f.metadata().forEach((key, v) -> {
                w.put(key, v);
                if ((v.type().isInteger() || v.type() == GgufValueType.FLOAT32) && !key.startsWith("tokenizer.")
                        && !key.equals(GgufFile.KEY_ALIGNMENT)) numeric.add(key); // (the writer itself needs a sane alignment)
            });
            assertFalse(numeric.isEmpty());
            String key = numeric.get(rnd.nextInt(numeric.size()));
            GgufValue absurd = switch (rnd.nextInt(7)) {
                case 0 -> GgufValue.ofUInt32(0);
                case 1 -> GgufValue.ofInt32(-1);
                case 2 -> GgufValue.ofUInt32(Integer.MAX_VALUE);
                case 3 -> GgufValue.ofUInt64(Long.MAX_VALUE);
                case 4 -> GgufValue.ofFloat32(Float.NaN);
                case 5 -> GgufValue.ofFloat32(Float.POSITIVE_INFINITY);
                default -> GgufValue.ofFloat32(-1f);
            };
            w.put(key, absurd);
            for (TensorInfo t : f.tensors().values()) {
                byte[] data = f.tensorData(t).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                w.addRaw(t.name(), t.type(), t.dims(), data);
            }
            w.write(out);
        }
    }

}
