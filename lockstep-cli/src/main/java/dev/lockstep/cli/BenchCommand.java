package dev.lockstep.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lockstep.bench.EngineBench;
import dev.lockstep.bench.FmaPeak;
import dev.lockstep.bench.Int16Peak;
import dev.lockstep.bench.MemoryBandwidth;
import dev.lockstep.bench.Stats;
import dev.lockstep.bench.VerifyCost;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.SpecConfig;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.JitLimits;
import dev.lockstep.LockstepException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code lockstep bench}: prompt processing (pp), decoding (tg) and aggregate decoding at several
 * concurrencies, repeated, with median and spread, against the memory bandwidth measured in the same run.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Measure prompt and decode tokens/s (with the invariance guarantees on, as always).")
final class BenchCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--pp", paramLabel = "N", description = "prompt length of the prompt-processing test (default: ${DEFAULT-VALUE}; 0 = skip)")
    int pp = 512;

    @Option(names = "--tg", paramLabel = "N", description = "tokens of the decode tests (default: ${DEFAULT-VALUE}; 0 = skip)")
    int tg = 128;

    @Option(names = "--concurrency", split = ",", paramLabel = "N,N,...", description = "concurrent sequences for aggregate decode (default: 1,2,4,8,16)")
    List<Integer> concurrency = new ArrayList<>(List.of(1, 2, 4, 8, 16));

    @Option(names = "--reps", paramLabel = "N", description = "repetitions of each test (default: ${DEFAULT-VALUE})")
    int reps = 3;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Option(names = {"--no-bandwidth", "--no-peaks"}, description = "skip measuring the machine's memory bandwidth and f32 FMA peak")
    boolean noBandwidth;

    @Option(names = "--spec-compare", description = "compare decode speed with and without speculation (prompt lookup on a "
            + "rewriting workload; the draft model, if given, on a plain continuation), checking the outputs are identical")
    boolean specCompare;

    @Option(names = "--spec-text", paramLabel = "TEXT", description = "passage for --spec-compare (default: a built-in English passage)")
    String specText = "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
            + "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. "
            + "And God said, Let there be light: and there was light.";

    @Mixin EngineOptions engineOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        int maxConc = concurrency.stream().mapToInt(Integer::intValue).max().orElse(1);
        Map<String, Object> result = new LinkedHashMap<>();
        try (LoadedModel lm = LoadedModel.open(modelOptions.resolve(), false)) {
            EngineConfig cfg = engineOptions.toConfig(modelOptions.threads).withMaxSeqs(Math.max(maxConc, engineOptions.maxSeqs))
                    .withMaxBatchTokens(Math.max(engineOptions.maxBatchTokens, pp)).withPrefixCaching(false);
            if (engineOptions.kvCacheMemory == null) {
                long perToken = dev.lockstep.cache.KvCache.bytesPerBlock(lm.model().kvLayers(), lm.model().kvDim(), 1);
                cfg = cfg.withKvCacheBytes(perToken * (Math.max(pp + 16, (long) maxConc * (tg + 32)) + 64L * cfg.blockSize()));
            }
            long weightBytes = EngineBench.weightBytesPerToken(lm.model());
            double bw = noBandwidth ? 0 : MemoryBandwidth.measure(modelOptions.threads, 1L << 30, 5);
            double peak = noBandwidth ? 0 : FmaPeak.measure(modelOptions.threads, 20_000_000L, 6);
            boolean int8 = cfg.activations() == Activations.INT8;
            double int16Peak = noBandwidth || !int8 ? 0 : Int16Peak.measure(modelOptions.threads, 10_000_000L, 6);
            result.put("model", modelOptions.resolve().toString());
            result.put("model_description", lm.model().describe());
            result.put("threads", modelOptions.threads);
            result.put("kernels", Canonical.PATH);
            result.put("jit_limits_raised", JitLimits.raised());
            result.put("activations", cfg.activations().label());
            result.put("weight_bytes_per_token", weightBytes);
            result.put("memory_bandwidth_gbps", round(bw / 1e9));
            result.put("fma_peak_gflops", round(peak / 1e9));
            if (int16Peak > 0) result.put("int16_peak_gproducts", round(int16Peak / 1e9));
            if (!json) {
                out.printf("model      %s (%s of weights read per forward pass)%n", modelOptions.resolve().getFileName(), Sizes.human(weightBytes));
                out.printf("kernels    %s, %s activations; C2 settings %s%n", Canonical.PATH, cfg.activations().label(),
                        JitLimits.raised() ? "set" : "missing (some runs may decode several times slower; see JitLimits)");
                out.printf("threads    %d; memory read bandwidth measured now: %s%n", modelOptions.threads,
                        noBandwidth ? "skipped" : String.format(Locale.ROOT, "%.1f GB/s", bw / 1e9));
                out.printf("compute    f32 FMA peak measured now: %s%s%n",
                        noBandwidth ? "skipped" : String.format(Locale.ROOT, "%.1f GFLOP/s", peak / 1e9),
                        int16Peak > 0 ? String.format(Locale.ROOT, "; 16-bit multiply-add peak: %.1f G products/s", int16Peak / 1e9) : "");
                out.printf("roofline   %s decode tok/s (bandwidth / weight bytes per token)%n%n",
                        noBandwidth ? "?" : String.format(Locale.ROOT, "%.1f", bw / weightBytes));
                out.printf("%-16s %-26s %-24s %s%n", "test", "tok/s median (min-max)", "weights GB/s | GFLOP/s", "of bandwidth | FMA peak");
                out.flush();
            }
            List<Map<String, Object>> rows = new ArrayList<>();
            try (LoadedModel dm = engineOptions.openDraft();
                 Engine engine = new Engine(lm.model(), lm.tokenizer(), cfg, dm == null ? null : dm.model())) {
                EngineBench b = new EngineBench(engine);
                b.promptTokensPerSecond(Math.min(64, Math.max(pp, 8))); // warm-up: JIT-compile the kernels
                b.decodeTokensPerSecond(16);
                Engine.Profile ppProfile = null, tgProfile = null, batched = null; // printed after the tests, in this order
                int batchedSeqs = 1;
                if (pp > 0) {
                    Engine.Profile before = engine.profile();
                    Stats s = repeat(() -> b.promptTokensPerSecond(pp));
                    ppProfile = engine.profile().minus(before);
                    // the peak again, right after: the machine's speed drifts over a minute, and the products ran in between
                    double peakAfter = noBandwidth ? 0 : FmaPeak.measure(modelOptions.threads, 20_000_000L, 6);
                    rows.add(promptRow(out, "pp" + pp, s, EngineBench.promptMatrixFlops(lm.model(), pp), pp, ppProfile, peak, peakAfter, int16Peak));
                }
                if (tg > 0 && !specCompare) {
                    Engine.Profile before = engine.profile();
                    rows.add(row(out, "tg" + tg, repeat(() -> b.decodeTokensPerSecond(tg)), weightBytes, bw, 1));
                    tgProfile = engine.profile().minus(before);
                    for (int c : concurrency) {
                        Engine.Profile cBefore = engine.profile();
                        rows.add(row(out, "decode x" + c, repeat(() -> b.aggregateDecode(c, tg)), weightBytes, bw, c));
                        if (c > batchedSeqs) { // the most sequences: where a batched step's time goes
                            batched = engine.profile().minus(cBefore);
                            batchedSeqs = c;
                        }
                    }
                    double[] verify = VerifyCost.measure(lm.model(), modelOptions.threads, cfg.activations(), VERIFY_TOKENS, 2 * reps + 3);
                    if (verify != null) rows.add(verifyRow(out, verify));
                }
                if (ppProfile != null) promptProfile = profile(out, "pp" + pp, "prompt", ppProfile);
                if (tgProfile != null) decodeProfile = profile(out, "tg" + tg, "decode step", tgProfile);
                if (batched != null) batchedProfile = profile(out, "decode x" + batchedSeqs, "decode step", batched);
                if (specCompare) {
                    if (lm.tokenizer() == null) throw new LockstepException("--spec-compare needs a model with a tokenizer");
                    int n = tg > 0 ? tg : 128;
                    // (a) rewriting: the passage, then its start again; the model tends to copy, prompt lookup guesses it
                    String half = specText.substring(0, specText.length() / 2);
                    int[] rewrite = lm.tokenizer().encode(specText + "\n\n" + half, true, false);
                    rows.addAll(specRows(out, b, "rewrite", rewrite, n, SpecConfig.Mode.NGRAM));
                    // (b) plain continuation with the draft model
                    if (dm != null) rows.addAll(specRows(out, b, "continue", lm.tokenizer().encode(half, true, false), n,
                            SpecConfig.Mode.DRAFT));
                }
            }
            result.put("results", rows);
            if (promptProfile != null) result.put("prompt_profile", promptProfile);
            if (decodeProfile != null) result.put("decode_step_profile", decodeProfile);
            if (batchedProfile != null) result.put("batched_step_profile", batchedProfile);
        }
        if (json) out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result));
        return 0;
    }

    /** The same greedy decode with speculation off and on; median speeds, proposer stats, equality of outputs. */
    private List<Map<String, Object>> specRows(PrintWriter out, EngineBench b, String workload, int[] prompt, int n,
                                               SpecConfig.Mode mode) throws InterruptedException {
        if (!json) {
            out.printf("%n%-22s %-12s %-10s %-12s %-16s %s%n", "spec " + workload, "tok/s", "speedup", "acceptance",
                    "tokens per step", "output");
            out.flush();
        }
        int ctx = b.contextLength();
        if (prompt.length + 9 > ctx)
            throw new LockstepException("--spec-compare: the " + workload + " prompt has " + prompt.length + " tokens but the model's "
                    + "context is " + ctx + "; pass a shorter --spec-text");
        n = Math.min(n, ctx - prompt.length - 1);
        List<Map<String, Object>> rows = new ArrayList<>();
        EngineBench.SpecRun[] off = new EngineBench.SpecRun[reps], on = new EngineBench.SpecRun[reps];
        b.specDecode(prompt, n, SpecConfig.Mode.OFF); // warm-up: JIT-compile both paths before timing
        b.specDecode(prompt, n, mode);
        for (int i = 0; i < reps; i++) { // interleaved, so drift in machine speed hits both alike
            off[i] = b.specDecode(prompt, n, SpecConfig.Mode.OFF);
            on[i] = b.specDecode(prompt, n, mode);
        }
        Stats so = Stats.of(java.util.Arrays.stream(off).mapToDouble(EngineBench.SpecRun::tokensPerSecond).toArray());
        Stats sn = Stats.of(java.util.Arrays.stream(on).mapToDouble(EngineBench.SpecRun::tokensPerSecond).toArray());
        boolean identical = true;
        for (int i = 0; i < reps; i++) identical &= java.util.Arrays.equals(off[i].tokens(), on[i].tokens());
        for (var e : List.of(Map.entry("off", off), Map.entry(mode.name().toLowerCase(Locale.ROOT), on))) {
            boolean isOff = e.getKey().equals("off");
            Stats st = isOff ? so : sn;
            EngineBench.SpecRun r0 = e.getValue()[0];
            Map<String, Object> r = statsRow("spec " + workload + " " + e.getKey() + " tg" + n, st);
            if (!isOff) {
                r.put("speedup", round(sn.median() / so.median()));
                r.put("acceptance_rate", round(r0.acceptanceRate()));
                r.put("mean_tokens_per_step", round(r0.meanAcceptedLength()));
                r.put("identical_output", identical);
            }
            rows.add(r);
            if (!json) {
                out.printf(Locale.ROOT, "%-22s %-12s %-10s %-12s %-16s %s%n", e.getKey(), String.format(Locale.ROOT, "%.1f", st.median()),
                        isOff ? "1.00" : String.format(Locale.ROOT, "%.2f", sn.median() / so.median()),
                        isOff ? "" : String.format(Locale.ROOT, "%.0f%%", 100 * r0.acceptanceRate()),
                        isOff ? "1.00" : String.format(Locale.ROOT, "%.2f", r0.meanAcceptedLength()),
                        isOff ? "" : identical ? "identical" : "DIFFERENT");
                out.flush();
            }
        }
        if (!identical) throw new IllegalStateException("speculation changed the output: a bug; please report it");
        return rows;
    }

    interface Measure {
        double run() throws InterruptedException;
    }

    private Map<String, Object> promptProfile, decodeProfile, batchedProfile;

    /**
     * Where the time of one engine step goes (engine thread, wall time, mean over the steps of the
     * test; a prompt of the pp test is one step): the forward pass split into matrix products,
     * attention and the other kernels, then sampling and emitting, scheduling and proposing.
     */
    private Map<String, Object> profile(PrintWriter out, String test, String what, Engine.Profile p) {
        double steps = Math.max(1, p.steps());
        long total = p.proposeNanos() + p.scheduleNanos() + p.forwardNanos() + p.afterNanos();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test", test);
        m.put("steps", p.steps());
        // runners that do not break their forward pass down (recurrent models) report it all as "other kernels"
        String[] names = {"matrix products", "attention", p.matmulNanos() == 0 ? "forward pass" : "other kernels", "sampling + emit",
                "scheduling", "speculation"};
        String[] keys = {"matmul_ms", "attention_ms", "other_kernels_ms", "sampling_emit_ms", "scheduling_ms", "speculation_ms"};
        long[] v = {p.matmulNanos(), p.attentionNanos(), p.otherKernelNanos(), p.afterNanos(), p.scheduleNanos(), p.proposeNanos()};
        if (!json) out.printf(Locale.ROOT, "%nwhere a %s's time goes (%s, %d steps, mean %.2f ms per step)%n", what, test, p.steps(), total / steps / 1e6);
        for (int i = 0; i < v.length; i++) {
            m.put(keys[i], round(v[i] / steps / 1e6));
            if (!json) out.printf(Locale.ROOT, "  %-18s %8.3f ms  %5.1f%%%n", names[i], v[i] / steps / 1e6, 100.0 * v[i] / Math.max(1, total));
        }
        if (!json) out.flush();
        return m;
    }

    private Stats repeat(Measure m) throws InterruptedException {
        double[] v = new double[reps];
        for (int i = 0; i < reps; i++) v[i] = m.run();
        return Stats.of(v);
    }

    /** A decode row: weight traffic = steps/s x weight bytes (one step serves {@code seqs} tokens), against the bandwidth. */
    private Map<String, Object> row(PrintWriter out, String name, Stats s, long weightBytes, double bw, int seqs) {
        double gbps = s.median() / seqs * weightBytes / 1e9;
        Map<String, Object> r = statsRow(name, s);
        r.put("weight_read_gbps", round(gbps));
        if (!json) {
            out.printf(Locale.ROOT, "%-16s %-26s %-24s %s%n", name, s.toString(), String.format(Locale.ROOT, "%.1f", gbps),
                    bw > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * gbps * 1e9 / bw) : "");
            out.flush();
        }
        return r;
    }

    /**
     * The prompt row: besides tok/s, the matrix products' GFLOP/s over the whole prompt time (tok/s x
     * matrix FLOPs per prompt token, {@link EngineBench#promptMatrixFlops}) and over the products' own
     * time ({@code p}, the engine's profile of the test's prompts), against the FMA peak measured before
     * and after the test: prompts are compute-bound as decoding is memory-bound. Both shares are
     * printed: this machine's peak has moved by 1.7x within the minute of one test.
     */
    private Map<String, Object> promptRow(PrintWriter out, String name, Stats s, double flopsPerPrompt, int tokens, Engine.Profile p,
                                          double peakBefore, double peakAfter, double int16Peak) {
        double gflops = s.median() * flopsPerPrompt / tokens / 1e9;
        double inProducts = p.matmulNanos() > 0 ? flopsPerPrompt * s.n() / p.matmulNanos() : 0; // FLOP per ns = GFLOP/s
        double before = peakBefore / 1e9, after = peakAfter / 1e9; // GFLOP/s, as the rates
        Map<String, Object> r = statsRow(name, s);
        r.put("matrix_gflops", round(gflops));
        r.put("matrix_gflops_in_products", round(inProducts));
        r.put("fma_peak_after_gflops", round(after));
        double products = inProducts / 2; // G products/s: a multiply-add is two FLOP
        if (int16Peak > 0) r.put("int16_peak_share", round(products * 1e9 / int16Peak));
        if (!json) {
            out.printf(Locale.ROOT, "%-16s %-26s %-24s %s%n", name, s.toString(), String.format(Locale.ROOT, "%.1f GFLOP/s", gflops),
                    before > 0 ? String.format(Locale.ROOT, "%.0f%% of FMA peak", 100 * gflops / before) : "");
            out.printf(Locale.ROOT, "%-16s %-26s %-24s %s%n", "  in products", "", String.format(Locale.ROOT, "%.1f GFLOP/s", inProducts),
                    before > 0 ? String.format(Locale.ROOT, "%.0f%%; %.0f%% of the peak after (%.1f GFLOP/s)", 100 * inProducts / before,
                            100 * inProducts / after, after) : "");
            if (int16Peak > 0) // the INT8 mode: its products against the 16-bit peak (a kernel left scalar shows here)
                out.printf(Locale.ROOT, "%-16s %-26s %-24s %s%n", "  as int16", "", String.format(Locale.ROOT, "%.1f G products/s", products),
                        String.format(Locale.ROOT, "%.0f%% of the 16-bit multiply-add peak", 100 * products * 1e9 / int16Peak));
            out.flush();
        }
        return r;
    }

    /** Proposed tokens of the verification measurement: a typical draft length (the engine's default draft-max is 5). */
    private static final int VERIFY_TOKENS = 5;

    /**
     * What verifying {@link #VERIFY_TOKENS} speculative tokens costs against one decode step
     * ({@link VerifyCost}): the two forward passes' medians and their ratio. A draft of k tokens whose
     * acceptance gives more than this ratio of tokens per step pays off.
     */
    private Map<String, Object> verifyRow(PrintWriter out, double[] ms) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("test", "verify " + VERIFY_TOKENS);
        r.put("decode_step_ms", roundMicros(ms[0])); // a small model's step is a fraction of a millisecond
        r.put("verify_step_ms", roundMicros(ms[1]));
        r.put("ratio", round(ms[1] / ms[0]));
        if (!json) {
            out.printf(Locale.ROOT, "%-16s %-26s %-24s %s%n", "verify " + VERIFY_TOKENS,
                    String.format(Locale.ROOT, "%.1f ms per step", ms[1]), String.format(Locale.ROOT, "x%.2f a decode step", ms[1] / ms[0]),
                    String.format(Locale.ROOT, "(%.1f ms; 1 + %d tokens at position 256)", ms[0], VERIFY_TOKENS));
            out.flush();
        }
        return r;
    }

    /** A row's name and tokens/s statistics, the columns every row has. */
    private static Map<String, Object> statsRow(String name, Stats s) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("test", name);
        r.put("tokens_per_s_median", round(s.median()));
        r.put("tokens_per_s_min", round(s.min()));
        r.put("tokens_per_s_max", round(s.max()));
        r.put("reps", s.n());
        return r;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    /** Milliseconds to the microsecond. */
    private static double roundMicros(double ms) {
        return Math.round(ms * 1000) / 1000.0;
    }
}
