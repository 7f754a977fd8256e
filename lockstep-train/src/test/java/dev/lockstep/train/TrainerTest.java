package dev.lockstep.train;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainerTest {
    @TempDir
    Path tmp;

    private Trainer trainer(Path tok, int steps, int threads, GgmlType qat) {
        Corpus c = TinyCorpus.corpus(tok);
        int vocab;
        try (GgufFile f = GgufFile.open(tok)) {
            vocab = Tokenizer.fromGguf(f).size();
        }
        Trainer.Options o = Trainer.Options.defaults().withBatch(2, 16).withSteps(steps).withSchedule(5e-3f, 3)
                .withEval(0, 4).withCheckpointEvery(1000).withQat(qat);
        return new Trainer(TinyCorpus.config(vocab), o, c.train(), c.heldOut(), threads);
    }

    @Test
    void bitwiseReproducibleAndIndependentOfThreadCount() {
        Path tok = TinyCorpus.tokenizer(tmp, 300);
        Trainer a = trainer(tok, 6, 1, null), b = trainer(tok, 6, 2, null), c = trainer(tok, 6, 3, null);
        a.run(null, p -> {});
        b.run(null, p -> {});
        c.run(null, p -> {});
        assertArrayEquals(a.params(), b.params(), "1 vs 2 threads");
        assertArrayEquals(a.params(), c.params(), "1 vs 3 threads");
        a.close();
        b.close();
        c.close();
    }

    @Test
    void resumingFromACheckpointContinuesBitForBit() {
        Path tok = TinyCorpus.tokenizer(tmp, 300);
        Trainer straight = trainer(tok, 6, 2, null);
        straight.run(null, p -> {});
        Path ckpt = tmp.resolve("ckpt.bin");
        Trainer first = trainer(tok, 6, 2, null);
        // stop after 3 steps by running a copy limited to 3, with the same options (the schedule uses steps=6)
        Trainer.Options o = Trainer.Options.defaults().withBatch(2, 16).withSteps(6).withSchedule(5e-3f, 3)
                .withEval(0, 4).withCheckpointEvery(3);
        Corpus corpus = TinyCorpus.corpus(tok);
        Trainer interrupted = new Trainer(first.config(), o, corpus.train(), corpus.heldOut(), 2);
        int[] seen = {0};
        try {
            interrupted.run(ckpt, p -> {
                if (p.step() == 3) throw new IllegalStateException("simulated crash after the checkpoint of step 3");
            });
        } catch (IllegalStateException expected) {
            seen[0] = 1;
        }
        assertEquals(1, seen[0]);
        Trainer resumed = new Trainer(first.config(), o, corpus.train(), corpus.heldOut(), 1);
        resumed.loadCheckpoint(ckpt);
        assertEquals(3, resumed.step());
        resumed.run(ckpt, p -> {});
        Trainer straight2 = new Trainer(first.config(), o, corpus.train(), corpus.heldOut(), 2);
        straight2.run(null, p -> {});
        assertArrayEquals(straight2.params(), resumed.params());
        for (Trainer t : List.of(straight, first, interrupted, resumed, straight2)) t.close();
    }

    @Test
    void lossGoesDown() {
        Path tok = TinyCorpus.tokenizer(tmp, 300);
        Trainer t = trainer(tok, 60, 2, null);
        double[] first = {Double.NaN}, last = {0};
        t.run(null, p -> {
            if (Double.isNaN(first[0])) first[0] = p.loss();
            last[0] = p.loss();
        });
        assertTrue(last[0] < first[0] - 1.0, "loss " + first[0] + " -> " + last[0]);
        t.close();
    }

    /** The on-policy promise: the trainer's forward and the engine's give the same logprob bits. */
    @Test
    void trainerAndEngineLogprobsAreBitIdentical() throws Exception {
        Path tok = TinyCorpus.tokenizer(tmp, 300);
        for (GgmlType type : new GgmlType[]{GgmlType.F32, GgmlType.Q8_0}) {
            Trainer t = trainer(tok, 5, 2, type == GgmlType.F32 ? null : type);
            t.run(null, p -> {});
            Path model = tmp.resolve("m-" + type + ".gguf");
            ModelExport.write(t.config(), t.params(), type, tok, "test", model);
            int[] tokens = TinyCorpus.corpus(tok).heldOut();
            int T = 16;
            int[] seq = Arrays.copyOf(tokens, T);
            // trainer forward: one sequence (batch of 1), same weights (fake-quantized for the Q8_0 file)
            try (WorkerPool pool = new WorkerPool(2)) {
                TrainModel tm = new TrainModel(t.config(), 1, T, pool);
                tm.useWeights(t.params(), type == GgmlType.F32 ? null : type, new float[t.params().length]);
                tm.forward(seq);
                Logprobs lp = new Logprobs(t.config().vocab());
                try (GgufFile f = GgufFile.open(model)) {
                    Model m = ModelLoader.load(f);
                    try (Engine e = new Engine(m, Tokenizer.fromGguf(f), EngineConfig.defaults().withThreads(2))) {
                        GenerationResult r = e.generate(new GenerationRequest(seq, dev.lockstep.sampling.SamplingParams.GREEDY,
                                1, List.of(), true, 3, true, 0));
                        for (int i = 0; i + 1 < T; i++) {
                            Logprobs.Entry mine = lp.entry(tm.logits, i * t.config().vocab(), seq[i + 1], 3);
                            Logprobs.Entry engine = r.promptLogprobs().get(i);
                            assertEquals(Float.floatToIntBits(engine.logprob()), Float.floatToIntBits(mine.logprob()),
                                    type + " position " + i);
                        }
                    }
                }
            }
            t.close();
        }
    }

    /** Backward pass against central finite differences on random parameters. */
    @Test
    void gradientsMatchFiniteDifferences() {
        Path tok = TinyCorpus.tokenizer(tmp, 300);
        Trainer t = trainer(tok, 1, 1, null);
        TrainConfig c = t.config();
        int[] tokens = Arrays.copyOf(TinyCorpus.corpus(tok).train(), 16), targets = Arrays.copyOfRange(TinyCorpus.corpus(tok).train(), 1, 17);
        try (WorkerPool pool = new WorkerPool(1)) {
            TrainModel m = new TrainModel(c, 1, 16, pool);
            float[] p = t.params().clone();
            Random r = new Random(3);
            for (int i = 0; i < p.length; i++) p[i] += (float) (r.nextGaussian() * 0.05); // leave the symmetric init
            float[] grad = new float[p.length];
            m.useWeights(p, null, null);
            m.forward(tokens);
            m.loss(targets, null, 1f);
            m.backward(tokens, grad);
            int checked = 0, bad = 0;
            int[] probes = {c.embOffset() + tokens[3] * c.dim() + 5, c.wq(0) + 7, c.wk(1) + 11, c.wv(0) + 3, c.wo(1) + 17,
                    c.wGate(0) + 9, c.wUp(1) + 4, c.wDown(0) + 21, c.attnNorm(1) + 2, c.ffnNorm(0) + 6, c.outputNorm() + 1};
            for (int idx : probes) {
                float save = p[idx];
                double eps = 1e-2;
                p[idx] = (float) (save + eps);
                m.useWeights(p, null, null);
                m.forward(tokens);
                double up = m.loss(targets, null, 1f);
                p[idx] = (float) (save - eps);
                m.useWeights(p, null, null);
                m.forward(tokens);
                double down = m.loss(targets, null, 1f);
                p[idx] = save;
                double numeric = (up - down) / (2 * eps);
                double rel = Math.abs(numeric - grad[idx]) / Math.max(1e-4, Math.abs(numeric) + Math.abs(grad[idx]));
                if (rel > 0.05) bad++;
                System.out.printf("param %d: backward %.6g, numeric %.6g%n", idx, grad[idx], numeric);
                checked++;
            }
            assertEquals(0, bad, bad + " of " + checked + " gradients differ from finite differences by more than 5%");
        }
        t.close();
    }
}
