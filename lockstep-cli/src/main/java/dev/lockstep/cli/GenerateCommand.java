package dev.lockstep.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lockstep.LockstepException;
import dev.lockstep.cache.KvCache;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.engine.RequestHandle;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.sampling.JsonSchemaGrammar;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.sampling.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code lockstep generate}: continue a prompt, streaming the text, like llama.cpp's completion tool. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate text that continues PROMPT (or standard input).")
final class GenerateCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;


    @Parameters(index = "0", arity = "0..1", paramLabel = "PROMPT", description = "the prompt; '-' or absent: read standard input")
    String prompt;

    @Option(names = "--prompt-ids", split = ",", paramLabel = "ID,...",
            description = "the prompt as token ids (for example a chat reply's prompt_token_ids, to reproduce it), instead of PROMPT")
    int[] promptIds;

    @Mixin ModelOptions modelOptions;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "tokens to generate at most (default: ${DEFAULT-VALUE}; "
            + "capped at the context length)")
    int maxTokens = 256;

    @Mixin SamplingOptions sampling;

    @Option(names = "--stop", paramLabel = "TEXT", description = "stop when this text appears (repeatable)")
    List<String> stop = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "keep going after end-of-generation tokens (for benchmarks)")
    boolean ignoreEos;

    @Option(names = "--json", description = "print one JSON object (prompt_token_ids, token_ids, text, finish_reason, timings) instead of streaming")
    boolean json;

    @Option(names = "--logprobs", paramLabel = "K", description = "with --json: each generated token's logprob and its top K alternatives")
    Integer logprobs;

    @Option(names = "--no-echo", description = "do not print the prompt before the generated text")
    boolean noEcho;

    @Option(names = "--response-format", paramLabel = "F", description = "text, or json_object: constrained decoding, the "
            + "output is one JSON object and ends when it closes (default: ${DEFAULT-VALUE})")
    String responseFormat = "text";

    @Option(names = "--json-schema", paramLabel = "SCHEMA|@FILE", description = "constrain the output to values of this JSON "
            + "schema (inline, or @ and a file); the supported subset is the README's")
    String jsonSchema;

    @Mixin EngineOptions engineOptions;

    private static ResponseFormat schemaFormat(String arg) throws IOException {
        String text = arg;
        if (arg.startsWith("@")) {
            Path file = Path.of(arg.substring(1));
            if (!Files.isReadable(file)) throw new LockstepException("--json-schema: cannot read " + file);
            text = Files.readString(file);
        }
        JsonNode schema;
        try {
            schema = new ObjectMapper().readTree(text);
        } catch (JsonProcessingException e) {
            throw new LockstepException("--json-schema is not valid JSON: " + e.getOriginalMessage());
        }
        try {
            return ResponseFormat.jsonSchema(null, schema);
        } catch (JsonSchemaGrammar.UnsupportedSchemaException e) {
            throw new LockstepException("--json-schema: " + e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        if (promptIds != null && prompt != null) throw new LockstepException("give PROMPT or --prompt-ids, not both");
        String text = promptIds != null ? "" : prompt == null || prompt.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : prompt;
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (logprobs != null && (logprobs < 0 || logprobs > 20))
            throw new LockstepException("--logprobs must be between 0 and 20, got " + logprobs);
        ResponseFormat format = switch (responseFormat) {
            case "text" -> ResponseFormat.TEXT;
            case "json_object", "json" -> ResponseFormat.JSON_OBJECT;
            default -> throw new LockstepException("--response-format must be text or json_object, not '" + responseFormat + "'");
        };
        if (jsonSchema != null) format = schemaFormat(jsonSchema);
        SamplingParams params = sampling.toParams();
        long t0 = System.nanoTime();
        try (LoadedModel lm = LoadedModel.open(modelOptions.resolve(), true)) {
            int[] ids = promptIds != null ? promptIds.clone() : lm.tokenizer().encode(text, true, false);
            for (int id : ids)
                if (id < 0 || id >= lm.model().vocabSize())
                    throw new LockstepException("--prompt-ids: " + id + " is outside the vocabulary [0, " + lm.model().vocabSize() + ")");
            int ctx = lm.model().contextLength();
            if (ids.length >= ctx)
                throw new LockstepException("the prompt has " + ids.length + " tokens but the model's context length is " + ctx);
            int n = maxTokens;
            if (n < 1) throw new LockstepException("--max-tokens must be at least 1");
            if (ids.length + n > ctx) {
                n = ctx - ids.length;
                if (!json) err.printf("note: --max-tokens capped to %d by the context length %d%n", n, ctx);
            }
            EngineConfig cfg = engineOptions.toConfig(modelOptions.threads);
            if (engineOptions.kvCacheMemory == null) {
                // one sequence: size the cache to this request rather than to free memory
                long perBlock = KvCache.bytesPerBlock(lm.model().kvLayers(), lm.model().kvDim(), cfg.blockSize());
                cfg = cfg.withKvCacheBytes(perBlock * ((ids.length + n) / cfg.blockSize() + 2)).withMaxSeqs(1);
            }
            try (LoadedModel dm = engineOptions.openDraft();
                 Engine engine = new Engine(lm.model(), lm.tokenizer(), cfg, dm == null ? null : dm.model())) {
                long loadNanos = System.nanoTime() - t0;
                GenerationRequest req = new GenerationRequest(ids, params, n, stop, ignoreEos,
                        logprobs == null ? -1 : logprobs, false, 0).withFormat(format);
                if (!json && !noEcho) out.print(text);
                long submit = System.nanoTime();
                long[] first = {0};
                RequestHandle h = engine.submit(req);
                GenerationResult r = h.await(e -> {
                    if (e instanceof GenerationEvent.Token t) {
                        if (first[0] == 0) first[0] = System.nanoTime();
                        if (!json) {
                            out.print(t.text());
                            out.flush();
                        }
                    } else if (e instanceof GenerationEvent.Finished f && !json) {
                        out.print(f.text());
                    }
                });
                long end = System.nanoTime();
                if (first[0] == 0) first[0] = end;
                double loadMs = loadNanos / 1e6, promptMs = (first[0] - submit) / 1e6, decodeMs = (end - first[0]) / 1e6;
                int generated = r.tokens().length;
                double promptTps = promptMs > 0 ? ids.length / (promptMs / 1000) : 0;
                double decodeTps = decodeMs > 0 && generated > 1 ? (generated - 1) / (decodeMs / 1000) : 0;
                if (r.finish().message() != null && r.reason().failed())
                    throw new LockstepException(r.finish().message());
                if (json) {
                    Map<String, Object> o = new LinkedHashMap<>();
                    o.put("prompt_token_ids", ids);
                    o.put("token_ids", r.tokens());
                    o.put("text", r.text());
                    o.put("finish_reason", r.reason().openAi());
                    Map<String, Object> timings = new LinkedHashMap<>();
                    timings.put("load_ms", round(loadMs));
                    timings.put("prompt_ms", round(promptMs));
                    timings.put("decode_ms", round(decodeMs));
                    timings.put("prompt_tokens_per_s", round(promptTps));
                    timings.put("decode_tokens_per_s", round(decodeTps));
                    o.put("timings", timings);
                    if (logprobs != null) o.put("logprobs", logprobsJson(r.logprobs()));
                    if (cfg.spec().mode() != dev.lockstep.engine.SpecConfig.Mode.OFF) {
                        Map<String, Object> sp = new LinkedHashMap<>();
                        sp.put("mode", cfg.spec().mode().name().toLowerCase(Locale.ROOT));
                        sp.put("proposed", r.finish().specProposed());
                        sp.put("accepted", r.finish().specAccepted());
                        sp.put("steps", r.finish().specSteps());
                        o.put("speculation", sp);
                    }
                    ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                    out.println(m.writeValueAsString(o));
                } else {
                    out.println();
                    err.printf(Locale.ROOT, "%nseed %d | load %.0f ms | prompt %d tokens in %.0f ms (%.1f tok/s) | "
                                    + "generated %d tokens in %.0f ms (%.1f tok/s) | finish: %s%n",
                            params.seed(), loadMs, ids.length, promptMs, promptTps, generated, decodeMs, decodeTps,
                            r.reason().openAi());
                    var f = r.finish();
                    if (f.specSteps() > 0)
                        err.printf(Locale.ROOT, "speculation %s: %d proposed, %d accepted (%.0f%%), %.2f tokens per verification step%n",
                                cfg.spec().mode().name().toLowerCase(Locale.ROOT), f.specProposed(), f.specAccepted(),
                                100.0 * f.specAccepted() / Math.max(1, f.specProposed()), 1.0 + (double) f.specAccepted() / f.specSteps());
                }
            }
        } catch (IOException e) {
            throw new LockstepException("cannot write output: " + e.getMessage());
        }
        return 0;
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    static List<Map<String, Object>> logprobsJson(List<Logprobs.Entry> entries) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Logprobs.Entry e : entries) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("token", e.token());
            m.put("logprob", e.logprob());
            List<Map<String, Object>> top = new ArrayList<>();
            for (Logprobs.TokenLogprob t : e.top()) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("token", t.token());
                tm.put("logprob", t.logprob());
                top.add(tm);
            }
            m.put("top_logprobs", top);
            out.add(m);
        }
        return out;
    }
}
