package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.sampling.JsonSchemaGrammar;
import dev.lockstep.tokenizer.ChatTemplate;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    /** Every field this endpoint reads; others get a 400 ({@link Fields#only}). */
    static final Set<String> FIELDS = SamplingFields.fields("messages", "logprobs", "top_logprobs", "return_token_ids",
            "response_format", "tools", "tool_choice", "parallel_tool_calls");
    private static final ObjectMapper PLAIN = new ObjectMapper();

    void handle(Context ctx) throws Exception {
        Fields f = new Fields(server.readJson(ctx));
        f.only(FIELDS);
        try (ModelPool.Lease lease = server.lease(f)) { // held until the reply is done: the model stays loaded
            handle(ctx, f, lease.model());
        }
    }

    private void handle(Context ctx, Fields f, ServedModel m) throws Exception {
        ResponseFormat format = responseFormat(f);
        ToolCalls tools = ToolCalls.parse(f, json, m.template().hermesToolCalls());
        format = ToolCalls.decodeFormat(tools, format, "response_format");
        List<ChatTemplate.Message> messages = messages(f);
        SamplingFields sf = SamplingFields.parse(f, -1, m.engine().model().vocabSize());
        boolean logprobs = f.bool("logprobs", false);
        int top = f.integer("top_logprobs", 0, 0, 20);
        boolean returnIds = f.bool("return_token_ids", false);
        if (f.has("top_logprobs") && !logprobs)
            throw ApiException.badRequest("top_logprobs", "top_logprobs requires logprobs to be true");
        int[] prompt = m.tokenizer().encodeChat(m.template().render(messages, true, tools == null ? null : tools.templateTools()));
        List<GenerationRequest> reqs = new ArrayList<>();
        for (int i = 0; i < sf.n(); i++)
            reqs.add(new GenerationRequest(prompt, sf.sampling(), sf.maxTokens(), sf.stop(), sf.ignoreEos(),
                    logprobs ? top : -1, false, i, sf.spec(), format, sf.tokenStops()));
        String id = server.newId("chatcmpl-");
        long created = System.currentTimeMillis() / 1000;
        try (Runs runs = server.submit(m, reqs, "messages")) {
            if (sf.stream()) stream(ctx, m, runs, sf, id, created, logprobs, tools);
            else collect(ctx, m, runs, id, created, logprobs, returnIds ? prompt : null, tools);
        }
    }

    /**
     * {@code response_format}: {@code text}; {@code json_object} (JSON mode); or {@code json_schema}
     * (structured outputs: {@code {"json_schema": {"name", "schema", "strict"}}}), whose schema is
     * compiled to a grammar here, so a schema it cannot enforce is a 400 naming the keyword and where.
     * Constrained decoding is the same whether or not {@code strict} is set: it never emits what the
     * grammar refuses.
     */
    static ResponseFormat responseFormat(Fields f) {
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
                         int[] promptIds, ToolCalls tools) throws Exception {
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
            ToolCalls.Reply r = tools != null && fin[i].reason() == FinishReason.STOP
                    ? tools.reply(text[i].toString(), () -> server.newId("call_"), json) : null;
            boolean called = r != null && !r.calls().isEmpty();
            if (called) {
                if (r.content() == null) msg.putNull("content");
                else msg.put("content", r.content());
                msg.set("tool_calls", r.calls());
            } else {
                msg.put("content", text[i].toString());
            }
            if (logprobs) c.putObject("logprobs").set("content", lps[i]);
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
     * A stream of chunks. A tool call is sent whole in the last chunk of its choice (one
     * {@code tool_calls} delta), since it is only a call once it is complete.
     */
    private void stream(Context ctx, ServedModel m, Runs runs, SamplingFields sf, String id, long created,
                        boolean logprobs, ToolCalls tools) throws Exception {
        Sse sse = new Sse(ctx, json);
        int n = runs.size();
        Usage usage = new Usage();
        boolean[] failed = {false};
        StringBuilder[] held = new StringBuilder[n]; // tool calls: the text so far
        for (int i = 0; i < n; i++) held[i] = new StringBuilder();
        for (int i = 0; i < n; i++) {
            ObjectNode chunk = envelope("chat.completion.chunk", id, created, m);
            ObjectNode c = chunk.putArray("choices").addObject();
            c.put("index", i);
            ObjectNode delta = c.putObject("delta");
            delta.put("role", "assistant");
            delta.put("content", "");
            c.putNull("logprobs");
            c.putNull("finish_reason");
            sse.data(chunk);
        }
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int i, GenerationEvent e) throws IOException {
                switch (e) {
                    case GenerationEvent.Token t -> {
                        if (tools != null) { // held back until the call is complete
                            held[i].append(t.text());
                            return;
                        }
                        if (t.text().isEmpty() && t.logprob() == null) return;
                        ObjectNode chunk = envelope("chat.completion.chunk", id, created, m);
                        ObjectNode c = chunk.putArray("choices").addObject();
                        c.put("index", i);
                        c.putObject("delta").put("content", t.text());
                        if (t.logprob() != null && logprobs)
                            c.putObject("logprobs").putArray("content").add(LogprobsJson.chatEntry(m.tokenizer(), t.logprob()));
                        else c.putNull("logprobs");
                        c.putNull("finish_reason");
                        sse.data(chunk);
                    }
                    case GenerationEvent.Finished done -> {
                        if (done.reason().failed()) {
                            failed[0] = true;
                            sse.data(server.errorBody(OpenAiServer.engineFailure(done)));
                            return;
                        }
                        ObjectNode chunk = envelope("chat.completion.chunk", id, created, m);
                        ObjectNode c = chunk.putArray("choices").addObject();
                        c.put("index", i);
                        ObjectNode delta = c.putObject("delta");
                        String rest = tools == null ? done.text() : held[i].append(done.text()).toString();
                        ToolCalls.Reply r = tools != null && done.reason() == FinishReason.STOP
                                ? tools.reply(rest, () -> server.newId("call_"), json) : null;
                        boolean called = r != null && !r.calls().isEmpty();
                        if (called) {
                            for (int k = 0; k < r.calls().size(); k++) ((ObjectNode) r.calls().get(k)).put("index", k);
                            if (r.content() != null) delta.put("content", r.content());
                            delta.set("tool_calls", r.calls());
                        } else if (!rest.isEmpty()) {
                            delta.put("content", rest);
                        }
                        c.putNull("logprobs");
                        c.put("finish_reason", called ? "tool_calls" : done.reason().openAi());
                        sse.data(chunk);
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
}
