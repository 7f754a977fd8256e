package dev.lockstep.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line, run in-process: output formats, and errors as one line without a stack trace. */
class CliTest {
    record Result(int code, String out, String err) {}

    static Result run(String stdin, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        InputStream saved = System.in;
        try {
            if (stdin != null) System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setIn(saved);
        }
    }

    static String aidreams() {
        return Fixtures.file("aidreams/aidreams260K-f32.gguf").toString();
    }

    /** The bench's JSON: every test row, and the prompt and decode step profiles with the forward pass broken down. */
    @Test
    void benchReportsRowsAndADecodeStepProfile() throws Exception {
        Result r = run(null, "bench", "--model", aidreams(), "--pp", "16", "--tg", "8", "--concurrency", "1,2", "--reps", "1",
                "--no-bandwidth", "--threads", "2", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(dev.lockstep.kernels.Canonical.PATH, j.get("kernels").asText());
        assertEquals("f32", j.get("activations").asText());
        List<String> tests = new ArrayList<>();
        j.get("results").forEach(row -> {
            tests.add(row.get("test").asText());
            if (row.has("ratio")) return; // the verify row: milliseconds per step, not a rate
            assertTrue(row.get("tokens_per_s_median").asDouble() > 0, row.toString());
        });
        assertEquals(List.of("pp16", "tg8", "decode x1", "decode x2", "verify 5"), tests);
        JsonNode ppRow = j.get("results").get(0);
        assertTrue(ppRow.get("matrix_gflops").asDouble() > 0, ppRow.toString());
        // over the products' own time, which is part of the prompt's: at least the rate over the whole prompt
        assertTrue(ppRow.get("matrix_gflops_in_products").asDouble() >= ppRow.get("matrix_gflops").asDouble(), ppRow.toString());
        JsonNode pp = j.get("prompt_profile"); // one step per prompt, its forward pass broken down
        assertEquals("pp16", pp.get("test").asText(), pp.toString());
        assertEquals(1, pp.get("steps").asLong(), pp.toString());
        assertTrue(pp.get("matmul_ms").asDouble() > 0 && pp.get("attention_ms").asDouble() > 0, pp.toString());
        assertEquals(0.0, j.get("fma_peak_gflops").asDouble(), "--no-bandwidth skips the peaks"); // measured without it
        JsonNode p = j.get("decode_step_profile");
        assertTrue(p.get("steps").asLong() >= 8, p.toString());
        assertTrue(p.get("matmul_ms").asDouble() > 0, p.toString());
        assertTrue(p.get("attention_ms").asDouble() > 0, p.toString());
        assertTrue(p.get("other_kernels_ms").asDouble() >= 0, p.toString());
        JsonNode batched = j.get("batched_step_profile"); // the largest concurrency
        assertEquals("decode x2", batched.get("test").asText(), batched.toString());
        assertTrue(batched.get("steps").asLong() >= 8 && batched.get("matmul_ms").asDouble() > 0, batched.toString());
    }

    /**
     * INT8 activations from the command line: the bench says which mode ran and reports the
     * verification cost and the products against the 16-bit peak; greedy text still comes out; and
     * {@code perplexity --compare-activations} compares the modes on a text (a Q4_0 model, which the
     * INT8 kernels take).
     */
    @Test
    void int8ActivationsRunFromTheCommandLine(@TempDir Path tmp) throws Exception {
        String q4 = Fixtures.file("aidreams/aidreams260K-q4_0.gguf").toString();
        Result b = run(null, "bench", "--model", q4, "--pp", "16", "--tg", "8", "--concurrency", "1", "--reps", "1",
                "--no-bandwidth", "--threads", "2", "--json", "--activations", "int8");
        assertEquals(0, b.code(), b.err());
        JsonNode j = new ObjectMapper().readTree(b.out());
        assertEquals("int8", j.get("activations").asText());
        JsonNode verify = null;
        for (JsonNode row : j.get("results")) if (row.get("test").asText().equals("verify 5")) verify = row;
        assertNotNull(verify, "bench reports what verifying 5 speculative tokens costs: " + j);
        assertTrue(verify.get("decode_step_ms").asDouble() > 0 && verify.get("verify_step_ms").asDouble() > 0, verify.toString());
        // The ratio is of the unrounded times; the reported times are rounded to the microsecond, the ratio to 0.01.
        double v = verify.get("verify_step_ms").asDouble(), d = verify.get("decode_step_ms").asDouble(), ratio = verify.get("ratio").asDouble();
        assertTrue(ratio >= (v - 0.0005) / (d + 0.0005) - 0.005 && ratio <= (v + 0.0005) / (d - 0.0005) + 0.005, verify.toString());
        Result g = run(null, "generate", "--model", q4, "--temperature", "0", "--max-tokens", "16", "--activations", "int8",
                "Once upon a time");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().strip().length() > "Once upon a time".length(), g.out());
        Path text = tmp.resolve("story.txt");
        Files.writeString(text, "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. ".repeat(20));
        Result c = run(null, "perplexity", "--model", q4, "--corpus", text.toString(), "--window", "32", "--max-windows", "4",
                "--threads", "2", "--compare-activations");
        assertEquals(0, c.code(), c.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("loss f32 ([0-9.]+), int8 ([0-9.]+); KL\\(f32 \\|\\| int8\\) mean ([0-9.]+) "
                + "nats \\(max [0-9.]+\\); top-1 agreement ([0-9.]+)%").matcher(c.out());
        assertTrue(m.find(), c.out());
        assertEquals(Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)), 0.05, "8-bit activations barely move the loss: " + c.out());
        double kl = Double.parseDouble(m.group(3)), agree = Double.parseDouble(m.group(4));
        assertTrue(kl > 0 && kl < 0.01, "the modes differ, slightly: " + c.out());
        assertTrue(agree > 90, c.out());
    }

    @Test
    void generateJsonHasExactlyTheDocumentedKeys() throws Exception {
        Result r = run(null, "generate", "--model", aidreams(), "--temperature", "0", "--max-tokens", "32", "--ignore-eos",
                "--json", "--logprobs", "3", "Once upon a time");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        List<String> keys = new ArrayList<>();
        j.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("prompt_token_ids", "token_ids", "text", "finish_reason", "timings", "logprobs"), keys);
        List<String> timingKeys = new ArrayList<>();
        j.get("timings").fieldNames().forEachRemaining(timingKeys::add);
        assertEquals(List.of("load_ms", "prompt_ms", "decode_ms", "prompt_tokens_per_s", "decode_tokens_per_s"), timingKeys);
        JsonNode ref = Fixtures.json("reference/aidreams260K-f32.p1.json");
        assertEquals(ref.get("prompt_tokens_used"), j.get("prompt_token_ids"));
        assertEquals(ref.get("greedy_tokens"), j.get("token_ids"));
        assertEquals(ref.get("greedy_text").asText(), j.get("text").asText());
        assertEquals("length", j.get("finish_reason").asText());
        assertEquals(32, j.get("logprobs").size());
        JsonNode first = j.get("logprobs").get(0);
        assertEquals(j.get("token_ids").get(0), first.get("token"));
        assertEquals(3, first.get("top_logprobs").size());
        assertEquals(first.get("token"), first.get("top_logprobs").get(0).get("token"), "greedy token is the most likely");
    }

    @Test
    void generateStreamsTextAndReadsStdin() {
        Result r = run("Once upon a time", "generate", "--model", aidreams(), "--temp", "0", "-n", "8");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Once upon a time, pixels unfolding"), r.out());
        assertTrue(r.err().contains("tok/s"), r.err());
        Result seeded1 = run(null, "generate", "--model", aidreams(), "--seed", "7", "-n", "16", "--no-echo", "Hello");
        Result seeded2 = run(null, "generate", "--model", aidreams(), "--seed", "7", "-n", "16", "--no-echo", "Hello");
        assertEquals(seeded1.out(), seeded2.out(), "a seed fixes a sampled generation");
    }

    @Test
    void tokenizeAndDetokenize() throws Exception {
        Path vocab = Fixtures.file("vocab/ggml-vocab-llama-bpe.gguf");
        Result r = run(null, "tokenize", "--model", vocab.toString(), "--json", "--no-special", "Hello world");
        assertEquals(0, r.code(), r.err());
        assertEquals("{\"token_ids\":[9906,1917]}", r.out().trim());
        Result d = run(null, "detokenize", "--model", vocab.toString(), "9906", "1917");
        assertEquals("Hello world", d.out().trim());
        Result withBos = run(null, "tokenize", "--model", vocab.toString(), "Hello");
        assertTrue(withBos.out().contains("128000 '<|begin_of_text|>'"), withBos.out());
    }

    @Test
    void infoListsTensors() {
        Result r = run(null, "info", "--model", Fixtures.file("models/tiny-qwen3-q8_0.gguf").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("qwen3: dim 128, 4 layers"), r.out());
        assertTrue(r.out().contains("blk.0.attn_q_norm.weight"), r.out());
        assertTrue(r.out().contains("Q8_0"), r.out());
    }

    @Test
    void chatRunsTurnsThroughTheTemplate() {
        Result r = run("Hello\n/reset\nHi again\n/exit\n", "chat", "--model", aidreams(), "--temp", "0", "-n", "5");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(conversation reset)"), r.out());
        assertTrue(r.err().contains("ChatML"), r.err());
    }

    @Test
    void logitBiasBansAndForcesTokensFromTheCommandLine() throws Exception {
        ObjectMapper om = new ObjectMapper();
        JsonNode plain = om.readTree(run(null, "generate", "--model", aidreams(), "--temperature", "0", "-n", "4", "--json", "Once").out());
        int first = plain.get("token_ids").get(0).asInt();
        Result banned = run(null, "generate", "--model", aidreams(), "--temperature", "0", "-n", "4", "--json",
                "--logit-bias", first + "-100", "Once");
        assertEquals(0, banned.code(), banned.err());
        assertNotEquals(first, om.readTree(banned.out()).get("token_ids").get(0).asInt());
        int forced = first == 300 ? 301 : 300;
        Result all = run(null, "generate", "--model", aidreams(), "--temperature", "0.8", "--seed", "3", "-n", "4", "--json",
                "-l", forced + "+100", "Once");
        assertEquals(0, all.code(), all.err());
        for (JsonNode t : om.readTree(all.out()).get("token_ids")) assertEquals(forced, t.asInt());
        for (String bad : new String[]{"12x3", "5+101", "99999+1"}) {
            Result r = run(null, "generate", "--model", aidreams(), "-n", "2", "--logit-bias", bad, "Once");
            assertEquals(1, r.code(), bad + ": " + r.err());
            assertTrue(r.err().startsWith("lockstep: ") && r.err().contains("logit"), r.err());
            assertFalse(r.err().contains("\tat "), r.err());
        }
    }

    @Test
    void responseFormatJsonObjectGivesJson() throws Exception {
        ObjectMapper om = new ObjectMapper();
        Result r = run(null, "generate", "--model", aidreams(), "--seed", "1", "-n", "40", "--json", "--no-echo",
                "--response-format", "json_object", "--logit-bias", "128+8", "Once upon a time"); // 128: "}" here (byte token <0x7D>)
        assertEquals(0, r.code(), r.err());
        JsonNode j = om.readTree(r.out());
        assertEquals("stop", j.get("finish_reason").asText(), j.toString());
        assertTrue(om.readTree(j.get("text").asText()).isObject(), j.get("text").asText());
        Result bad = run(null, "generate", "--model", aidreams(), "--response-format", "yaml", "hi");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--response-format must be text or json_object"), bad.err());
        Result schema = run(null, "generate", "--model", aidreams(), "--seed", "2", "-n", "100", "--json", "--no-echo", "--json-schema",
                "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}}, \"required\": [\"ok\"]}", "Hi");
        assertEquals(0, schema.code(), schema.err());
        JsonNode s = om.readTree(om.readTree(schema.out()).get("text").asText());
        assertTrue(s.get("ok").isBoolean() && s.size() == 1, s.toString());
        Result unsupported = run(null, "generate", "--model", aidreams(), "--json-schema", "{\"type\": \"object\", \"minProperties\": 1}", "hi");
        assertEquals(1, unsupported.code());
        assertTrue(unsupported.err().contains("lockstep: --json-schema: the keyword 'minProperties' at the root is not supported"), unsupported.err());
    }

    @Test
    void verifyFindsOneCompletionPerSettingUnderLoad() {
        Result r = run(null, "verify", "--model", Fixtures.file("models/tiny-llama-q8_0.gguf").toString(), "--runs", "6",
                "--concurrency", "4", "--max-tokens", "10");
        assertEquals(0, r.code(), r.out() + r.err());
        for (String setting : new String[]{"greedy (temperature 0)", "sampled (temperature 0.8", "JSON mode (temperature 0.8"})
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(setting) && l.contains("6 runs: 1 unique completion")), r.out());
        assertTrue(r.out().contains("KV blocks in use at the end: 0"), r.out());
    }

    @Test
    void badInputIsOneLineWithoutStackTrace(@TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("bad.gguf");
        Files.writeString(bad, "this is not a model");
        for (Result r : new Result[]{
                run(null, "generate", "--model", bad.toString(), "hi"),
                run(null, "info", "--model", tmp.resolve("missing.gguf").toString()),
                run(null, "detokenize", "--model", aidreams(), "99999"),
                run(null, "generate", "--model", aidreams(), "--top-p", "2", "hi")}) {
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().startsWith("lockstep: "), r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
            Iterator<String> lines = r.err().lines().iterator();
            lines.next();
            assertFalse(lines.hasNext(), "one line: " + r.err());
        }
        assertTrue(run(null, "info", "--model", bad.toString()).err().contains("not a GGUF file"));
        Result activations = run(null, "generate", "--model", aidreams(), "--activations", "int4", "hi");
        assertEquals(1, activations.code(), activations.err());
        assertTrue(activations.err().contains("lockstep: --activations: activations must be f32 or int8, not 'int4'"), activations.err());
        assertFalse(activations.err().contains("\tat "), activations.err());
    }

    @Test
    void serveFailsWithOneLineForAMissingModel() {
        Result r = run(null, "serve", "--port", "0", "--model", "/nonexistent/model.gguf");
        assertTrue(r.code() != 0);
        assertTrue(r.err().startsWith("lockstep: ") && r.err().contains("/nonexistent/model.gguf"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    /** embed: one unit vector per text; a recurrent model is refused with a message. */
    @Test
    void embedPrintsUnitVectors() throws Exception {
        Result r = run(null, "embed", "--model", aidreams(), "--json", "Once upon a time", "Hello");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("data").size());
        assertEquals("mean", j.get("pooling").asText());
        for (JsonNode d : j.get("data")) {
            double ss = 0;
            for (JsonNode x : d.get("embedding")) ss += x.asDouble() * x.asDouble();
            assertEquals(64, d.get("embedding").size());
            assertEquals(1.0, ss, 1e-5);
        }
        Result plain = run(null, "embed", "--model", aidreams(), "--threads", "1", "Hello");
        String[] parts = plain.out().trim().split(" ");
        assertEquals(64, parts.length);
        assertEquals(j.get("data").get(1).get("embedding").get(0).asDouble(), Double.parseDouble(parts[0]), 5e-7);
        Result mamba = run(null, "embed", "--model", Fixtures.file("models/tiny-mamba-f32.gguf").toString(), "Hello");
        assertTrue(mamba.code() != 0 && mamba.err().contains("has no embedding output"), mamba.err());
        assertFalse(mamba.err().contains("\tat "), mamba.err());
    }

    /** Several models: only serve takes them; aliases, names and --models-dir are checked before anything loads. */
    @Test
    void severalModelsAreCheckedUpFront(@TempDir Path tmp) throws Exception {
        String f32 = aidreams(), f16 = Fixtures.file("aidreams/aidreams260K-f16.gguf").toString();
        Result gen = run(null, "generate", "--model", f32, "--model", f16, "--max-tokens", "1", "Once");
        assertTrue(gen.code() != 0 && gen.err().contains("--model is given 2 times; only serve takes several models"), gen.err());
        Result twice = run(null, "serve", "--port", "0", "--model", f32, "--model", f32);
        assertTrue(twice.code() != 0 && twice.err().contains("two models would be named 'aidreams260K-f32'"), twice.err());
        Result aliases = run(null, "serve", "--port", "0", "--model", f32, "--alias", "a", "--alias", "b");
        assertTrue(aliases.code() != 0 && aliases.err().contains("--alias is given 2 times for 1 --model file(s)"), aliases.err());
        Result empty = run(null, "serve", "--port", "0", "--models-dir", tmp.toString());
        assertTrue(empty.code() != 0 && empty.err().contains("has no .gguf files"), empty.err());
        for (Result r : List.of(gen, twice, aliases, empty)) assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void trainTokenizerTrainDistillThenGenerate(@TempDir Path tmp) throws Exception {
        String[] words = {"the", "lord", "said", "unto", "moses", "and", "people", "of", "israel", "went", "out", "land"};
        StringBuilder corpus = new StringBuilder();
        java.util.Random rnd = new java.util.Random(5);
        for (int line = 0; line < 1500; line++) {
            for (int w = 0; w < 8; w++) corpus.append(w == 0 ? "" : " ").append(words[rnd.nextInt(words.length)]);
            corpus.append(".\n");
        }
        Path text = tmp.resolve("corpus.txt"), tok = tmp.resolve("tok.gguf"), model = tmp.resolve("m.gguf"),
                draft = tmp.resolve("d.gguf"), log = tmp.resolve("log.csv");
        Files.writeString(text, corpus);
        Result t = run(null, "train-tokenizer", "--corpus", text.toString(), "--vocab-size", "300", tok.toString());
        assertEquals(0, t.code(), t.err());
        Result tr = run(null, "train", "--corpus", text.toString(), "--tokenizer", tok.toString(), "--dim", "32", "--layers", "1",
                "--heads", "2", "--kv-heads", "1", "--ff", "64", "--context", "64", "--steps", "4", "--warmup", "1", "--batch", "2",
                "--seq", "16", "--eval-every", "2", "--log", log.toString(), "--threads", "1", model.toString());
        assertEquals(0, tr.code(), tr.err());
        assertTrue(Files.readAllLines(log).size() >= 5, "header + one line per step");
        assertTrue(Files.exists(tmp.resolve("log.png")), "the loss curve is drawn beside the log");
        Result d = run(null, "distill", "--teacher", model.toString(), "--corpus", text.toString(), "--dim", "16", "--layers", "1",
                "--heads", "2", "--kv-heads", "1", "--ff", "32", "--context", "64", "--steps", "2", "--warmup", "1", "--batch", "2",
                "--seq", "16", "--threads", "1", draft.toString());
        assertEquals(0, d.code(), d.err());
        Result g = run(null, "generate", "--model", draft.toString(), "--temperature", "0", "-n", "5", "--json", "the lord");
        assertEquals(0, g.code(), g.err());
        assertEquals(5, new ObjectMapper().readTree(g.out()).get("token_ids").size());
    }

    @Test
    void generateWithoutModelUsesTheEmbeddedDefault() throws Exception {
        Result r = run(null, "generate", "--temperature", "0", "-n", "12", "--json", "And the LORD said unto Moses");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(12, j.get("token_ids").size());
        assertTrue(j.get("text").asText().length() > 12, j.toString());
    }
}
