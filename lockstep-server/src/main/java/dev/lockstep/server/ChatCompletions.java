package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.chat.ChatReply;
import dev.lockstep.chat.ChatSyntax;
import dev.lockstep.chat.ReplyStream;
import dev.lockstep.chat.ToolCall;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.sampling.Gbnf;
import dev.lockstep.sampling.JsonSchemaGrammar;
import dev.lockstep.tokenizer.ChatTemplate;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code POST /v1/chat/completions}: messages rendered through the model's chat template, then one
 * engine request per choice; the reply is a chat.completion object or a stream of chunks.
 */
final class ChatCompletions {
    private final OpenAiServer server;
    private final ObjectMapper json;

    ChatCompletions(OpenAiServer server, ObjectMapper json) {
        this.server = server;
        this.json = json;
    }

    /** vLLM's and llama.cpp's ways of asking for structured output besides response_format. */
    static final Set<String> FORMAT_EXTENSIONS = Set.of("guided_json", "guided_choice", "json_schema", "structured_outputs", "grammar",
            "guided_grammar");

    /** Every field this endpoint reads; others get a 400 ({@link Fields#only}). */
    static final Set<String> FIELDS = Fields.union(SamplingFields.fields("messages", "logprobs", "top_logprobs", "return_token_ids",
            "response_format", "tools", "tool_choice", "parallel_tool_calls", "chat_template_kwargs", "reasoning_effort", "n_probs",
            "include_stop_str_in_output"),
            NoOpFields.CHAT, FORMAT_EXTENSIONS);

    private static final ObjectMapper PLAIN = new ObjectMapper();

    void handle(Context ctx) throws Exception {
        Fields f = new Fields(server.readJson(ctx));
        f.only(FIELDS);
        try (ModelPool.Lease lease = server.lease(f)) { // held until the reply is done: the model stays loaded
            handle(ctx, f, lease.model());
        }
    }

    private void handle(Context ctx, Fields f, ServedModel m) throws Exception {
        NoOpFields.check(f, NoOpFields.CHAT);
        ResponseFormat format = responseFormat(f);
        ToolCalls tools = ToolCalls.parse(f, json);
        format = ToolCalls.decodeFormat(tools, format, "response_format");
        List<ChatTemplate.Message> messages = messages(f);
        SamplingFields sf = SamplingFields.parse(f, -1, m.engine().model().vocabSize());
        int nProbs = f.integer("n_probs", 0, 0, 20); // llama.cpp's: the top n alternatives of each token
        boolean logprobs = f.bool("logprobs", nProbs > 0);
        int top = f.integer("top_logprobs", nProbs, 0, 20);
        boolean returnIds = f.bool("return_token_ids", false);
        if (f.has("top_logprobs") && !logprobs)
            throw ApiException.badRequest("top_logprobs", "top_logprobs requires logprobs to be true");
        Prompt prompt = prompt(m, messages, tools, templateVariables(f));
        List<GenerationRequest> reqs = new ArrayList<>();
        for (int i = 0; i < sf.n(); i++)
            reqs.add(new GenerationRequest(prompt.ids(), sf.sampling(), sf.maxTokens(), sf.stop(), sf.ignoreEos(),
                    logprobs ? top : -1, false, i, sf.spec(), format, sf.tokenStops(), prompt.shownSpecial(),
                    f.bool("include_stop_str_in_output", false)));
        String id = server.newId("chatcmpl-");
        long created = System.currentTimeMillis() / 1000;
        try (Runs runs = server.submit(m, reqs, "messages")) {
            if (sf.stream()) stream(ctx, m, runs, sf, id, created, logprobs, tools, prompt, returnIds);
            else collect(ctx, m, runs, id, created, logprobs, returnIds ? prompt.ids() : null, tools, prompt);
        }
    }

    /**
     * A rendered conversation: its tokens, whether it leaves the model inside its thinking, and the
     * control tokens the reply must show to be read ({@link ChatSyntax#markers}).
     */
    record Prompt(int[] ids, boolean thinkingOpened, Set<Integer> shownSpecial) {}

    /**
     * Renders {@code messages} with the model's template. Tools go to the template's {@code tools}
     * variable; with {@code "auto"}, a template that never shows them gets them described in the
     * system message.
     */
    static Prompt prompt(ServedModel m, List<ChatTemplate.Message> messages, ToolCalls tools, Map<String, Object> variables) {
        ChatSyntax syntax = m.template().syntax();
        // "auto" with a template that never shows tools: the model is told of them, and of a syntax to call them in
        // (a forced call needs neither: its grammar writes the call)
        if (tools != null && tools.auto() && !syntax.templateShowsTools()) messages = withSystemNote(messages, tools.described(syntax));
        String rendered = m.template().render(messages, true, tools == null ? null : tools.templateTools(), variables);
        return new Prompt(m.tokenizer().encodeChat(rendered), syntax.opensThinking(rendered), m.tokenizer().controlTokens(syntax.markers()));
    }

    /** {@code note} appended to the system message, or as a new first system message. */
    private static List<ChatTemplate.Message> withSystemNote(List<ChatTemplate.Message> messages, String note) {
        List<ChatTemplate.Message> out = new ArrayList<>(messages);
        if (!out.isEmpty() && out.getFirst().role().equals("system")) {
            ChatTemplate.Message sys = out.getFirst();
            out.set(0, new ChatTemplate.Message("system", sys.content() + "\n\n" + note, sys.extra()));
        } else {
            out.addFirst(new ChatTemplate.Message("system", note));
        }
        return out;
    }

    /** Efforts OpenAI documents for {@code reasoning_effort}. */
    private static final Set<String> EFFORTS = Set.of("none", "minimal", "low", "medium", "high", "xhigh");

    /**
     * Extra template variables: vLLM's {@code chat_template_kwargs} (e.g. {@code enable_thinking} for
     * Qwen 3) and {@code reasoning_effort}, which templates that take an effort read (gpt-oss).
     * They never replace the standard variables.
     */
    static Map<String, Object> templateVariables(Fields f) {
        Map<String, Object> vars = new LinkedHashMap<>();
        JsonNode kw = f.node("chat_template_kwargs");
        if (kw != null && !kw.isNull()) {
            if (!kw.isObject()) throw Fields.wrongType("chat_template_kwargs", "an object", kw);
            for (var e : kw.properties()) {
                if (Set.of("messages", "tools", "add_generation_prompt", "bos_token", "eos_token").contains(e.getKey()))
                    throw ApiException.badRequest("chat_template_kwargs." + e.getKey(), "chat_template_kwargs cannot set '" + e.getKey()
                            + "', which the server sets");
                vars.put(e.getKey(), PLAIN.convertValue(e.getValue(), Object.class));
            }
        }
        JsonNode effort = f.node("reasoning_effort");
        if (effort != null && !effort.isNull()) {
            if (!effort.isTextual() || !EFFORTS.contains(effort.textValue()))
                throw ApiException.badRequest("reasoning_effort", "reasoning_effort must be one of " + new TreeSet<>(EFFORTS)
                        + ", got " + effort);
            vars.put("reasoning_effort", effort.textValue());
        }
        return vars;
    }

    /**
     * {@code response_format}: {@code text}; {@code json_object} (JSON mode); or {@code json_schema}
     * (structured outputs: {@code {"json_schema": {"name", "schema", "strict"}}}), whose schema is
     * compiled to a grammar here, so a schema it cannot enforce is a 400 naming the keyword and where.
     * Constrained decoding is the same whether or not {@code strict} is set: it never emits what the
     * grammar refuses.
     */
    static ResponseFormat responseFormat(Fields f) {
        ResponseFormat rf = openAiFormat(f);
        String ext = null;
        for (String k : FORMAT_EXTENSIONS) if (f.node(k) != null && !f.node(k).isNull()) {
            if (ext != null) throw ApiException.badRequest(k, k + " and " + ext + " both constrain the output; pass one");
            ext = k;
        }
        if (ext == null) return rf;
        if (rf != ResponseFormat.TEXT)
            throw ApiException.badRequest(ext, ext + " and response_format both constrain the output; pass one");
        JsonNode v = f.node(ext);
        if (ext.equals("structured_outputs")) { // vLLM's newer spelling: {"json": schema} or {"choice": [...]}
            if (!v.isObject() || v.size() != 1 || !(v.has("json") || v.has("choice") || v.has("grammar")))
                throw ApiException.badRequest(ext, "structured_outputs must be {\"json\": schema}, {\"choice\": [strings]} or "
                        + "{\"grammar\": GBNF} (regex and structural tags are not supported)");
            String key = v.fieldNames().next();
            ext = ext + "." + key;
            v = v.get(key);
        }
        if (ext.endsWith("grammar")) { // llama.cpp's GBNF (vLLM accepts GBNF as guided_grammar)
            if (!v.isTextual()) throw Fields.wrongType(ext, "a GBNF grammar (a string)", v);
            try {
                return ResponseFormat.gbnf(v.textValue());
            } catch (Gbnf.GbnfException e) {
                throw ApiException.badRequest(ext, ext + ": " + e.getMessage());
            }
        }
        if (ext.endsWith("choice")) {
            if (!v.isArray() || v.isEmpty() || v.size() > 256) throw Fields.wrongType(ext, "a list of 1 to 256 strings", v);
            List<String> choices = new ArrayList<>();
            for (JsonNode c : v) {
                if (!c.isTextual() || c.textValue().isEmpty()) throw Fields.wrongType(ext, "a list of non-empty strings", v);
                choices.add(c.textValue());
            }
            return ResponseFormat.choice(choices);
        }
        if (v.isTextual()) { // vLLM accepts the schema as a JSON string too
            try {
                v = PLAIN.readTree(v.textValue());
            } catch (IOException e) {
                throw ApiException.badRequest(ext, ext + " must be a JSON schema (an object, or a string holding one)");
            }
        }
        if (!v.isObject()) throw Fields.wrongType(ext, "a JSON schema object", v);
        try {
            return ResponseFormat.jsonSchema(null, v);
        } catch (JsonSchemaGrammar.UnsupportedSchemaException e) {
            throw ApiException.badRequest(ext, ext + ": " + e.getMessage());
        }
    }

    /** OpenAI's {@code response_format}. */
    private static ResponseFormat openAiFormat(Fields f) {
        JsonNode rf = f.node("response_format");
        if (rf == null) return ResponseFormat.TEXT;
        if (!rf.isObject() || !rf.path("type").isTextual())
            throw Fields.wrongType("response_format", "an object with a type", rf);
        return switch (rf.get("type").textValue()) {
            case "text" -> ResponseFormat.TEXT;
            case "json_object" -> ResponseFormat.JSON_OBJECT;
            case "json_schema" -> {
                JsonNode js = rf.get("json_schema");
                if (js == null || !js.isObject())
                    throw ApiException.badRequest("response_format.json_schema", "response_format.json_schema must be an object with a schema");
                JsonNode schema = js.get("schema");
                if (schema == null || !schema.isObject())
                    throw ApiException.badRequest("response_format.json_schema.schema", "response_format.json_schema.schema must be a JSON schema object");
                JsonNode name = js.get("name");
                try {
                    yield ResponseFormat.jsonSchema(name != null && name.isTextual() ? name.textValue() : null, schema);
                } catch (JsonSchemaGrammar.UnsupportedSchemaException e) {
                    throw ApiException.badRequest("response_format.json_schema.schema", "response_format.json_schema.schema: " + e.getMessage());
                }
            }
            default -> throw ApiException.badRequest("response_format", "response_format type must be text, json_object or json_schema, got '"
                    + rf.get("type").textValue() + "'");
        };
    }

    /** Messages as role + text; content may be a string or a list of text parts. */
    static List<ChatTemplate.Message> messages(Fields f) {
        JsonNode ms = f.node("messages");
        if (ms == null) throw ApiException.badRequest("messages", "messages is required");
        if (!ms.isArray()) throw Fields.wrongType("messages", "a list of messages", ms);
        if (ms.isEmpty()) throw ApiException.badRequest("messages", "messages must not be empty");
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String p = "messages[" + i + "]";
            if (!m.isObject()) throw Fields.wrongType(p, "an object with role and content", m);
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw ApiException.badRequest(p + ".role", p + ".role must be a string");
            String r = role.textValue();
            if (!List.of("system", "developer", "user", "assistant", "tool").contains(r))
                throw ApiException.badRequest(p + ".role", p + ".role must be one of system, developer, user, assistant, tool; got '" + r + "'");
            if (r.equals("developer")) r = "system"; // the newer name of the same thing; templates know "system"
            JsonNode c = m.get("content");
            // as in OpenAI's API: only an assistant turn may come without content (it had tool calls)
            if ((c == null || c.isNull()) && !r.equals("assistant"))
                throw ApiException.badRequest(p + ".content", p + ".content is required for a " + role.textValue() + " message");
            out.add(new ChatTemplate.Message(r, content(c, p + ".content"), extras(m, r, p)));
        }
        return out;
    }

    /** What a template may read besides role and content: an assistant's tool_calls, a tool reply's tool_call_id, a name. */
    private static Map<String, Object> extras(JsonNode m, String role, String p) {
        Map<String, Object> out = new LinkedHashMap<>();
        JsonNode calls = m.get("tool_calls");
        if (calls != null && !calls.isNull()) {
            if (!role.equals("assistant")) throw ApiException.badRequest(p + ".tool_calls", p + ".tool_calls is only for assistant messages");
            if (!calls.isArray()) throw Fields.wrongType(p + ".tool_calls", "a list of tool calls", calls);
            List<Object> list = new ArrayList<>();
            for (JsonNode call : calls) {
                Object plain = PLAIN.convertValue(call, Object.class);
                // templates read arguments as an object (Hugging Face's convention); OpenAI sends a JSON string
                if (plain instanceof Map<?, ?> map && map.get("function") instanceof Map<?, ?> fn
                        && fn.get("arguments") instanceof String args) {
                    try {
                        @SuppressWarnings("unchecked") Map<String, Object> f = (Map<String, Object>) fn;
                        f.put("arguments", PLAIN.readValue(args, Object.class));
                    } catch (IOException e) {
                        throw ApiException.badRequest(p + ".tool_calls", p + ".tool_calls: arguments must be a JSON string, got '" + args + "'");
                    }
                }
                list.add(plain);
            }
            out.put("tool_calls", list);
        }
        for (String k : new String[]{"tool_call_id", "name"}) {
            JsonNode v = m.get(k);
            if (v == null || v.isNull()) continue;
            if (!v.isTextual()) throw Fields.wrongType(p + "." + k, "a string", v);
            out.put(k, v.textValue());
        }
        return out;
    }

    private static String content(JsonNode c, String p) {
        if (c == null || c.isNull()) return "";
        return text(c, p, Set.of("text"), "({\"type\": \"text\", \"text\": ...})");
    }

    /**
     * A message's text: a string, or content parts of the given types, joined; any other part is a
     * 400 that says which are supported ({@code described}). The Responses API calls it with its own
     * part types.
     */
    static String text(JsonNode c, String p, Set<String> types, String described) {
        if (c.isTextual()) return c.textValue();
        if (!c.isArray()) throw Fields.wrongType(p, "a string or a list of content parts", c);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < c.size(); i++) {
            JsonNode part = c.get(i);
            if (!types.contains(part.path("type").asText("")) || !part.path("text").isTextual())
                throw ApiException.badRequest(p + "[" + i + "]", "only text content parts " + described + " are supported");
            sb.append(part.get("text").textValue());
        }
        return sb.toString();
    }

    private ObjectNode envelope(String object, String id, long created, ServedModel m) {
        ObjectNode o = json.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", m.id());
        o.put("system_fingerprint", m.fingerprint());
        return o;
    }

    private void collect(Context ctx, ServedModel m, Runs runs, String id, long created, boolean logprobs,
                         int[] promptIds, ToolCalls tools, Prompt prompt) throws Exception {
        int n = runs.size();
        StringBuilder[] text = new StringBuilder[n];
        ArrayNode[] lps = new ArrayNode[n];
        ArrayNode[] ids = new ArrayNode[n];
        GenerationEvent.Finished[] fin = new GenerationEvent.Finished[n];
        for (int i = 0; i < n; i++) {
            text[i] = new StringBuilder();
            lps[i] = json.createArrayNode();
            ids[i] = json.createArrayNode();
        }
        JsonReply reply = new JsonReply(ctx, json);
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int c, GenerationEvent e) {
                switch (e) {
                    case GenerationEvent.Token t -> {
                        text[c].append(t.text());
                        ids[c].add(t.token());
                        if (t.logprob() != null) lps[c].add(LogprobsJson.chatEntry(m.tokenizer(), t.logprob()));
                    }
                    case GenerationEvent.Finished done -> {
                        text[c].append(done.text());
                        fin[c] = done;
                    }
                    case GenerationEvent.PromptLogprobs p -> { }
                }
            }

            @Override
            public void idle() throws IOException {
                reply.idle();
            }
        }, server.idleMillis());
        if (!ok) return; // the client is gone; its requests were cancelled
        for (GenerationEvent.Finished done : fin) if (server.replyFailure(reply, done)) return;
        ObjectNode o = envelope("chat.completion", id, created, m);
        ArrayNode choices = o.putArray("choices");
        Usage usage = new Usage();
        for (int i = 0; i < n; i++) {
            ObjectNode c = choices.addObject();
            c.put("index", i);
            ObjectNode msg = c.putObject("message");
            msg.put("role", "assistant");
            ChatReply r = ToolCalls.read(m.template().syntax(), tools, text[i].toString(), fin[i].reason(), prompt.thinkingOpened());
            if (r.content() == null) msg.putNull("content");
            else msg.put("content", r.content());
            msg.putNull("refusal");
            if (r.reasoning() != null) msg.put("reasoning_content", r.reasoning());
            boolean called = !r.calls().isEmpty();
            if (called) msg.set("tool_calls", ToolCalls.toJson(r.calls(), () -> server.newId("call_"), json));
            if (logprobs) c.putObject("logprobs").put("refusal", (String) null).set("content", lps[i]);
            else c.putNull("logprobs");
            c.put("finish_reason", called ? "tool_calls" : fin[i].reason().openAi());
            if (promptIds != null) c.set("token_ids", ids[i]);
            usage.add(fin[i], i == 0, true);
        }
        if (promptIds != null) {
            ArrayNode p = o.putArray("prompt_token_ids");
            for (int t : promptIds) p.add(t);
        }
        o.set("usage", usage.toJson(json));
        reply.send(o);
    }

    /**
     * A stream of chunks. Thinking and content are sent as they come ({@code delta.reasoning_content},
     * {@code delta.content}); text from where a tool call may begin is held until the reply is done
     * ({@link ReplyStream}), and each call is then sent as OpenAI does: its id and name, then its
     * arguments. A forced call (the whole reply is the call) is sent at the end.
     */
    private void stream(Context ctx, ServedModel m, Runs runs, SamplingFields sf, String id, long created,
                        boolean logprobs, ToolCalls tools, Prompt prompt, boolean returnIds) throws Exception {
        Sse sse = new Sse(ctx, json);
        int n = runs.size();
        Usage usage = new Usage();
        boolean[] failed = {false};
        ChatSyntax syntax = m.template().syntax();
        boolean forced = tools != null && !tools.auto();
        ReplyStream[] replies = new ReplyStream[n];
        StringBuilder[] forcedText = new StringBuilder[n]; // a forced call: read from the whole text at the end
        for (int i = 0; i < n; i++) {
            replies[i] = syntax.stream(prompt.thinkingOpened(), tools == null ? null : tools.specs());
            forcedText[i] = new StringBuilder();
            ObjectNode chunk = chunk(m, id, created, i);
            choice(chunk).putObject("delta").put("role", "assistant").put("content", "");
            choice(chunk).putNull("logprobs");
            if (returnIds && i == 0) { // as vLLM streams them: the prompt's ids first, then each chunk's token ids
                ArrayNode p = chunk.putArray("prompt_token_ids");
                for (int t : prompt.ids()) p.add(t);
            }
            sse.data(chunk);
        }
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int i, GenerationEvent e) throws IOException {
                switch (e) {
                    case GenerationEvent.Token t -> {
                        ReplyStream.Delta d = NOTHING;
                        if (forced) forcedText[i].append(t.text());
                        else d = replies[i].push(t.text());
                        boolean lp = t.logprob() != null && logprobs;
                        if (d.isEmpty() && !lp && !returnIds) return;
                        ObjectNode chunk = chunk(m, id, created, i);
                        delta(choice(chunk).putObject("delta"), d);
                        if (returnIds) choice(chunk).putArray("token_ids").add(t.token());
                        if (lp) choice(chunk).putObject("logprobs").put("refusal", (String) null).putArray("content")
                                .add(LogprobsJson.chatEntry(m.tokenizer(), t.logprob()));
                        else choice(chunk).putNull("logprobs");
                        sse.data(chunk);
                    }
                    case GenerationEvent.Finished done -> {
                        if (done.reason().failed()) {
                            failed[0] = true;
                            sse.data(server.errorBody(OpenAiServer.engineFailure(done)));
                            return;
                        }
                        finish(sse, m, id, created, i, done, forced ? forcedText[i].append(done.text()).toString() : null, replies[i],
                                tools, prompt);
                        usage.add(done, i == 0, true); // every choice has the same prompt
                    }
                    case GenerationEvent.PromptLogprobs p -> { }
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
            usageChunk = envelope("chat.completion.chunk", id, created, m);
            usageChunk.putArray("choices");
            usageChunk.set("usage", usage.toJson(json));
        }
        sse.finish(usageChunk);
    }

    private static final ReplyStream.Delta NOTHING = new ReplyStream.Delta("", "");

    /** The end of choice {@code i}: the text not shown yet, each call (id and name, then arguments), the finish reason. */
    private void finish(Sse sse, ServedModel m, String id, long created, int i, GenerationEvent.Finished done, String forcedText,
                        ReplyStream reply, ToolCalls tools, Prompt prompt) throws IOException {
        ReplyStream.Delta rest = NOTHING;
        ChatReply r;
        if (forcedText != null) {
            r = ToolCalls.read(m.template().syntax(), tools, forcedText, done.reason(), prompt.thinkingOpened());
        } else {
            reply.push(done.text());
            r = ToolCalls.read(m.template().syntax(), tools, reply.text(), done.reason(), prompt.thinkingOpened());
            rest = reply.remaining(r);
        }
        if (!rest.isEmpty()) {
            ObjectNode chunk = chunk(m, id, created, i);
            delta(choice(chunk).putObject("delta"), rest);
            choice(chunk).putNull("logprobs");
            sse.data(chunk);
        }
        for (int k = 0; k < r.calls().size(); k++) {
            ToolCall call = r.calls().get(k);
            ObjectNode head = chunk(m, id, created, i);
            ObjectNode tc = choice(head).putObject("delta").putArray("tool_calls").addObject();
            tc.put("index", k).put("id", server.newId("call_")).put("type", "function");
            tc.putObject("function").put("name", call.name()).put("arguments", "");
            choice(head).putNull("logprobs");
            sse.data(head);
            ObjectNode args = chunk(m, id, created, i);
            choice(args).putObject("delta").putArray("tool_calls").addObject().put("index", k)
                    .putObject("function").put("arguments", call.arguments());
            choice(args).putNull("logprobs");
            sse.data(args);
        }
        ObjectNode last = chunk(m, id, created, i);
        choice(last).putObject("delta");
        choice(last).putNull("logprobs");
        choice(last).put("finish_reason", r.calls().isEmpty() ? done.reason().openAi() : "tool_calls");
        sse.data(last);
    }

    /** A chunk with one choice, {@code i}, whose finish_reason is null until the last. */
    private ObjectNode chunk(ServedModel m, String id, long created, int i) {
        ObjectNode chunk = envelope("chat.completion.chunk", id, created, m);
        ObjectNode c = chunk.putArray("choices").addObject();
        c.put("index", i);
        c.putNull("finish_reason");
        return chunk;
    }

    private static ObjectNode choice(ObjectNode chunk) {
        return (ObjectNode) chunk.get("choices").get(0);
    }

    private static void delta(ObjectNode delta, ReplyStream.Delta d) {
        if (!d.reasoning().isEmpty()) delta.put("reasoning_content", d.reasoning());
        if (!d.content().isEmpty() || d.reasoning().isEmpty()) delta.put("content", d.content());
    }
}
