package dev.lockstep.engine;

import dev.lockstep.LockstepException;
import dev.lockstep.cache.BlockManager;
import dev.lockstep.cache.KvCache;
import dev.lockstep.kernels.JitLimits;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelRunner;
import dev.lockstep.sampling.GrammarLimitException;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.sampling.Sampler;
import dev.lockstep.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The inference engine: {@link #submit} a request, read its tokens from the returned
 * {@link RequestHandle}. One engine thread runs the loop
 * <pre>
 *   take new requests and cancellations
 *   schedule     which tokens of which sequences to compute now   (Scheduler, BlockManager)
 *   forward      one pass over that ragged batch                   (ModelRunner -> kernels)
 *   sample       per sequence, from its own logits row             (Sampler, counter-based RNG)
 *   emit         tokens / text / logprobs to each handle; finish and free what ended
 * </pre>
 * Every request gets the same bits whatever else runs: kernels are batch-invariant, sampling is keyed
 * by (seed, position), and cached or recomputed K/V are identical.
 */
public final class Engine implements AutoCloseable {

    /** A request the engine refuses; {@code kind} says why, {@code param} which field (for HTTP 400s). */
    public static final class RejectedException extends LockstepException {
        public enum Kind { INVALID, TOO_LONG, QUEUE_FULL, SHUTTING_DOWN, UNAVAILABLE }

        private final Kind kind;
        private final String param;

        RejectedException(Kind kind, String param, String message) {
            super(message);
            this.kind = kind;
            this.param = param;
        }

        public Kind kind() { return kind; }
        public String param() { return param; }
    }

    /** Optional hooks for metrics (called on the engine thread; keep them cheap). */
    public interface Observer {
        default void onFirstToken(long ttftNanos) {}
        default void onToken(long interTokenNanos) {}
        default void onFinished(FinishReason reason, int promptTokens, int completionTokens) {}
        default void onRejected(RejectedException.Kind kind) {}
    }

    /** Counters for stats and /metrics (read from any thread). */
    public record Stats(int waiting, int running, int kvBlocksUsed, int kvBlocksFree, int kvBlocksTotal,
                        long prefixQueriedTokens, long prefixHitTokens, long promptTokens, long generatedTokens,
                        long finishedRequests, long rejectedRequests, long preemptions, long steps,
                        long specProposed, long specAccepted, long specSteps) {
        /** Proposed tokens that the target confirmed. */
        public double specAcceptanceRate() {
            return specProposed == 0 ? 0 : (double) specAccepted / specProposed;
        }

        /** Tokens emitted per verification step (accepted proposals + the target's own token). */
        public double specMeanAcceptedLength() {
            return specSteps == 0 ? 0 : 1.0 + (double) specAccepted / specSteps;
        }

        public double prefixHitRate() {
            return prefixQueriedTokens == 0 ? 0 : (double) prefixHitTokens / prefixQueriedTokens;
        }
    }

    private final Model model;
    private final Tokenizer tokenizer;
    /** Constrained decoding's grammar work, off this engine's thread (null without a tokenizer). */
    private final GrammarWorker grammar;
    /**
     * How long a step may wait for grammar results: before proposing (speculation needs the point a
     * sequence stands at) and after the forward pass (sampling needs its mask). Past it, a sequence
     * proposes nothing, or sets its logits row aside ({@link #park}), and the others go on.
     */
    static final long PROPOSE_WAIT_NANOS = 1_000_000, SAMPLE_WAIT_NANOS = 2_000_000;
    private long grammarDeadline;
    /** Sequences waiting for their grammar: a logits row set aside until its mask is known, or a finish until it says how. */
    private final List<Sequence> parked = new ArrayList<>();
    private final EngineConfig config;
    private final WorkerPool pool;
    private final KvCache kv;
    private final BlockManager blocks;
    private final ModelRunner runner;
    private final Scheduler scheduler;
    private final Sampler sampler;
    private final Logprobs logprobs;
    private final ForwardBatch batch;
    private final float[] logits;
    private final int vocab;
    private final int contextLength;
    private final int[] rowSeq, rowPos;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Sequence> incoming = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Long> cancels = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();   // request groups with a sequence never admitted yet
    private final AtomicInteger inFlight = new AtomicInteger(); // accepted, not finished
    private final AtomicLong nextId = new AtomicLong(1);
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    /** Why the engine can serve nothing any more (the model's mapped file is damaged); null while it can. */
    private volatile String failure;
    private static final System.Logger LOG = System.getLogger(Engine.class.getName());
    private volatile Observer observer = new Observer() {};
    private volatile int statWaiting, statRunning;
    private final AtomicLong promptTokens = new AtomicLong(), generatedTokens = new AtomicLong(),
            finished = new AtomicLong(), rejected = new AtomicLong(), steps = new AtomicLong(),
            specProposed = new AtomicLong(), specAccepted = new AtomicLong(), specSteps = new AtomicLong();
    // step profile: written by the engine thread only
    private volatile long profPropose, profSchedule, profForward, profMatmul, profAttention, profAfter;
    private final DraftProposer draft;
    private final boolean recurrent;
    private final List<Sequence> drafting = new ArrayList<>();
    private final int[] draftWant;

    public Engine(Model model, Tokenizer tokenizer, EngineConfig config) {
        this(model, tokenizer, config, null);
    }

    /**
     * An engine whose requests may use {@code draftModel} (same vocabulary, smaller or lower precision)
     * to propose tokens for speculative decoding; {@code null} for none.
     */
    public Engine(Model model, Tokenizer tokenizer, EngineConfig config, Model draftModel) {
        JitLimits.warnIfDefault(); // speed only: without the flags some runs decode several times slower
        this.model = model;
        this.tokenizer = tokenizer;
        this.vocab = model.vocabSize();
        int bs = config.blockSize();
        long perBlock = KvCache.bytesPerBlock(model.kvLayers(), model.kvDim(), bs);
        this.recurrent = model.stateFloats() > 0;
        if (recurrent) {
            // a recurrent model has no K/V: no prefix cache (a state snapshot per block is not kept), no
            // speculation (its state cannot be rolled back past rejected tokens); blocks only count positions
            config = config.withPrefixCaching(false).withSpec(SpecConfig.OFF);
        }
        long bytes = config.kvCacheBytes() > 0 ? config.kvCacheBytes() : perBlock == 0 ? 0 : autoKvBytes(model, config, perBlock);
        int numBlocks = perBlock == 0
                ? (int) Math.min(1 << 21, (long) config.maxSeqs() * ((model.contextLength() + bs - 1) / bs + 1))
                : (int) Math.min(Integer.MAX_VALUE / 2, Math.max(1, bytes / perBlock));
        if (perBlock > 0 && config.kvCacheBytes() > 0 && bytes < perBlock)
            throw new LockstepException("--kv-cache-memory " + bytes + " bytes is less than one KV block (" + perBlock
                    + " bytes = " + bs + " tokens)");
        this.pool = new WorkerPool(config.threads());
        this.kv = new KvCache(model.kvLayers(), model.kvDim(), Math.max(1, model.kvHeadDim()), bs, perBlock == 0 ? 1 : numBlocks);
        this.blocks = new BlockManager(numBlocks, bs, modelKey(model), config.prefixCaching());
        int maxTokens = config.maxBatchTokens();
        this.runner = model.newRunner(pool, maxTokens, config.activations());
        // the context this engine can hold: the model's, or less if the KV cache is smaller (so that no
        // buffer is ever sized by a context the cache could not serve anyway)
        this.contextLength = perBlock == 0 ? model.contextLength() : (int) Math.min(model.contextLength(), (long) numBlocks * bs);
        int maxBlocksPerSeq = (contextLength + bs - 1) / bs + 1;
        this.scheduler = new Scheduler(blocks, config, maxBlocksPerSeq);
        if (recurrent) scheduler.slots = new dev.lockstep.cache.StateSlots(model, config.maxSeqs());
        if (config.spec().mode() == SpecConfig.Mode.DRAFT && draftModel == null)
            throw new LockstepException("speculation mode 'draft' needs a draft model (--draft-model)");
        this.draft = draftModel == null ? null
                : new DraftProposer(draftModel, model, pool, bs, numBlocks, maxTokens, config.maxSeqs(), config.activations());
        this.scheduler.draft = draft;
        this.draftWant = new int[config.maxSeqs()];
        this.sampler = new Sampler(vocab);
        this.logprobs = new Logprobs(vocab);
        this.batch = new ForwardBatch(maxTokens, config.maxSeqs());
        this.batch.stateStore = recurrent ? scheduler.slots.store() : null;
        this.config = config;
        this.logits = new float[config.maxLogitRows() * vocab];
        this.rowSeq = new int[config.maxLogitRows()];
        this.rowPos = new int[config.maxLogitRows()];
        this.thread = new Thread(this::loop, "lockstep-engine");
        this.thread.setDaemon(true);
        this.grammar = tokenizer == null ? null : new GrammarWorker(tokenizer, vocab, thread);
        this.thread.start();
    }

    /**
     * Default KV memory: enough for {@code maxSeqs} full contexts, but at most 40% of the memory the
     * OS reports available, and at least one full context or 64 blocks.
     */
    static long autoKvBytes(Model model, EngineConfig cfg, long perBlock) {
        long perToken = perBlock / cfg.blockSize();
        long want = (long) Math.min(Long.MAX_VALUE / 2.0, (double) perToken * model.contextLength() * cfg.maxSeqs());
        long cap = (long) (availableMemory() * 0.4);
        long floor = Math.max(perBlock * 64, perToken * Math.min(model.contextLength(), 4096));
        return Math.max(floor, Math.min(want, cap));
    }

    /** MemAvailable from /proc/meminfo, else the JVM's view of free physical memory. */
    public static long availableMemory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo")))
                if (line.startsWith("MemAvailable:"))
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | RuntimeException ignored) {
            // not Linux: fall through
        }
        var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) return sun.getFreeMemorySize();
        return 4L << 30;
    }

    private static long modelKey(Model m) {
        Path p = m.file().path();
        return p.toAbsolutePath().toString().hashCode() * 31L + m.file().fileSize();
    }

    public Model model() { return model; }
    /** The context this engine serves: the model's, capped by what its KV cache can hold. */
    public int contextLength() { return contextLength; }
    public Tokenizer tokenizer() { return tokenizer; }
    public EngineConfig config() { return config; }
    public int kvBlocks() { return blocks.numBlocks(); }

    /** Bytes of memory the paged KV cache holds (its blocks, allocated at construction). */
    public long kvCacheBytes() { return (long) blocks.numBlocks() * KvCache.bytesPerBlock(model.kvLayers(), model.kvDim(), blocks.blockSize()); }

    public void setObserver(Observer o) {
        this.observer = o == null ? new Observer() {} : o;
    }

    // ------------------------------------------------------------------ public API

    /**
     * Queues a request. Throws {@link RejectedException} at once for a request that can never run
     * (invalid tokens, too long for the context or for the KV cache), when the queue is full, or when
     * the engine is shutting down.
     */
    public RequestHandle submit(GenerationRequest req) {
        return submitAll(List.of(req)).getFirst();
    }

    /**
     * Queues requests that belong together (the prompts and choices of one HTTP request), all or none:
     * the scheduler shares steps and running slots fairly between such groups, not between sequences,
     * and the group counts once against the queue limit. Throws {@link RejectedException} as
     * {@link #submit} does, and when the group would cost more than {@link EngineConfig#maxRequestTokens}
     * (its sequences times the tokens each may hold).
     */
    public List<RequestHandle> submitAll(List<GenerationRequest> reqs) {
        try {
            if (!accepting) throw new RejectedException(RejectedException.Kind.SHUTTING_DOWN, null, "the engine is shutting down");
            String failed = failure;
            if (failed != null) throw new RejectedException(RejectedException.Kind.UNAVAILABLE, null, "the engine cannot serve: " + failed);
            if (reqs.isEmpty()) throw new RejectedException(RejectedException.Kind.INVALID, "prompt", "no prompt to generate from");
            int[] maxLength = new int[reqs.size()];
            SpecConfig.Mode[] spec = new SpecConfig.Mode[reqs.size()];
            long cost = 0;
            for (int i = 0; i < reqs.size(); i++) {
                maxLength[i] = validate(reqs.get(i));
                cost += maxLength[i];
                spec[i] = specMode(reqs.get(i));
            }
            if (cost > config.maxRequestTokens())
                throw new RejectedException(RejectedException.Kind.INVALID, reqs.size() > 1 ? "n" : "max_tokens", "the request asks for "
                        + reqs.size() + (reqs.size() == 1 ? " sequence" : " sequences") + " holding up to " + cost
                        + " tokens in all (prompts plus max_tokens), more than this engine's limit of " + config.maxRequestTokens()
                        + " per request (--max-request-tokens); lower n, the number of prompts or max_tokens");
            if (queued.incrementAndGet() > config.maxWaiting()) {
                queued.decrementAndGet();
                throw new RejectedException(RejectedException.Kind.QUEUE_FULL, null, "the engine's queue is full ("
                        + config.maxWaiting() + " waiting requests)");
            }
            RequestGroup group = new RequestGroup();
            group.neverAdmitted = reqs.size();
            List<RequestHandle> handles = new ArrayList<>(reqs.size());
            List<Sequence> seqs = new ArrayList<>(reqs.size());
            for (int i = 0; i < reqs.size(); i++) {
                GenerationRequest req = reqs.get(i);
                long id = nextId.getAndIncrement();
                RequestHandle h = new RequestHandle(id, this);
                TextStream text = new TextStream(tokenizer, req.stop(), req.shownSpecial(), req.includeStop());
                Sequence s = new Sequence(id, req, h, maxLength[i], config.blockSize(), text, spec[i], config.spec().draftMax());
                s.group = group;
                s.arrivalNanos = System.nanoTime();
                if (req.tokenStops().minTokens() > 0) s.bannedEarly = bannedEarly(req.tokenStops());
                if (req.format().constrained()) { // its first mask is computed while it waits and prefills
                    s.constraint = new Constraint(req.format().automaton());
                    s.constraint.pending = grammar.start(s.constraint, 0);
                }
                handles.add(h);
                seqs.add(s);
            }
            inFlight.addAndGet(seqs.size());
            incoming.addAll(seqs);
            LockSupport.unpark(thread);
            return handles;
        } catch (RejectedException e) {
            rejected.incrementAndGet();
            observer.onRejected(e.kind());
            throw e;
        }
    }

    /** Checks one request against the model and the cache; returns the tokens its sequence may hold (prompt + max_tokens). */
    private int validate(GenerationRequest req) {
        int ctx = contextLength;
        int n = req.prompt().length;
        if (n == 0) throw new RejectedException(RejectedException.Kind.INVALID, "prompt", "the prompt is empty");
        for (int t : req.prompt())
            if (t < 0 || t >= vocab) throw new RejectedException(RejectedException.Kind.INVALID, "prompt",
                    "token id " + t + " is outside the vocabulary [0, " + vocab + ")");
        for (int t : req.tokenStops().ids())
            if (t < 0 || t >= vocab) throw new RejectedException(RejectedException.Kind.INVALID, "stop_token_ids",
                    "stop token id " + t + " is outside the vocabulary [0, " + vocab + ")");
        int biased = req.sampling().logitBias().maxId();
        if (biased >= vocab) throw new RejectedException(RejectedException.Kind.INVALID, "logit_bias",
                "logit_bias token id " + biased + " is outside the vocabulary [0, " + vocab + ")");
        String ctxName = ctx < model.contextLength() ? "this engine's context length (the model's " + model.contextLength()
                + ", capped by its KV cache: raise --kv-cache-memory)" : "the model's context length";
        if (n >= ctx) throw new RejectedException(RejectedException.Kind.TOO_LONG, "prompt", "the prompt has " + n
                + " tokens but " + ctxName + " is " + ctx + " (at least one token must be left to generate)");
        int maxTokens = req.maxTokens() < 0 ? ctx - n : req.maxTokens();
        if (maxTokens < 1) throw new RejectedException(RejectedException.Kind.INVALID, "max_tokens",
                "max_tokens must be at least 1, got " + req.maxTokens());
        if ((long) n + maxTokens > ctx) throw new RejectedException(RejectedException.Kind.TOO_LONG, "max_tokens",
                "the prompt (" + n + " tokens) plus max_tokens (" + maxTokens + ") exceeds " + ctxName + ", " + ctx);
        int blocksNeeded = blocks.blocksFor(n + maxTokens);
        if (blocksNeeded > blocks.numBlocks()) throw new RejectedException(RejectedException.Kind.TOO_LONG, "max_tokens",
                "the request needs " + blocksNeeded + " KV blocks (" + (n + maxTokens) + " tokens) but the cache holds only "
                        + blocks.numBlocks() + " blocks (" + (long) blocks.numBlocks() * config.blockSize()
                        + " tokens); raise --kv-cache-memory or lower max_tokens");
        if (req.format().constrained() && tokenizer == null)
            throw new RejectedException(RejectedException.Kind.INVALID, "response_format",
                    "a constrained response format needs the model's tokenizer, and this engine has none");
        if (specMode(req) == SpecConfig.Mode.DRAFT && draft == null)
            throw new RejectedException(RejectedException.Kind.INVALID, "speculation",
                    "speculation 'draft' was asked for but this engine has no draft model");
        return n + maxTokens;
    }

    private SpecConfig.Mode specMode(GenerationRequest req) {
        return recurrent ? SpecConfig.Mode.OFF : req.spec() != null ? req.spec() : config.spec().mode();
    }

    /** Submits and waits for the whole result. */
    public GenerationResult generate(GenerationRequest req) throws InterruptedException {
        return submit(req).await();
    }

    void cancel(RequestHandle h) {
        cancels.add(h.id());
        LockSupport.unpark(thread);
    }

    /**
     * Why the engine can serve nothing any more (for a health check), or null while it can. A failure
     * of one step is no such thing: it fails that step's requests and the engine goes on.
     */
    public String failure() {
        return failure;
    }

    public Stats stats() {
        int avail = blocks.available();
        return new Stats(statWaiting + incoming.size(), statRunning, blocks.numBlocks() - avail, avail, blocks.numBlocks(),
                blocks.queriedTokens(), blocks.hitTokens(), promptTokens.get(), generatedTokens.get(), finished.get(),
                rejected.get(), scheduler.preemptions, steps.get(), specProposed.get(), specAccepted.get(), specSteps.get());
    }

    /**
     * Where the engine thread's time went, summed over all steps so far (nanoseconds of wall time):
     * proposing (speculation), scheduling and batch building, the forward pass (of which matrix
     * products and attention), and everything after it (sampling, logprobs, detokenizing, emitting).
     * Subtract two snapshots to profile a run.
     */
    public record Profile(long steps, long proposeNanos, long scheduleNanos, long forwardNanos, long matmulNanos,
                          long attentionNanos, long afterNanos) {
        public Profile minus(Profile o) {
            return new Profile(steps - o.steps, proposeNanos - o.proposeNanos, scheduleNanos - o.scheduleNanos,
                    forwardNanos - o.forwardNanos, matmulNanos - o.matmulNanos, attentionNanos - o.attentionNanos,
                    afterNanos - o.afterNanos);
        }

        /** Forward-pass time outside products and attention: embedding, norms, RoPE, K/V writes, activations. */
        public long otherKernelNanos() {
            return forwardNanos - matmulNanos - attentionNanos;
        }
    }

    public Profile profile() {
        return new Profile(steps.get(), profPropose, profSchedule, profForward, profMatmul, profAttention, profAfter);
    }

    /** Drops idle cached prefix blocks (tests use this to compare warm and cold caches). */
    public void clearPrefixCache() {
        runOnEngineThread(blocks::clearIdleCache);
    }

    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();

    private void runOnEngineThread(Runnable r) {
        java.util.concurrent.CompletableFuture<Void> f = new java.util.concurrent.CompletableFuture<>();
        tasks.add(() -> {
            r.run();
            f.complete(null);
        });
        LockSupport.unpark(thread);
        f.join();
    }

    /**
     * Stops accepting requests, lets running and queued ones finish for up to {@code grace}, then ends
     * the rest with an ERROR ("shut down") and stops the engine thread.
     */
    public void shutdown(Duration grace) {
        accepting = false;
        long deadline = System.nanoTime() + grace.toNanos();
        while (System.nanoTime() < deadline && inFlight.get() > 0) {
            LockSupport.parkNanos(5_000_000);
        }
        stopping = true;
        LockSupport.unpark(thread);
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
        kv.close();
        if (draft != null) draft.close();
        if (grammar != null) grammar.close();
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    // ------------------------------------------------------------------ engine thread

    /**
     * The engine thread. Nothing thrown ends it: a failure while computing a step fails the requests of
     * that step and the loop goes on with the others ({@link #stepFailed}); a failure it cannot survive
     * (the model's file damaged under its mapping) fails every request and makes {@link #submit} refuse
     * new ones at once, with the reason ({@link #failure()}).
     */
    private void loop() {
        while (true) {
            try {
                Runnable task;
                while ((task = tasks.poll()) != null) task.run();
                drainIncoming();
                drainCancels();
                if (stopping) {
                    failAll(FinishReason.ABORTED, "the engine shut down before this request finished");
                    while ((task = tasks.poll()) != null) task.run();
                    return;
                }
                statWaiting = scheduler.waiting.size();
                statRunning = scheduler.running.size();
                if (!scheduler.hasWork() && parked.isEmpty()) {
                    LockSupport.park(this);
                    continue;
                }
                resumeParked();
                // nothing to compute while every running sequence waits for its grammar: wait for a job
                // (the grammar thread unparks this one) or for new requests
                if (!step()) LockSupport.parkNanos(this, 1_000_000);
            } catch (Throwable e) {
                stepFailed(e);
            }
        }
    }

    /**
     * A step threw. The requests it was computing end with an error (they may have half-written K/V,
     * which is freed with them; blocks are registered in the prefix cache only after a complete step,
     * so nothing half-written is ever shared). Recursion, memory and bugs are per step; a fault reading
     * the model's mapped file (an {@link InternalError} from the memory access, or the file shorter than
     * its mapping) is for good: every request fails and new ones are refused with the reason.
     */
    private void stepFailed(Throwable e) {
        try {
            String damage = model.file().damage();
            if (damage == null && draft != null) damage = draft.damage();
            if (damage == null && e instanceof VirtualMachineError && !(e instanceof StackOverflowError) && !(e instanceof OutOfMemoryError))
                damage = "the engine hit a fault it cannot recover from (" + e.getClass().getSimpleName()
                        + "); restart the server; its log has the details";
            LOG.log(System.Logger.Level.ERROR, damage != null ? "engine stopped: " + damage : "a step failed; its requests end with an error", e);
            if (damage != null) {
                failure = damage;
                failAll(FinishReason.ABORTED, "the engine cannot serve: " + damage);
                return;
            }
            String message = "internal error while computing this request; the server log has the details";
            if (scheduler.numScheduled > 0) {
                for (int i = 0; i < scheduler.numScheduled; i++) finish(scheduler.scheduled[i], FinishReason.ERROR, message);
            } else { // before scheduling: proposing for speculation
                for (Sequence s : new ArrayList<>(scheduler.running))
                    if (s.specMode != SpecConfig.Mode.OFF) finish(s, FinishReason.ERROR, message);
            }
            scheduler.numScheduled = 0;
        } catch (Throwable again) {
            // failing the requests failed too (out of memory, most likely): stop serving rather than hang them
            failure = "the engine failed while recovering from an error; restart the server";
            try {
                failAll(FinishReason.ABORTED, "the engine cannot serve: " + failure);
            } catch (Throwable ignored) {
                // nothing more can be done on this thread; submit() refuses new requests from now on
            }
        }
    }

    private void drainIncoming() {
        Sequence s;
        while ((s = incoming.poll()) != null) scheduler.waiting.addLast(s);
    }

    private void drainCancels() {
        Long id;
        while ((id = cancels.poll()) != null) {
            Sequence target = find(id);
            if (target != null) finish(target, FinishReason.CANCELLED, "cancelled");
        }
    }

    private Sequence find(long id) {
        for (Sequence s : scheduler.running) if (s.id == id) return s;
        for (Sequence s : scheduler.waiting) if (s.id == id) return s;
        for (Sequence s : parked) if (s.id == id) return s;
        return null;
    }

    private void failAll(FinishReason reason, String message) {
        drainIncoming();
        for (Sequence s : new ArrayList<>(scheduler.running)) finish(s, reason, message);
        for (Sequence s : new ArrayList<>(scheduler.waiting)) finish(s, reason, message);
        for (Sequence s : new ArrayList<>(parked)) finish(s, reason, message);
    }

    /** One step; false if it computed nothing (every running sequence waits for its grammar). */
    private boolean step() {
        scheduler.numScheduled = 0; // what a failure in this step fails (see stepFailed)
        long t0 = System.nanoTime();
        grammarDeadline = t0 + PROPOSE_WAIT_NANOS;
        propose();
        long t1 = System.nanoTime();
        profPropose += t1 - t0;
        scheduler.schedule();
        if (scheduler.groupsAdmitted > 0) { // groups whose last sequence was admitted for the first time
            queued.addAndGet(-scheduler.groupsAdmitted);
            scheduler.groupsAdmitted = 0;
        }
        int ns = scheduler.numScheduled;
        if (ns == 0) {
            // nothing fits: the head of the queue needs more blocks than exist now, or every running
            // sequence waits for its grammar
            Sequence head = scheduler.waiting.peekFirst();
            if (head != null && scheduler.running.isEmpty())
                finish(head, FinishReason.ABORTED, "not enough KV cache memory for this request");
            return false;
        }
        steps.incrementAndGet();
        batch.clear();
        int rows = 0;
        for (int i = 0; i < ns; i++) {
            Sequence s = scheduler.scheduled[i];
            int n = scheduler.counts[i];
            int bi = batch.addSequence(s.blockTable, s.stateSlot, s.computed);
            for (int p = s.computed; p < s.computed + n; p++) {
                // the last confirmed token and every proposed one after it need logits (to verify them)
                boolean want = p >= s.length - 1 || (s.wantsPromptLogprobs() && p < s.promptLen - 1);
                batch.addToken(bi, p < s.length ? s.tokens[p] : s.draft[p - s.length], p, want);
                if (want) {
                    rowSeq[rows] = i;
                    rowPos[rows] = p;
                    rows++;
                }
            }
        }
        long t2 = System.nanoTime();
        runner.forward(batch, kv, logits);
        long t3 = System.nanoTime();
        profSchedule += t2 - t1;
        profForward += t3 - t2;
        profMatmul = runner.matmulNanos();
        profAttention = runner.attentionNanos();
        grammarDeadline = t3 + SAMPLE_WAIT_NANOS;

        int row = 0;
        for (int i = 0; i < ns; i++) {
            Sequence s = scheduler.scheduled[i];
            int n = scheduler.counts[i];
            int lastRow = -1;
            while (row < rows && rowSeq[row] == i) {
                int p = rowPos[row];
                if (s.wantsPromptLogprobs() && p < s.promptLen - 1 && !s.reported) {
                    if (finiteLogits(s, logits, row * vocab, p))
                        s.promptLogprobs.add(logprobs.entry(logits, row * vocab, s.tokens[p + 1], Math.max(0, s.request.logprobs())));
                }
                if (p == s.length - 1) lastRow = row;
                row++;
            }
            if (s.reported) continue; // its logits were not numbers
            try {
                if (s.numDraft > 0) {
                    verify(s, lastRow);
                    continue;
                }
                s.computed += n;
                scheduler.registerFullBlocks(s);
                if (s.computed == s.length && lastRow >= 0) sampleOrPark(s, lastRow);
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                // sampling, grammar or detokenizing one sequence failed: that sequence alone ends
                LOG.log(System.Logger.Level.ERROR, "request " + s.id + " failed after its forward pass", e);
                finish(s, FinishReason.ERROR, "internal error while computing this request; the server log has the details");
            }
        }
        profAfter += System.nanoTime() - t3;
        return true;
    }

    /**
     * Speculation: asks the proposers for tokens continuing each decoding sequence that speculates.
     * A constrained sequence proposes what its grammar job found at the point it stands (the text the
     * grammar forces, an n-gram guess cut where the grammar refuses it), if that job is done in time;
     * a draft model's proposal for it is checked by a job of its own while the forward pass runs. The
     * scheduler may trim a proposal to the step's budgets (or drop it rather than preempt anyone).
     */
    private void propose() {
        SpecConfig sc = config.spec();
        drafting.clear();
        for (Sequence s : scheduler.running) {
            s.numDraft = 0;
            s.proposalPoints = null;
            if (s.specMode == SpecConfig.Mode.OFF || !s.decoding() || s.parked) continue;
            int k = Math.min(sc.draftMax(), s.maxLength - s.length - 1);
            if (k < sc.draftMin()) continue;
            Constraint c = s.constraint;
            if (c != null) {
                GrammarWorker.Point p = await(s, grammarDeadline);
                if (p == null || p.done()) continue; // not known in time (or the value is complete): no proposal this step
                GrammarWorker.Result known = c.latest;
                int n = known == null ? 0 : Math.min(known.proposal().length, k);
                if (n > 0) {
                    if (n >= sc.draftMin()) {
                        System.arraycopy(known.proposal(), 0, s.draft, 0, n);
                        s.numDraft = n;
                        s.proposalPoints = known.after();
                    }
                    continue;
                }
                if (s.specMode == SpecConfig.Mode.NGRAM) continue; // the grammar refused the guess and forces nothing
            } else if (s.specMode == SpecConfig.Mode.NGRAM) {
                int got = NgramProposer.propose(s.tokens, s.length, k, sc.ngramMin(), sc.ngramMax(), s.draft);
                s.numDraft = got >= sc.draftMin() ? got : 0;
                continue;
            }
            if (drafting.size() < draftWant.length) {
                draftWant[drafting.size()] = k;
                drafting.add(s);
            }
        }
        if (!drafting.isEmpty()) {
            draft.propose(drafting, draftWant);
            for (Sequence s : drafting) {
                if (s.numDraft < sc.draftMin()) {
                    s.numDraft = 0;
                    continue;
                }
                Constraint c = s.constraint;
                if (c != null) c.path = grammar.path(c, c.current.state(), Arrays.copyOf(s.draft, s.numDraft));
            }
        }
    }

    /**
     * The grammar point a constrained sequence stands at, waiting until {@code deadline}; null if not
     * known by then, or if its grammar failed (the sequence is then finished, saying why).
     */
    private GrammarWorker.Point await(Sequence s, long deadline) {
        try {
            return s.constraint.await(deadline);
        } catch (GrammarLimitException.Cancelled e) {
            return null; // the request is ending anyway
        } catch (GrammarLimitException e) {
            finish(s, FinishReason.REFUSED, "the response format cannot be enforced: " + e.getMessage() + ", after "
                    + s.generated() + " generated tokens (" + s.request.format().describe() + ")");
            return null;
        }
    }

    /**
     * Samples the next token of {@code s} from logits row {@code row}, or, for a constrained sequence
     * whose grammar point is not known yet, sets the row aside until it is ({@link #park}). A value
     * the grammar says is complete ends the request here.
     */
    private void sampleOrPark(Sequence s, int row) {
        if (s.constraint != null) {
            GrammarWorker.Point p = await(s, grammarDeadline);
            if (s.reported) return;
            if (p == null) {
                park(s, row);
                return;
            }
            if (p.done()) {
                finish(s, FinishReason.STOP, null);
                return;
            }
        }
        emitNext(s, logits, row * vocab, -1, null);
    }

    /**
     * Sets a sequence's logits row aside until its grammar point is known; the scheduler skips it
     * meanwhile. Sampling it later from the same bits and the same mask gives the token it would have
     * got at once.
     */
    private void park(Sequence s, int row) {
        if (s.deferredLogits == null) s.deferredLogits = new float[vocab];
        System.arraycopy(logits, row * vocab, s.deferredLogits, 0, vocab);
        s.parked = true;
        parked.add(s);
    }

    /**
     * Sequences that were waiting for their grammar and whose job is done: sample the row they set
     * aside, or finish the ones that reached their length with the reason the grammar gives.
     */
    private void resumeParked() {
        for (int i = 0; i < parked.size(); ) {
            Sequence s = parked.get(i);
            if (!s.parked && !s.retired) { // preempted meanwhile: it recomputes that row
                parked.remove(i);
                continue;
            }
            if (!s.constraint.known()) {
                i++;
                continue;
            }
            parked.remove(i);
            s.parked = false;
            try {
                GrammarWorker.Point p = await(s, 0);
                if (s.reported && !s.retired) continue;
                if (s.retired) finish(s, p != null && p.done() ? FinishReason.STOP : FinishReason.LENGTH, null);
                else if (p.done()) finish(s, FinishReason.STOP, null);
                else emitNext(s, s.deferredLogits, 0, -1, null);
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                LOG.log(System.Logger.Level.ERROR, "request " + s.id + " failed while sampling", e);
                finish(s, FinishReason.ERROR, "internal error while computing this request; the server log has the details");
            }
        }
    }

    /**
     * Verifies a proposal: the logits rows from {@code firstRow} are those of the last confirmed token
     * and of each proposed token. Each row's token is sampled exactly as plain decoding samples it
     * (same logits bits, same counter-based random number, same history, same grammar mask); a
     * proposed token counts only while it equals the sampled one. K/V of rejected positions is dropped
     * (blocks past the confirmed tokens are freed; the rest is overwritten when those positions are
     * computed again). A constrained sequence goes on only while the grammar point after an accepted
     * token is known; the rest is plain decoding next step.
     */
    private void verify(Sequence s, int firstRow) {
        int d = s.numDraft;
        s.numDraft = 0;
        s.computed = s.length; // the last confirmed token now has K/V
        s.specSteps++;
        s.specProposed += d;
        specSteps.incrementAndGet();
        specProposed.addAndGet(d);
        GrammarWorker.Point[] points = null;
        if (s.constraint != null) points = s.proposalPoints != null ? s.proposalPoints : s.constraint.pathPoints(grammarDeadline);
        s.proposalPoints = null;
        for (int j = 0; j <= d; j++) {
            GrammarWorker.Point next = points != null && j < d && j < points.length ? points[j] : null;
            emitNext(s, logits, (firstRow + j) * vocab, j < d ? s.draft[j] : -1, next);
            if (s.reported || s.retired) return;
            if (j == d || s.tokens[s.length - 1] != s.draft[j]) break;
            s.specAccepted++;
            specAccepted.incrementAndGet();
            // the point after this token is being computed: its K/V is recomputed next step, and sampled then
            if (s.constraint != null && s.constraint.current == null) break;
            s.computed++; // proposal j was right: its K/V (computed from the right token) stays
        }
        scheduler.truncate(s, s.length);
        scheduler.registerFullBlocks(s);
        if (s.specMode == SpecConfig.Mode.DRAFT) DraftProposer.rollBack(s);
    }

    /**
     * Samples the next token of {@code s} from the logits at {@code src[off..off+vocab)}, emits it, and
     * finishes if it ends. A constrained sequence samples among its current point's allowed tokens
     * and moves on: to {@code expectNext} if the token is {@code expect} (a proposal's token whose
     * point a job found), else to a point its grammar job computes while the next step runs.
     */
    private void emitNext(Sequence s, float[] src, int off, int expect, GrammarWorker.Point expectNext) {
        GenerationRequest r = s.request;
        if (s.generated() == 0 && s.wantsPromptLogprobs() && !s.promptLogprobsSent) {
            s.handle.emit(new GenerationEvent.PromptLogprobs(List.copyOf(s.promptLogprobs)));
            s.promptLogprobsSent = true;
        }
        if (!finiteLogits(s, src, off, s.length - 1)) return;
        Constraint c = s.constraint;
        long[] allowed = c == null ? null : c.current.mask();
        int[] banned = s.generated() < r.tokenStops().minTokens() ? s.bannedEarly : null;
        int tok = sampler.sample(src, off, r.sampling(), s.tokens, s.promptLen, s.length, r.stream(), allowed, banned);
        Logprobs.Entry lp = r.logprobs() >= 0 ? logprobs.entry(src, off, tok, r.logprobs()) : null;
        s.append(tok);
        generatedTokens.incrementAndGet();
        long now = System.nanoTime();
        if (s.firstTokenNanos == 0) {
            s.firstTokenNanos = now;
            observer.onFirstToken(now - s.arrivalNanos);
        } else {
            observer.onToken(now - s.lastTokenNanos);
        }
        s.lastTokenNanos = now;
        boolean eog = tokenizer != null && tokenizer.isEndOfGeneration(tok) && !r.ignoreEos();
        boolean closed = false, closing = false; // the value is complete / may be: its grammar job will say
        if (c != null && !eog) {
            // (an end-of-generation token is in the mask only where the grammar's output may end: it ends it)
            if (tok == expect && expectNext != null) {
                c.moveTo(expectNext);
                closed = expectNext.done();
            } else {
                c.moveTo(advance(s, c.current.state(), tok));
                closing = true;
            }
        }
        eog |= r.tokenStops().stops(tok); // a stop token id ends the output as end-of-generation does
        String text = eog ? "" : s.text.push(tok);
        s.handle.emit(new GenerationEvent.Token(tok, lp, text));
        if (eog || closed || s.text.stopped()) finish(s, FinishReason.STOP, null);
        else if (s.length >= s.maxLength) {
            if (closing) retire(s); // stop or length: whether this token completed the value decides
            else finish(s, FinishReason.LENGTH, null);
        }
    }

    /**
     * The grammar job after {@code tok} from {@code from}; a speculating sequence's job also prepares
     * its next proposal: an n-gram guess (made now, from the tokens so far) cut to what the grammar
     * takes, and lengthened with the text the grammar forces (for a draft model: that text alone).
     */
    private GrammarWorker.Job advance(Sequence s, long from, int tok) {
        SpecConfig sc = config.spec();
        int k = s.specMode == SpecConfig.Mode.OFF ? 0 : Math.min(sc.draftMax(), s.maxLength - s.length - 1);
        if (k < sc.draftMin()) k = 0;
        int[] guess = new int[0];
        if (k > 0 && s.specMode == SpecConfig.Mode.NGRAM) {
            int got = NgramProposer.propose(s.tokens, s.length, k, sc.ngramMin(), sc.ngramMax(), s.draft);
            guess = Arrays.copyOf(s.draft, got);
        }
        return grammar.advance(s.constraint, from, tok, guess, k, k > 0);
    }

    /**
     * A sequence at its length whose last token may have completed its value: out of the scheduler
     * (its blocks freed) at once, reported when its grammar job says how it ended.
     */
    private void retire(Sequence s) {
        scheduler.remove(s);
        s.retired = true;
        parked.add(s);
    }

    /**
     * Whether the logits row at {@code src[off..off+vocab)} is made of numbers (no NaN, no +infinity);
     * if not, the request ends with an error saying so: a model whose weights or activations overflow
     * (or a corrupt file) must not reach the sampler (which has no token to pick) or the client (as
     * "NaN" logprobs).
     */
    private boolean finiteLogits(Sequence s, float[] src, int off, int position) {
        for (int t = 0; t < vocab; t++) {
            float v = src[off + t];
            if (v != v || v == Float.POSITIVE_INFINITY) {
                finish(s, FinishReason.ERROR, "the model computed " + v + " as the logit of token " + t + " at position " + position
                        + ": its weights or activations are not finite numbers (a corrupt or overflowing model file)");
                return false;
            }
        }
        return true;
    }

    /** min_tokens: the end-of-generation tokens and the request's stop token ids, which wait until it is reached. */
    private int[] bannedEarly(TokenStops ts) {
        TreeSet<Integer> ids = new TreeSet<>();
        if (tokenizer != null) for (int t : tokenizer.endOfGenerationTokens()) if (t >= 0 && t < vocab) ids.add(t);
        for (int t : ts.ids()) ids.add(t);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private void finish(Sequence s, FinishReason reason, String message) {
        if (s.reported) return;
        s.reported = true;
        if (!s.admitted && --s.group.neverAdmitted == 0) queued.decrementAndGet();
        inFlight.decrementAndGet();
        scheduler.remove(s); // nothing to remove if it was retired
        if (s.parked || s.retired) {
            parked.remove(s);
            s.parked = s.retired = false;
        }
        if (s.constraint != null) s.constraint.cancelled = true; // its grammar work stops
        promptTokens.addAndGet(s.promptLen);
        String tail = reason == FinishReason.STOP || reason == FinishReason.LENGTH ? s.text.flush() : "";
        // counters first: whoever wakes up on the Finished event sees them already updated
        finished.incrementAndGet();
        statRunning = scheduler.running.size();
        statWaiting = scheduler.waiting.size();
        observer.onFinished(reason, s.promptLen, s.generated());
        s.handle.emit(new GenerationEvent.Finished(reason, tail, s.promptLen, s.generated(), s.cachedPromptTokens, message,
                s.specProposed, s.specAccepted, s.specSteps));
    }
}
