package dev.lockstep.engine;

import dev.lockstep.Fixtures;
import dev.lockstep.TestModels;
import dev.lockstep.cache.KvCache;
import dev.lockstep.engine.EngineHarness.Req;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.model.ModelRunner;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nothing thrown while computing a step stops the engine: the requests of that step end with an error
 * that names no Java class, and the next requests get the bits a fresh engine gives. A fault it cannot
 * survive (the model's file truncated under its mapping) makes it refuse new requests at once, with
 * the reason, instead of leaving them queued forever.
 */
class EngineSurvivalTest {
    private static final String MODEL = "models/tiny-llama-f32";
    /** A prompt holding this token makes the faulty model's forward pass throw. */
    private static final int POISON = 2;

    @TempDir
    Path dir;

    @Test
    void aStepThatThrowsFailsItsRequestsAndTheEngineGoesOn() throws Exception {
        survives(() -> new IllegalStateException("a bug in a kernel"));
    }

    @Test
    void aStackOverflowInAStepFailsItsRequestsAndTheEngineGoesOn() throws Exception {
        survives(StackOverflowError::new);
    }

    @Test
    void anOutOfMemoryErrorInAStepFailsItsRequestsAndTheEngineGoesOn() throws Exception {
        survives(() -> new OutOfMemoryError("Java heap space"));
    }

    private void survives(Supplier<Throwable> fault) throws Exception {
        TestModels.Loaded m = TestModels.get(MODEL);
        Model faulty = new FaultyModel(m.model(), fault);
        Req probe = new Req(MODEL, new int[]{5, 17, 99, 140, 23}, 12, 0.8f, 7);
        GenerationResult reference = EngineHarness.solo(probe);
        try (Engine e = new Engine(faulty, m.tokenizer(), EngineConfig.defaults().withThreads(2))) {
            for (int round = 0; round < 3; round++) {
                GenerationResult poisoned = e.generate(new Req(MODEL, new int[]{5, 17, POISON, 9}, 8, 0f, 0).toRequest());
                assertEquals(FinishReason.ERROR, poisoned.reason());
                String msg = poisoned.finish().message();
                assertNotNull(msg);
                assertFalse(msg.matches("(?s).*(Exception|Error|java\\.|dev\\.lockstep).*"), "no Java names for the user: " + msg);
                assertNull(e.failure(), "one failed step is not a failed engine");
                // the engine still serves, with the bits of a fresh engine
                assertNull(EngineHarness.difference(reference, e.generate(probe.toRequest())));
            }
            // requests in flight when another request's step fails: each ends, none hangs, and the
            // engine returns every KV block
            List<RequestHandle> handles = new ArrayList<>();
            for (int i = 0; i < 6; i++) handles.add(e.submit(new Req(MODEL, new int[]{5, 17, 99, 140 + i}, 30, 0.8f, i).toRequest()));
            handles.add(e.submit(new Req(MODEL, new int[]{5, 17, POISON}, 8, 0f, 0).toRequest()));
            for (RequestHandle h : handles) {
                FinishReason r = h.await().reason();
                assertTrue(r == FinishReason.LENGTH || r == FinishReason.STOP || r == FinishReason.ERROR, r.toString());
            }
            assertNull(EngineHarness.difference(reference, e.generate(probe.toRequest())));
            assertEquals(0, e.stats().kvBlocksUsed());
        }
    }

    @Test
    void aTruncatedModelFileStopsTheEngineWithTheReasonAndNewRequestsFailFast() throws Exception {
        Path copy = dir.resolve("model.gguf");
        Files.copy(Fixtures.file(MODEL + ".gguf"), copy);
        try (GgufFile f = GgufFile.open(copy)) {
            Model model = ModelLoader.load(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            try (Engine e = new Engine(model, tok, EngineConfig.defaults().withThreads(2))) {
                assertEquals(FinishReason.LENGTH, e.generate(new Req(MODEL, new int[]{5, 17, 99}, 4, 0f, 0).toRequest()).reason());
                try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                    ch.truncate(f.dataStart()); // every tensor gone: the next forward pass reads past the end
                }
                GenerationResult r = e.generate(new Req(MODEL, new int[]{5, 17, 99, 4}, 4, 0f, 0).toRequest());
                assertEquals(FinishReason.ABORTED, r.reason());
                assertTrue(r.finish().message().contains(copy.toString()), r.finish().message());
                assertNotNull(e.failure());
                assertTrue(e.failure().contains("truncated"), e.failure());
                long t0 = System.nanoTime();
                Engine.RejectedException refused = assertThrows(Engine.RejectedException.class,
                        () -> e.submit(new Req(MODEL, new int[]{5, 17}, 4, 0f, 0).toRequest()));
                assertEquals(Engine.RejectedException.Kind.UNAVAILABLE, refused.kind());
                assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "refused at once");
            }
        }
    }

    /** A real model whose forward pass throws when the batch holds {@link #POISON}. */
    private record FaultyModel(Model real, Supplier<Throwable> fault) implements Model {
        @Override public GgufFile file() { return real.file(); }
        @Override public String architecture() { return real.architecture(); }
        @Override public int vocabSize() { return real.vocabSize(); }
        @Override public int contextLength() { return real.contextLength(); }
        @Override public int kvLayers() { return real.kvLayers(); }
        @Override public int kvDim() { return real.kvDim(); }
        @Override public int kvHeadDim() { return real.kvHeadDim(); }
        @Override public String describe() { return real.describe(); }

        @Override
        public ModelRunner newRunner(WorkerPool pool, int maxTokens, Activations activations) {
            ModelRunner inner = real.newRunner(pool, maxTokens, activations);
            return new ModelRunner() {
                @Override
                public int maxTokens() {
                    return inner.maxTokens();
                }

                @Override
                public void forward(ForwardBatch b, KvCache cache, float[] logits) {
                    for (int i = 0; i < b.numTokens; i++) if (b.tokens[i] == POISON) throwUnchecked(fault.get());
                    inner.forward(b, cache, logits);
                }
            };
        }

        @SuppressWarnings("unchecked")
        private static <T extends Throwable> void throwUnchecked(Throwable t) throws T {
            throw (T) t;
        }
    }
}
