package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;
import dev.lockstep.train.Corpus;
import dev.lockstep.train.GgufTeacher;
import dev.lockstep.train.ModelExport;
import dev.lockstep.train.TrainConfig;
import dev.lockstep.train.Trainer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code lockstep train} (and, with {@code --teacher}, {@code lockstep distill}): trains a small
 * Llama-architecture model on a corpus and writes it as GGUF.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train a small Llama-architecture model (RMSNorm, RoPE, GQA, SwiGLU) on a text corpus; write a GGUF the engine loads.")
class TrainCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "OUT.gguf")
    Path out;

    @Option(names = "--corpus", required = true, paramLabel = "FILE", description = "UTF-8 text, e.g. corpus/kjv.txt (bin/fetch-corpus)")
    Path corpus;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer GGUF (from train-tokenizer); distill: default the teacher's")
    Path tokenizer;

    @Option(names = "--dim", description = "model width (default: ${DEFAULT-VALUE})") int dim = 192;
    @Option(names = "--layers", description = "(default: ${DEFAULT-VALUE})") int layers = 6;
    @Option(names = "--heads", description = "(default: ${DEFAULT-VALUE})") int heads = 6;
    @Option(names = "--kv-heads", description = "(default: ${DEFAULT-VALUE})") int kvHeads = 2;
    @Option(names = "--ff", description = "feed-forward width (default: ${DEFAULT-VALUE})") int ff = 512;
    @Option(names = "--context", description = "context length written to the file (default: ${DEFAULT-VALUE})") int context = 512;

    @Option(names = "--steps", description = "(default: ${DEFAULT-VALUE})") int steps = 2400;
    @Option(names = "--batch", description = "sequences per step (default: ${DEFAULT-VALUE})") int batch = 16;
    @Option(names = "--seq", description = "tokens per sequence (default: ${DEFAULT-VALUE})") int seq = 128;
    @Option(names = "--lr", description = "peak learning rate (default: ${DEFAULT-VALUE})") float lr = 3e-3f;
    @Option(names = "--warmup", description = "warm-up steps (default: ${DEFAULT-VALUE})") int warmup = 100;
    @Option(names = "--seed", description = "(default: ${DEFAULT-VALUE})") long seed = 1234;
    @Option(names = "--eval-every", description = "held-out loss every N steps (default: ${DEFAULT-VALUE})") int evalEvery = 100;
    @Option(names = "--qat", paramLabel = "q8_0|q4_0", description = "quantization-aware training: fake-quantize the matrices in the forward pass")
    String qat;
    @Option(names = "--type", paramLabel = "F32|Q8_0|Q4_0", description = "type of the matrices in OUT (default: ${DEFAULT-VALUE})")
    String type = "F32";
    @Option(names = "--checkpoint", paramLabel = "FILE", description = "checkpoint file (written atomically every --checkpoint-every steps)")
    Path checkpoint;
    @Option(names = "--checkpoint-every", description = "(default: ${DEFAULT-VALUE})") int checkpointEvery = 200;
    @Option(names = "--resume", description = "continue from --checkpoint")
    boolean resume;
    @Option(names = "--log", paramLabel = "FILE.csv", description = "append step, loss, eval loss, lr, tokens/s; a PNG curve is drawn beside it")
    Path log;
    @Option(names = {"-t", "--threads"}, description = "(default: all cores)") int threads = Runtime.getRuntime().availableProcessors();

    Path teacher;
    float temperature = 1f;

    @Override
    public Integer call() throws Exception {
        PrintWriter outw = spec.commandLine().getOut();
        Path tokFile = tokenizer != null ? tokenizer : teacher;
        if (tokFile == null) throw new LockstepException("--tokenizer is required (train one with lockstep train-tokenizer)");
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(tokFile)) {
            tok = Tokenizer.fromGguf(f);
            if (tok == null) throw new LockstepException(tokFile + ": no tokenizer in the file");
        }
        GgmlType qatType = qat == null ? null : GgmlType.byName(qat);
        if (qat != null && qatType != GgmlType.Q8_0 && qatType != GgmlType.Q4_0)
            throw new LockstepException("--qat must be q8_0 or q4_0, got " + qat);
        GgmlType outType = GgmlType.byName(type);
        if (outType == null || !(outType == GgmlType.F32 || outType == GgmlType.Q8_0 || outType == GgmlType.Q4_0 || outType == GgmlType.F16))
            throw new LockstepException("--type must be F32, F16, Q8_0 or Q4_0, got " + type);
        if (resume && checkpoint == null) throw new LockstepException("--resume needs --checkpoint");
        boolean blocks = qatType != null || outType == GgmlType.Q8_0 || outType == GgmlType.Q4_0;
        int qDim = dim, kvDim = dim / Math.max(1, heads) * kvHeads;
        if (blocks && (dim % 32 != 0 || ff % 32 != 0 || qDim % 32 != 0 || kvDim % 32 != 0))
            throw new LockstepException("quantized weights (" + (qatType != null ? "--qat " + qat : "--type " + type) + ") need --dim, --ff and the K/V width to be "
                    + "multiples of 32 (the block size); got dim " + dim + ", ff " + ff + ", K/V width " + kvDim);
        long t0 = System.nanoTime();
        Corpus c = Corpus.of(Corpus.readText(corpus), tok);
        outw.printf("corpus: %d training tokens, %d held-out tokens (tokenized in %.1f s)%n", c.train().length, c.heldOut().length,
                (System.nanoTime() - t0) / 1e9);
        TrainConfig cfg = new TrainConfig(dim, layers, heads, kvHeads, ff, tok.size(), context, 10000f, 1e-5f);
        Trainer.Options o = new Trainer.Options(batch, seq, steps, lr, 0.1f, warmup, 0.1f, 0.9f, 0.95f, 1e-8f, 1.0f, seed,
                evalEvery, 64, checkpointEvery, qatType);
        Trainer trainer = new Trainer(cfg, o, c.train(), c.heldOut(), threads);
        GgufFile teacherFile = null;
        WorkerPool teacherPool = null;
        try {
            if (teacher != null) {
                teacherFile = GgufFile.open(teacher);
                Model tm = ModelLoader.load(teacherFile);
                teacherPool = new WorkerPool(threads);
                trainer.distillFrom(new GgufTeacher(tm, tok.size(), batch, seq, teacherPool), temperature);
            }
            if (resume && Files.exists(checkpoint)) {
                trainer.loadCheckpoint(checkpoint);
                outw.printf("resumed from %s at step %d%n", checkpoint, trainer.step());
            }
            outw.printf("model: %s, %,d parameters%n", cfg, cfg.paramCount());
            outw.flush();
            List<double[]> curve = new ArrayList<>();
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName(teacher == null ? "train" : "distill").setInitialMax(steps)
                    .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(
                            new java.io.PrintStream(System.err, true))).build()) {
                bar.stepTo(trainer.step());
                trainer.run(checkpoint, p -> {
                    bar.stepTo(p.step());
                    bar.setExtraMessage(String.format(Locale.ROOT, "loss %.3f eval %.3f %.0f tok/s", p.loss(), p.evalLoss(), p.tokensPerSecond()));
                    curve.add(new double[]{p.step(), p.loss(), p.evalLoss(), p.lr(), p.tokensPerSecond()});
                    if (log != null) appendLog(p);
                });
            }
            double eval = trainer.evalLoss();
            ModelExport.write(cfg, trainer.params(), outType, tokFile, "lockstep " + (teacher == null ? "trained" : "distilled")
                    + " " + cfg.paramCount() + " params", out);
            outw.printf(Locale.ROOT, "wrote %s (%s); held-out loss %.4f (perplexity %.2f)%n", out, outType, eval, Math.exp(eval));
            if (log != null) plot();
        } finally {
            trainer.close();
            if (teacherFile != null) teacherFile.close();
            if (teacherPool != null) teacherPool.close();
        }
        return 0;
    }

    private void appendLog(Trainer.Progress p) {
        try {
            boolean fresh = !Files.exists(log);
            String line = (fresh ? "step,loss,eval_loss,lr,tokens_per_s\n" : "")
                    + String.format(Locale.ROOT, "%d,%.5f,%s,%.6g,%.1f%n", p.step(), p.loss(),
                    Double.isNaN(p.evalLoss()) ? "" : String.format(Locale.ROOT, "%.5f", p.evalLoss()), p.lr(), p.tokensPerSecond());
            Files.writeString(log, line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new LockstepException("cannot write " + log + ": " + e.getMessage());
        }
    }

    /** Draws the training curve (loss per step, held-out loss where measured) from the log. */
    private void plot() throws IOException {
        List<Integer> xs = new ArrayList<>(), ex = new ArrayList<>();
        List<Double> ys = new ArrayList<>(), ey = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (line.startsWith("step")) continue;
            String[] f = line.split(",", -1);
            int step = Integer.parseInt(f[0]);
            xs.add(step);
            ys.add(Double.parseDouble(f[1]));
            if (!f[2].isEmpty()) {
                ex.add(step);
                ey.add(Double.parseDouble(f[2]));
            }
        }
        Path png = log.resolveSibling(log.getFileName().toString().replaceAll("\\.csv$", "") + ".png");
        Plots.line(png, "training curve", "step", "loss (nats/token)",
                List.of(new Plots.Series("training loss", xs, ys), new Plots.Series("held-out loss", ex, ey)));
    }
}
