package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.engine.SpecConfig;
import dev.lockstep.engine.TokenStops;
import dev.lockstep.sampling.Logprobs;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code POST /v1/completions}: prompts as text or token ids, {@code echo}, and {@code logprobs} that
 * include the prompt's tokens when echoed (scoring). {@code max_tokens: 0} with {@code echo} scores
 * the prompt without generating. Scored prompt tokens carry exactly the logprob bits the same tokens
 * get when generated (the engine computes both from the same logits rows).
 */
final class TextCompletions {
    private final OpenAiServer server;
    private final ObjectMapper json;

    TextCompletions(OpenAiServer server, ObjectMapper json) {
        this.server = server;
        this.json = json;
    }

    /** A prompt as the user gave it and as tokens. */
    private record Prompt(String text, int[] ids) {}

    /** Every field this endpoint reads; others get a 400 ({@link Fields#only}). */
    static final Set<String> FIELDS = Fields.union(SamplingFields.fields("prompt", "echo", "logprobs", "return_token_ids",
            "suffix", "best_of", "response_format", "n_probs", "include_stop_str_in_output"), NoOpFields.COMPLETIONS,
            ChatCompletions.FORMAT_EXTENSIONS);

    void handle(Context ctx) throws Exception {
        Fields f = new Fields(server.readJson(ctx));
        f.only(FIELDS);
        try (ModelPool.Lease lease = server.lease(f)) { // held until the reply is done: the model stays loaded
            handle(ctx, f, lease.model());
        }
    }

    private void handle(Context ctx, Fields f, ServedModel m) throws Exception {
        List<Prompt> prompts = prompts(f, m);
        boolean echo = f.bool("echo", false);
        boolean scoreOnly = f.has("max_tokens") && f.node("max_tokens").isIntegralNumber() && f.node("max_tokens").asLong() == 0;
        if (scoreOnly && !echo)
            throw ApiException.badRequest("max_tokens", "max_tokens = 0 is only allowed with echo = true (scoring the prompt)");
        SamplingFields sf = scoreOnly ? scoreFields(f) : SamplingFields.parse(f, 16, m.engine().model().vocabSize());
        NoOpFields.check(f, NoOpFields.COMPLETIONS);
        boolean includeStop = f.bool("include_stop_str_in_output", false); // vLLM's: the stop string stays in the text
        int logprobs = f.integer("logprobs", f.integer("n_probs", -1, 0, 20), 0, 20); // n_probs: llama.cpp's name
        ResponseFormat format = ChatCompletions.responseFormat(f); // vLLM's extension of this endpoint
        boolean returnIds = f.bool("return_token_ids", false);
        if (f.has("suffix")) throw ApiException.badRequest("suffix", "suffix (insertion) is not supported");
        if (f.has("best_of") && f.integer("best_of", 1, 1, SamplingFields.MAX_N) != sf.n())
            throw ApiException.badRequest("best_of", "best_of other than n is not supported");
        List<GenerationRequest> reqs = new ArrayList<>();
        for (Prompt p : prompts)
            for (int i = 0; i < sf.n(); i++)
                reqs.add(new GenerationRequest(p.ids(), sf.sampling(), scoreOnly ? 1 : sf.maxTokens(), sf.stop(), sf.ignoreEos(),
                        logprobs, echo && logprobs >= 0, i, sf.spec(), scoreOnly ? ResponseFormat.TEXT : format, sf.tokenStops())
                        .withIncludeStop(includeStop));
        String id = server.newId("cmpl-");
        long created = System.currentTimeMillis() / 1000;
        try (Runs runs = server.submit(m, reqs, "prompt")) {
            if (sf.stream()) stream(ctx, m, runs, sf, prompts, id, created, echo, logprobs, scoreOnly);
            else collect(ctx, m, runs, prompts, sf.n(), id, created, echo, logprobs, scoreOnly, returnIds);
        }
    }

    /** Scoring: everything but echo/logprobs/stream is irrelevant; sampling is greedy over one token. */
    private static SamplingFields scoreFields(Fields f) {
        boolean stream = f.bool("stream", false);
        return new SamplingFields(dev.lockstep.sampling.SamplingParams.GREEDY, f.integer("n", 1, 1, SamplingFields.MAX_N),
                1, List.of(), stream, stream && f.node("stream_options") != null
                && new Fields(f.node("stream_options")).bool("include_usage", false), true, SpecConfig.Mode.OFF, TokenStops.NONE);
    }

    private static List<Prompt> prompts(Fields f, ServedModel m) {
        List<Prompt> out = new ArrayList<>();
        for (Fields.TextOrIds p : Fields.textsOrTokenIds(f.node("prompt"), "prompt", m.engine().model().vocabSize()))
            out.add(p.text() != null ? new Prompt(p.text(), m.tokenizer().encode(p.text(), true, true))
                    : new Prompt(m.tokenizer().decode(p.ids()), p.ids()));
        if (out.size() > SamplingFields.MAX_N)
            throw ApiException.badRequest("prompt", "at most " + SamplingFields.MAX_N + " prompts per request, got " + out.size());
        return out;
    }

    private ObjectNode envelope(String id, long created, ServedModel m) {
        ObjectNode o = json.createObjectNode();
        o.put("id", id);
        o.put("object", "text_completion");
        o.put("created", created);
        o.put("model", m.id());
        o.put("system_fingerprint", m.fingerprint());
        return o;
    }

    /** Per choice: text and legacy logprobs so far, how it ended. */
    private final class Choice {
        final StringBuilder text = new StringBuilder();
        final ArrayNode tokenIds = json.createArrayNode();
        final LogprobsJson.Legacy lp;
        final int[] promptIds;
        GenerationEvent.Finished finished;

        Choice(ServedModel m, Prompt p, boolean echo) {
            this.promptIds = p.ids();
            if (echo) text.append(p.text());
            this.lp = new LogprobsJson.Legacy(m.tokenizer(), 0);
        }

        /** The echoed prompt's logprob entries (first token unscored). */
        void promptLogprobs(List<Logprobs.Entry> entries) {
            lp.addUnscored(promptIds[0]);
            lp.addAll(entries);
        }
    }

    private void collect(Context ctx, ServedModel m, Runs runs, List<Prompt> prompts, int n, String id, long created,
                         boolean echo, int logprobs, boolean scoreOnly, boolean returnIds) throws Exception {
        Choice[] cs = new Choice[runs.size()];
        for (int i = 0; i < cs.length; i++) cs[i] = new Choice(m, prompts.get(i / n), echo);
        JsonReply reply = new JsonReply(ctx, json);
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int c, GenerationEvent e) {
                switch (e) {
                    case GenerationEvent.PromptLogprobs p -> cs[c].promptLogprobs(p.entries());
                    case GenerationEvent.Token t -> {
                        if (scoreOnly) return;
                        cs[c].text.append(t.text());
                        cs[c].tokenIds.add(t.token());
                        if (t.logprob() != null) cs[c].lp.add(t.logprob());
                    }
                    case GenerationEvent.Finished done -> {
                        if (!scoreOnly) cs[c].text.append(done.text());
                        cs[c].finished = done;
                    }
                }
            }

            @Override
            public void idle() throws IOException {
                reply.idle();
            }
        }, server.idleMillis());
        if (!ok) return;
        for (Choice c : cs) if (server.replyFailure(reply, c.finished)) return;
        ObjectNode o = envelope(id, created, m);
        ArrayNode choices = o.putArray("choices");
        Usage usage = new Usage();
        for (int i = 0; i < cs.length; i++) {
            ObjectNode c = choices.addObject();
            c.put("text", cs[i].text.toString());
            c.put("index", i);
            if (logprobs >= 0) c.set("logprobs", cs[i].lp.toJson());
            else c.putNull("logprobs");
            c.put("finish_reason", scoreOnly ? "length" : cs[i].finished.reason().openAi());
            if (returnIds) { // vLLM's extension: the exact ids, so clients need not re-tokenize text
                ArrayNode pids = c.putArray("prompt_token_ids");
                for (int t : cs[i].promptIds) pids.add(t);
                c.set("token_ids", cs[i].tokenIds);
            }
            usage.add(cs[i].finished, i % n == 0, !scoreOnly);
        }
        o.set("usage", usage.toJson(json));
        reply.send(o);
    }

    private void stream(Context ctx, ServedModel m, Runs runs, SamplingFields sf, List<Prompt> prompts, String id,
                        long created, boolean echo, int logprobs, boolean scoreOnly) throws Exception {
        Sse sse = new Sse(ctx, json);
        int n = sf.n();
        Usage usage = new Usage();
        boolean[] failed = {false};
        boolean wantsPromptLogprobs = echo && logprobs >= 0;
        // echo without prompt logprobs: the prompt text is the first chunk of each choice
        if (echo && !wantsPromptLogprobs)
            for (int i = 0; i < runs.size(); i++) sse.data(chunk(m, id, created, i, prompts.get(i / n).text(), null, null));
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int i, GenerationEvent e) throws IOException {
                switch (e) {
                    case GenerationEvent.PromptLogprobs p -> {
                        LogprobsJson.Legacy lp = new LogprobsJson.Legacy(m.tokenizer(), 0);
                        lp.addUnscored(prompts.get(i / n).ids()[0]);
                        lp.addAll(p.entries());
                        sse.data(chunk(m, id, created, i, prompts.get(i / n).text(), lp.toJson(), null));
                    }
                    case GenerationEvent.Token t -> {
                        if (scoreOnly || (t.text().isEmpty() && t.logprob() == null)) return;
                        JsonNode lp = null;
                        if (t.logprob() != null) {
                            LogprobsJson.Legacy l = new LogprobsJson.Legacy(m.tokenizer(), 0);
                            l.add(t.logprob());
                            lp = l.toJson();
                        }
                        sse.data(chunk(m, id, created, i, t.text(), lp, null));
                    }
                    case GenerationEvent.Finished done -> {
                        if (done.reason().failed()) {
                            failed[0] = true;
                            sse.data(server.errorBody(OpenAiServer.engineFailure(done)));
                            return;
                        }
                        sse.data(chunk(m, id, created, i, scoreOnly ? "" : done.text(), null,
                                scoreOnly ? "length" : done.reason().openAi()));
                        usage.add(done, i % n == 0, !scoreOnly);
                    }
                }
            }

            @Override
            public void idle() throws IOException {
                sse.keepAlive();
            }
        }, server.idleMillis());
        if (!ok) return;
        ObjectNode usageChunk = null;
        if (sf.includeUsage() && !failed[0]) {
            usageChunk = envelope(id, created, m);
            usageChunk.putArray("choices");
            usageChunk.set("usage", usage.toJson(json));
        }
        sse.finish(usageChunk);
    }

    private ObjectNode chunk(ServedModel m, String id, long created, int index, String text, JsonNode logprobs,
                             String finish) {
        ObjectNode o = envelope(id, created, m);
        ObjectNode c = o.putArray("choices").addObject();
        c.put("text", text);
        c.put("index", index);
        if (logprobs != null) c.set("logprobs", logprobs);
        else c.putNull("logprobs");
        if (finish != null) c.put("finish_reason", finish);
        else c.putNull("finish_reason");
        return o;
    }
}
