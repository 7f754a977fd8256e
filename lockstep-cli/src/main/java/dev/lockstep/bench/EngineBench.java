package dev.lockstep.bench;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.RequestHandle;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.model.Model;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The measurements behind {@code lockstep bench}, each on a running {@link Engine}: prompt processing
 * (one prompt of n tokens), decoding (one sequence), and aggregate decoding of several concurrent
 * sequences. Prompts are random token ids, different every run, so the prefix cache never helps.
 */
public final class EngineBench {
    private final Engine engine;
    private final int vocab;
    private final Random rnd = new Random(7);

    public EngineBench(Engine engine) {
        this.engine = engine;
        this.vocab = engine.model().vocabSize();
    }

    public int contextLength() {
        return engine.contextLength();
    }

    private int[] randomPrompt(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = 3 + rnd.nextInt(Math.max(1, vocab - 3));
        return p;
    }

    /** Prompt tokens per second for one prompt of {@code n} tokens (time to the first generated token). */
    public double promptTokensPerSecond(int n) throws InterruptedException {
        long t0 = System.nanoTime();
        engine.submit(GenerationRequest.greedy(randomPrompt(n), 1).withIgnoreEos(true)).await();
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /** Decode tokens per second of one sequence generating {@code n} tokens after a short prompt. */
    public double decodeTokensPerSecond(int n) throws InterruptedException {
        return aggregateDecode(1, n);
    }

    /**
     * Generated tokens per second over all {@code seqs} sequences, counted while every one of them is
     * decoding (after the last first token, before the first finish).
     */
    public double aggregateDecode(int seqs, int n) throws InterruptedException {
        List<RequestHandle> hs = new ArrayList<>();
        for (int s = 0; s < seqs; s++) hs.add(engine.submit(GenerationRequest.greedy(randomPrompt(8), n + 1).withIgnoreEos(true)));
        List<long[]> times = new ArrayList<>();
        List<Thread> readers = new ArrayList<>();
        for (RequestHandle h : hs) {
            long[] t = new long[n + 1];
            times.add(t);
            readers.add(Thread.ofVirtual().start(() -> {
                int i = 0;
                try {
                    while (true) {
                        GenerationEvent e = h.next();
                        if (e instanceof GenerationEvent.Token && i < t.length) t[i++] = System.nanoTime();
                        if (e instanceof GenerationEvent.Finished) break;
                    }
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        for (Thread r : readers) r.join();
        long start = Long.MIN_VALUE, end = Long.MAX_VALUE;
        for (long[] t : times) {
            start = Math.max(start, t[0]);
            end = Math.min(end, t[t.length - 1]);
        }
        long tokens = 0;
        for (long[] t : times) for (long x : t) if (x > start && x <= end) tokens++;
        return end > start ? tokens / ((end - start) / 1e9) : 0;
    }

    /** One speculative-decoding measurement: speed, the exact output, and the proposer's statistics. */
    public record SpecRun(double tokensPerSecond, int[] tokens, int proposed, int accepted, int steps) {
        public double acceptanceRate() {
            return proposed == 0 ? 0 : (double) accepted / proposed;
        }

        public double meanAcceptedLength() {
            return steps == 0 ? 1 : 1.0 + (double) accepted / steps;
        }
    }

    /**
     * Greedy decoding of {@code n} tokens after {@code prompt} with the given speculation, timed from
     * the first generated token to the last (prompt processing excluded).
     */
    public SpecRun specDecode(int[] prompt, int n, dev.lockstep.engine.SpecConfig.Mode mode) throws InterruptedException {
        long[] first = {0}, last = {0};
        var r = engine.submit(GenerationRequest.greedy(prompt, n).withIgnoreEos(true).withSpec(mode)).await(e -> {
            if (e instanceof GenerationEvent.Token) {
                long now = System.nanoTime();
                if (first[0] == 0) first[0] = now;
                last[0] = now;
            }
        });
        double tps = last[0] > first[0] ? (r.tokens().length - 1) / ((last[0] - first[0]) / 1e9) : 0;
        var f = r.finish();
        return new SpecRun(tps, r.tokens(), f.specProposed(), f.specAccepted(), f.specSteps());
    }

    /**
     * The matrix-product FLOPs of one prompt pass of {@code tokens} tokens that asks for the last
     * token's logits: 2 x the elements of every weight matrix x the tokens, except the output matrix
     * (the token embedding when tied), which meets only the last token; the embedding lookup costs
     * nothing. Attention's own products (scores and weighted values: 2% of a 1B model's pp512) and the
     * element-wise kernels are not counted, so GFLOP/s from it slightly understates the work done.
     */
    public static double promptMatrixFlops(Model m, int tokens) {
        boolean tied = m.file().tensor("output.weight") == null;
        double flops = 0;
        for (TensorInfo t : m.file().tensors().values()) {
            if (t.nDims() < 2) continue; // norms, biases
            long elements = 1;
            for (long d : t.dims()) elements *= d;
            if (t.name().equals("token_embd.weight") && !tied) continue; // a lookup
            boolean output = t.name().equals("output.weight") || t.name().equals("token_embd.weight");
            flops += 2.0 * elements * (output ? 1 : tokens);
        }
        return flops;
    }

    /** Bytes of weights one forward pass reads (every matrix once; the embedding only when it is the output). */
    public static long weightBytesPerToken(Model m) {
        long b = 0;
        boolean tied = m.file().tensor("output.weight") == null;
        for (TensorInfo t : m.file().tensors().values())
            if (!t.name().equals("token_embd.weight") || tied) b += t.byteSize();
        return b;
    }
}
