package dev.lockstep.train;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.sampling.Philox;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Random;
import java.util.function.Consumer;

/**
 * The training loop: AdamW with decoupled weight decay, linear warm-up then cosine decay, global
 * gradient-norm clipping, periodic held-out loss, and checkpoints written atomically. Every input of a
 * step — the batch's windows, the learning rate — is a function of (seed, step), so a run resumed from
 * a checkpoint continues bit for bit as if never interrupted, and no result depends on the thread count.
 */
public final class Trainer {

    /** Hyper-parameters of a run. */
    public record Options(int batch, int seq, int steps, float lr, float minLrRatio, int warmup, float weightDecay,
                          float beta1, float beta2, float eps, float clip, long seed, int evalEvery, int evalWindows,
                          int checkpointEvery, GgmlType qat) {
        public static Options defaults() {
            return new Options(8, 128, 1000, 3e-3f, 0.1f, 100, 0.1f, 0.9f, 0.95f, 1e-8f, 1.0f, 1234, 100, 16, 200, null);
        }

        public Options withSteps(int s) {
            return new Options(batch, seq, s, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, seed, evalEvery,
                    evalWindows, checkpointEvery, qat);
        }

        public Options withBatch(int b, int t) {
            return new Options(b, t, steps, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, seed, evalEvery,
                    evalWindows, checkpointEvery, qat);
        }

        public Options withQat(GgmlType q) {
            return new Options(batch, seq, steps, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, seed, evalEvery,
                    evalWindows, checkpointEvery, q);
        }

        public Options withEval(int every, int windows) {
            return new Options(batch, seq, steps, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, seed, every,
                    windows, checkpointEvery, qat);
        }

        public Options withCheckpointEvery(int every) {
            return new Options(batch, seq, steps, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, seed, evalEvery,
                    evalWindows, every, qat);
        }

        public Options withSchedule(float lrMax, int warm) {
            return new Options(batch, seq, steps, lrMax, minLrRatio, warm, weightDecay, beta1, beta2, eps, clip, seed, evalEvery,
                    evalWindows, checkpointEvery, qat);
        }

        public Options withSeed(long s) {
            return new Options(batch, seq, steps, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, s, evalEvery,
                    evalWindows, checkpointEvery, qat);
        }
    }

    /** Progress of a step, for progress bars and logs. */
    public record Progress(int step, int steps, double loss, double evalLoss, double tokensPerSecond, float lr) {}

    /** Soft targets for distillation: fills teacher probabilities [n][vocab] for the batch's tokens. */
    public interface Teacher {
        void probabilities(int[] tokens, int batch, int seq, float temperature, float[] out);
    }

    private final TrainConfig cfg;
    private final Options opt;
    private final int[] train, heldOut;
    private final WorkerPool pool;
    private final TrainModel model;
    private final float[] params, grad, m, v, qatScratch;
    private final boolean[] decays; // weight decay applies to matrices, not to norms
    private int step;
    private Teacher teacher;
    private float temperature = 1f;
    private float[] soft;

    public Trainer(TrainConfig cfg, Options opt, int[] train, int[] heldOut, int threads) {
        if (train.length < opt.seq() + 2) throw new LockstepException("the training split has " + train.length
                + " tokens, fewer than one window of " + (opt.seq() + 1));
        this.cfg = cfg;
        this.opt = opt;
        this.train = train;
        this.heldOut = heldOut;
        this.pool = new WorkerPool(threads);
        this.model = new TrainModel(cfg, opt.batch(), opt.seq(), pool);
        this.params = new float[cfg.paramCount()];
        this.grad = new float[params.length];
        this.m = new float[params.length];
        this.v = new float[params.length];
        this.qatScratch = opt.qat() == null ? null : new float[params.length];
        this.decays = new boolean[params.length];
        for (int i = 0; i < decays.length; i++) decays[i] = !cfg.isNorm(i);
        initialise();
    }

    public float[] params() { return params; }
    public int step() { return step; }
    public TrainConfig config() { return cfg; }

    public void distillFrom(Teacher t, float temperature) {
        this.teacher = t;
        this.temperature = temperature;
        this.soft = new float[opt.batch() * opt.seq() * cfg.vocab()];
    }

    /** Linear weights N(0, 1/fan_in) (outputs of residual branches scaled by 1/sqrt(2 layers)), norms 1, embedding N(0, 0.02^2). */
    private void initialise() {
        Random r = new Random(opt.seed());
        int d = cfg.dim();
        for (int i = 0; i < cfg.vocab() * d; i++) params[cfg.embOffset() + i] = (float) (r.nextGaussian() * 0.02);
        double resid = 1 / Math.sqrt(2.0 * cfg.layers());
        for (int l = 0; l < cfg.layers(); l++) {
            ones(cfg.attnNorm(l), d);
            gauss(r, cfg.wq(l), cfg.qDim() * d, 1 / Math.sqrt(d));
            gauss(r, cfg.wk(l), cfg.kvDim() * d, 1 / Math.sqrt(d));
            gauss(r, cfg.wv(l), cfg.kvDim() * d, 1 / Math.sqrt(d));
            gauss(r, cfg.wo(l), d * cfg.qDim(), resid / Math.sqrt(cfg.qDim()));
            ones(cfg.ffnNorm(l), d);
            gauss(r, cfg.wGate(l), cfg.ff() * d, 1 / Math.sqrt(d));
            gauss(r, cfg.wUp(l), cfg.ff() * d, 1 / Math.sqrt(d));
            gauss(r, cfg.wDown(l), d * cfg.ff(), resid / Math.sqrt(cfg.ff()));
        }
        ones(cfg.outputNorm(), d);
    }

    private void gauss(Random r, int off, int count, double std) {
        for (int i = 0; i < count; i++) params[off + i] = (float) (r.nextGaussian() * std);
    }

    private void ones(int off, int count) {
        java.util.Arrays.fill(params, off, off + count, 1f);
    }

    /** Learning rate at step s: linear warm-up, then cosine decay to minLrRatio x lr. */
    public float learningRate(int s) {
        if (s < opt.warmup()) return opt.lr() * (s + 1) / opt.warmup();
        double progress = Math.min(1.0, (double) (s - opt.warmup()) / Math.max(1, opt.steps() - opt.warmup()));
        double cosine = 0.5 * (1 + StrictMath.cos(Math.PI * progress));
        return (float) (opt.lr() * (opt.minLrRatio() + (1 - opt.minLrRatio()) * cosine));
    }

    /** The batch of step s: B windows of seq+1 tokens at offsets drawn from Philox(seed, step, b). */
    private void batchOf(int s, int[] tokens, int[] targets) {
        int T = opt.seq();
        long span = train.length - T - 1;
        for (int b = 0; b < opt.batch(); b++) {
            int start = (int) Math.floorMod(Philox.block(opt.seed(), s, b)[0] & 0xFFFFFFFFL, span);
            System.arraycopy(train, start, tokens, b * T, T);
            System.arraycopy(train, start + 1, targets, b * T, T);
        }
    }

    /** Runs steps until {@code opt.steps}; checkpoints to {@code checkpoint} (if not null) as configured. */
    public void run(Path checkpoint, Consumer<Progress> progress) {
        int T = opt.seq(), n = opt.batch() * T;
        int[] tokens = new int[n], targets = new int[n];
        double lastEval = Double.NaN;
        long t0 = System.nanoTime();
        int startStep = step;
        while (step < opt.steps()) {
            batchOf(step, tokens, targets);
            model.useWeights(params, opt.qat(), qatScratch);
            model.forward(tokens);
            if (teacher != null) teacher.probabilities(tokens, opt.batch(), T, temperature, soft);
            double loss = model.loss(targets, teacher == null ? null : soft, temperature);
            java.util.Arrays.fill(grad, 0f);
            model.backward(tokens, grad);
            float lr = learningRate(step);
            adamW(lr);
            step++;
            if (opt.evalEvery() > 0 && (step % opt.evalEvery() == 0 || step == opt.steps())) lastEval = evalLoss();
            if (checkpoint != null && (step % opt.checkpointEvery() == 0 || step == opt.steps())) saveCheckpoint(checkpoint);
            double secs = (System.nanoTime() - t0) / 1e9;
            progress.accept(new Progress(step, opt.steps(), loss, lastEval, (step - startStep) * (double) n / secs, lr));
        }
    }

    /** Mean loss on fixed windows of the held-out split (hard targets). */
    public double evalLoss() {
        if (heldOut == null || heldOut.length < opt.seq() + 2) return Double.NaN;
        int T = opt.seq(), n = opt.batch() * T;
        int[] tokens = new int[n], targets = new int[n];
        int windows = Math.max(1, opt.evalWindows() / opt.batch()) * opt.batch();
        long span = heldOut.length - T - 1;
        double sum = 0;
        model.useWeights(params, opt.qat(), qatScratch);
        for (int w0 = 0; w0 < windows; w0 += opt.batch()) {
            for (int b = 0; b < opt.batch(); b++) {
                int start = (int) ((long) (w0 + b) * span / windows);
                System.arraycopy(heldOut, start, tokens, b * T, T);
                System.arraycopy(heldOut, start + 1, targets, b * T, T);
            }
            model.forward(tokens);
            sum += model.loss(targets, null, 1f);
        }
        return sum / (windows / opt.batch());
    }

    /** Global gradient norm (double, fixed order), clipping, then AdamW on every parameter. */
    private void adamW(float lr) {
        double ss = 0;
        for (float g : grad) ss += (double) g * g;
        double norm = Math.sqrt(ss);
        float clipScale = norm > opt.clip() ? (float) (opt.clip() / norm) : 1f;
        int t = step + 1;
        float b1 = opt.beta1(), b2 = opt.beta2();
        float c1 = (float) (1 - StrictMath.pow(b1, t)), c2 = (float) (1 - StrictMath.pow(b2, t));
        pool.execute((w, ws) -> {
            int i0 = WorkerPool.rangeStart(params.length, w, ws), i1 = WorkerPool.rangeStart(params.length, w + 1, ws);
            for (int i = i0; i < i1; i++) {
                float g = grad[i] * clipScale;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                float update = (m[i] / c1) / ((float) Math.sqrt(v[i] / c2) + opt.eps());
                float decay = decays[i] ? opt.weightDecay() * params[i] : 0f;
                params[i] -= lr * (update + decay);
            }
        });
    }

    // ---- checkpoints

    private static final int CHECKPOINT_MAGIC = 0x4C4B5354; // "LKST"

    /** Writes step, parameters and optimizer state atomically (temp file, then rename). */
    public void saveCheckpoint(Path file) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
            try (DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20))) {
                out.writeInt(CHECKPOINT_MAGIC);
                out.writeUTF(cfg.toString());
                out.writeUTF(opt.toString());
                out.writeInt(step);
                writeFloats(out, params);
                writeFloats(out, m);
                writeFloats(out, v);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + file, e);
        }
    }

    /** Restores a checkpoint written by a run with the same configuration and options. */
    public void loadCheckpoint(Path file) {
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 20))) {
            if (in.readInt() != CHECKPOINT_MAGIC) throw new LockstepException(file + ": not a Lockstep checkpoint");
            String c = in.readUTF(), o = in.readUTF();
            if (!c.equals(cfg.toString())) throw new LockstepException(file + ": the checkpoint's model (" + c
                    + ") differs from this run's (" + cfg + ")");
            if (!o.equals(opt.toString())) throw new LockstepException(file + ": the checkpoint's options (" + o
                    + ") differ from this run's (" + opt + ")");
            step = in.readInt();
            readFloats(in, params);
            readFloats(in, m);
            readFloats(in, v);
        } catch (IOException e) {
            throw new LockstepException(file + ": cannot read checkpoint: " + e.getMessage());
        }
    }

    private static void writeFloats(DataOutputStream out, float[] a) throws IOException {
        byte[] b = new byte[a.length * 4];
        java.nio.ByteBuffer.wrap(b).asFloatBuffer().put(a);
        out.writeInt(a.length);
        out.write(b);
    }

    private static void readFloats(DataInputStream in, float[] a) throws IOException {
        int n = in.readInt();
        if (n != a.length) throw new IOException("array of " + n + " floats, expected " + a.length);
        byte[] b = new byte[n * 4];
        in.readFully(b);
        java.nio.ByteBuffer.wrap(b).asFloatBuffer().get(a);
    }

    public void close() {
        pool.close();
    }
}
