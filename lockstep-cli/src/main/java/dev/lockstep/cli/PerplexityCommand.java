package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.bench.ActivationComparison;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.engine.RequestHandle;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.train.Corpus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code lockstep perplexity}: mean negative log-likelihood of a text through the inference engine
 * (prompt scoring), like llama.cpp's perplexity tool. With {@code --held-out} it scores exactly the
 * split the trainer held out, which makes models, quantizations and QAT comparable.
 */
@Command(name = "perplexity", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Held-out loss and perplexity of a model on a text, computed by the engine.")
final class PerplexityCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--corpus", required = true, paramLabel = "FILE", description = "UTF-8 text")
    Path corpus;

    @Option(names = "--held-out", description = "score only the trainer's held-out split of the corpus")
    boolean heldOut;

    @Option(names = "--window", paramLabel = "N", description = "tokens per scored window (default: ${DEFAULT-VALUE})")
    int window = 128;

    @Option(names = "--max-windows", paramLabel = "N", description = "windows scored at most, spread evenly (default: ${DEFAULT-VALUE})")
    int maxWindows = 200;

    @Option(names = "--activations", paramLabel = "f32|int8", description = "activations in the matrix products, as for "
            + "generate (default: ${DEFAULT-VALUE})")
    String activations = "f32";

    @Option(names = "--compare-activations", description = "score the windows in both activation modes and compare them: "
            + "each mode's loss, the mean KL divergence of the int8 mode's next-token distributions from the f32 mode's, and how "
            + "often their most likely tokens agree")
    boolean compareActivations;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (window < 2) throw new LockstepException("--window must be at least 2");
        try (LoadedModel lm = LoadedModel.open(modelOptions.resolve(), true)) {
            int ctx = lm.model().contextLength();
            if (window > ctx) throw new LockstepException("--window " + window + " exceeds the model's context length " + ctx);
            String text = Corpus.readText(corpus);
            int[] tokens = heldOut ? Corpus.of(text, lm.tokenizer()).heldOut() : lm.tokenizer().encode(text, false, false);
            int available = tokens.length / window;
            if (available == 0) throw new LockstepException(corpus + ": fewer than " + window + " tokens to score");
            int windows = Math.min(available, maxWindows);
            if (compareActivations) {
                List<int[]> ws = new ArrayList<>();
                for (int w = 0; w < windows; w++) {
                    int start = (int) ((long) w * available / windows) * window;
                    ws.add(java.util.Arrays.copyOfRange(tokens, start, start + window));
                }
                long t0 = System.nanoTime();
                ActivationComparison.Result r = ActivationComparison.compare(lm.model(), modelOptions.threads, ws);
                out.printf(Locale.ROOT, "%s: %d windows of %d tokens (%d positions%s): loss f32 %.4f, int8 %.4f; KL(f32 || int8) "
                                + "mean %.6f nats (max %.4f); top-1 agreement %.2f%% (%.1f s)%n",
                        modelOptions.resolve().getFileName(), windows, window, r.positions(), heldOut ? ", held-out split" : "",
                        r.lossF32(), r.lossInt8(), r.meanKl(), r.maxKl(), 100 * r.top1Agreement(), (System.nanoTime() - t0) / 1e9);
                return 0;
            }
            EngineConfig cfg = EngineConfig.defaults().withThreads(modelOptions.threads).withMaxSeqs(8)
                    .withMaxBatchTokens(Math.max(512, window)).withMaxLogitRows(Math.max(64, window)).withPrefixCaching(false)
                    .withActivations(EngineOptions.activationMode(activations));
            double nll = 0;
            long scored = 0;
            long t0 = System.nanoTime();
            try (Engine engine = new Engine(lm.model(), lm.tokenizer(), cfg)) {
                List<RequestHandle> hs = new ArrayList<>();
                for (int w = 0; w < windows; w++) {
                    int start = (int) ((long) w * available / windows) * window;
                    int[] p = java.util.Arrays.copyOfRange(tokens, start, start + window);
                    hs.add(engine.submit(new GenerationRequest(p, null, 1, List.of(), true, 0, true, 0)));
                }
                for (RequestHandle h : hs) {
                    GenerationResult r = h.await();
                    for (Logprobs.Entry e : r.promptLogprobs()) {
                        nll -= e.logprob();
                        scored++;
                    }
                }
            }
            double mean = nll / scored;
            out.printf(Locale.ROOT, "%s: %d windows of %d tokens (%d scored tokens%s): loss %.4f, perplexity %.2f (%.1f s)%n",
                    modelOptions.resolve().getFileName(), windows, window, scored, heldOut ? ", held-out split" : "", mean,
                    Math.exp(mean), (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}
