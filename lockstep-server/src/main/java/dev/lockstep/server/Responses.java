package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.chat.ChatReply;
import dev.lockstep.chat.ToolCall;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.ResponseFormat;
import dev.lockstep.tokenizer.ChatTemplate;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code POST /v1/responses}, OpenAI's Responses API, as a translation onto the chat path: {@code
 * input} (a string, or message, {@code function_call} and {@code function_call_output} items) and
 * {@code instructions} become chat messages, {@code text.format} a response format, function tools
 * the chat tools; the reply is a {@code response} object whose {@code output} holds a message or
 * function calls, or, streamed, the Responses events from {@code response.created} to {@code
 * response.completed}. Nothing is stored: {@code previous_response_id} is refused, so a conversation
 * goes back as input, as with chat.
 */
final class Responses {
    static final Set<String> FIELDS = Fields.union(Set.of("model", "input", "instructions", "max_output_tokens", "temperature",
            "top_p", "stream", "text", "tools", "tool_choice", "parallel_tool_calls", "store", "metadata", "user", "seed", "reasoning",
            "top_logprobs", "max_tool_calls"), NoOpFields.RESPONSES);

    private final OpenAiServer server;
    private final ObjectMapper json;

    Responses(OpenAiServer server, ObjectMapper json) {
        this.server = server;
        this.json = json;
    }

    void handle(Context ctx) throws Exception {
        JsonNode body = server.readJson(ctx);
        Fields f = new Fields(body);
        f.only(FIELDS);
        try (ModelPool.Lease lease = server.lease(f)) { // held until the reply is done: the model stays loaded
            handle(ctx, f, lease.model(), body);
        }
    }

    private void handle(Context ctx, Fields f, ServedModel m, JsonNode body) throws Exception {
        f.bool("store", false); // type-checked; nothing is stored either way
        NoOpFields.check(f, NoOpFields.RESPONSES);
        f.integer("top_logprobs", 0, 0, 20); // type-checked; logprobs come only with include, which takes no values here
        int maxCalls = f.integer("max_tool_calls", Integer.MAX_VALUE, 1, Integer.MAX_VALUE);
        if (f.node("metadata") != null && !f.node("metadata").isObject()) throw Fields.wrongType("metadata", "an object", f.node("metadata"));
        // the same request in the chat shape, so that it is checked and rendered by the same code
        ObjectNode chat = json.createObjectNode();
        ArrayNode messages = chat.putArray("messages");
        String instructions = f.string("instructions", null);
        if (instructions != null) messages.addObject().put("role", "system").put("content", instructions);
        input(f.node("input"), messages);
        for (String k : new String[]{"temperature", "top_p", "seed", "stream", "user"}) if (f.has(k)) chat.set(k, f.node(k));
        int maxOutput = f.integer("max_output_tokens", -1, 1, Integer.MAX_VALUE);
        if (maxOutput > 0) chat.put("max_tokens", maxOutput);
        tools(f, chat);
        Fields cf = new Fields(chat);
        List<ChatTemplate.Message> msgs = ChatCompletions.messages(cf);
        SamplingFields sf = SamplingFields.parse(cf, -1, m.engine().model().vocabSize());
        ResponseFormat format = format(f);
        ToolCalls tools = ToolCalls.parse(cf, json);
        format = ToolCalls.decodeFormat(tools, format, "text.format");
        ChatCompletions.Prompt prompt = ChatCompletions.prompt(m, msgs, tools, reasoning(f));
        GenerationRequest req = new GenerationRequest(prompt.ids(), sf.sampling(), sf.maxTokens(), List.of(), false, -1, false, 0,
                sf.spec(), format, sf.tokenStops(), prompt.shownSpecial(), false);
        ObjectNode response = envelope(server.newId("resp_"), m, body, instructions, maxOutput);
        Reader reader = (text, done) -> {
            ChatReply r = ToolCalls.read(m.template().syntax(), tools, text, done.reason(), prompt.thinkingOpened());
            return r.calls().size() <= maxCalls ? r : new ChatReply(r.reasoning(), r.content(), r.calls().subList(0, maxCalls));
        };
        try (Runs runs = server.submit(m, List.of(req), "input")) {
            if (sf.stream()) stream(ctx, runs, response, reader, tools == null && !m.template().syntax().marksThinking());
            else collect(ctx, runs, response, reader);
        }
    }

    // ------------------------------------------------------------------ the request

    /** {@code reasoning}: null, or {@code {"effort": ...}}, which reaches the template as chat's reasoning_effort does. */
    private Map<String, Object> reasoning(Fields f) {
        JsonNode r = f.node("reasoning");
        if (r == null || r.isNull()) return Map.of();
        if (!r.isObject()) throw Fields.wrongType("reasoning", "an object", r);
        for (var e : r.properties())
            if (!e.getKey().equals("effort") && !(e.getKey().equals("summary") && e.getValue().isNull()))
                throw ApiException.badRequest("reasoning." + e.getKey(), "reasoning." + e.getKey() + " is not supported (effort is)");
        if (!r.has("effort") || r.get("effort").isNull()) return Map.of();
        ObjectNode chat = json.createObjectNode().set("reasoning_effort", r.get("effort"));
        try {
            return ChatCompletions.templateVariables(new Fields(chat));
        } catch (ApiException e) {
            throw ApiException.badRequest("reasoning.effort", e.getMessage().replace("reasoning_effort", "reasoning.effort"));
        }
    }

    /** {@code input}: a string, or a list of items, as chat messages. */
    private void input(JsonNode in, ArrayNode messages) {
        if (in == null) throw ApiException.badRequest("input", "input is required");
        if (in.isTextual()) {
            messages.addObject().put("role", "user").put("content", in.textValue());
            return;
        }
        if (!in.isArray() || in.isEmpty()) throw Fields.wrongType("input", "a string or a non-empty list of input items", in);
        for (int i = 0; i < in.size(); i++) {
            JsonNode item = in.get(i);
            String p = "input[" + i + "]";
            if (!item.isObject()) throw Fields.wrongType(p, "an input item", item);
            String type = item.path("type").asText("message");
            switch (type) {
                case "message" -> {
                    ObjectNode msg = messages.addObject();
                    msg.set("role", item.get("role"));
                    msg.put("content", text(item.get("content"), p + ".content"));
                }
                case "function_call" -> {
                    ObjectNode msg = messages.addObject().put("role", "assistant");
                    msg.putNull("content");
                    ObjectNode call = msg.putArray("tool_calls").addObject();
                    call.put("id", item.path("call_id").asText(""));
                    call.put("type", "function");
                    call.putObject("function").put("name", item.path("name").asText("")).put("arguments", item.path("arguments").asText("{}"));
                }
                case "function_call_output" -> messages.addObject().put("role", "tool")
                        .put("tool_call_id", item.path("call_id").asText("")).put("content", item.path("output").asText(""));
                default -> throw ApiException.badRequest(p + ".type", p + ".type '" + type
                        + "' is not supported (message, function_call and function_call_output are)");
            }
        }
    }

    /** A message's content: a string, or text parts ({@code input_text}, {@code output_text}). */
    private static String text(JsonNode c, String p) {
        if (c == null || c.isNull()) throw ApiException.badRequest(p, p + " is required");
        return ChatCompletions.text(c, p, Set.of("input_text", "output_text", "text"), "(input_text, output_text)");
    }

    /** Function tools in the chat shape ({@code {"type": "function", "function": {...}}}); other tool types are refused. */
    private void tools(Fields f, ObjectNode chat) {
        JsonNode tools = f.node("tools");
        if (tools != null) {
            if (!tools.isArray()) throw Fields.wrongType("tools", "a list of tools", tools);
            ArrayNode out = chat.putArray("tools");
            for (int i = 0; i < tools.size(); i++) {
                JsonNode t = tools.get(i);
                if (!"function".equals(t.path("type").asText()))
                    throw ApiException.badRequest("tools[" + i + "].type", "tools[" + i + "].type '" + t.path("type").asText()
                            + "' is not supported: only function tools are");
                ObjectNode fn = out.addObject().put("type", "function").putObject("function");
                for (String k : new String[]{"name", "description", "parameters"}) if (t.has(k)) fn.set(k, t.get(k));
            }
            if (tools.isEmpty()) chat.remove("tools");
        }
        f.bool("parallel_tool_calls", true); // type-checked; one call per reply is always allowed
        JsonNode choice = f.node("tool_choice");
        if (choice == null) return;
        if (choice.isObject() && "function".equals(choice.path("type").asText()))
            chat.set("tool_choice", json.createObjectNode().put("type", "function").set("function",
                    json.createObjectNode().set("name", choice.get("name"))));
        else chat.set("tool_choice", choice);
    }

    /** {@code text.format}: text, json_object, or json_schema with its fields flattened (as the Responses API has it). */
    private ResponseFormat format(Fields f) {
        JsonNode text = f.node("text");
        if (text == null) return ResponseFormat.TEXT;
        if (!text.isObject()) throw Fields.wrongType("text", "an object", text);
        JsonNode fmt = text.get("format");
        if (fmt == null || fmt.isNull()) return ResponseFormat.TEXT;
        ObjectNode rf = json.createObjectNode();
        if (fmt.isObject() && "json_schema".equals(fmt.path("type").asText())) {
            rf.put("type", "json_schema");
            ObjectNode js = rf.putObject("json_schema");
            for (String k : new String[]{"name", "schema", "strict"}) if (fmt.has(k)) js.set(k, fmt.get(k));
        } else {
            rf.set("type", fmt.path("type"));
        }
        try {
            return ChatCompletions.responseFormat(new Fields(json.createObjectNode().set("response_format", rf)));
        } catch (ApiException e) {
            throw ApiException.badRequest("text.format", e.getMessage().replace("response_format.json_schema.schema", "text.format.schema")
                    .replace("response_format", "text.format"));
        }
    }

    // ------------------------------------------------------------------ the response

    private ObjectNode envelope(String id, ServedModel m, JsonNode body, String instructions, int maxOutput) {
        ObjectNode o = json.createObjectNode();
        o.put("id", id);
        o.put("object", "response");
        o.put("created_at", System.currentTimeMillis() / 1000);
        o.put("status", "in_progress");
        o.putNull("error");
        o.putNull("incomplete_details");
        if (instructions == null) o.putNull("instructions");
        else o.put("instructions", instructions);
        if (maxOutput > 0) o.put("max_output_tokens", maxOutput);
        else o.putNull("max_output_tokens");
        o.put("model", m.id());
        o.putArray("output");
        o.put("parallel_tool_calls", body.path("parallel_tool_calls").asBoolean(true));
        o.putNull("previous_response_id");
        o.put("temperature", body.path("temperature").asDouble(1.0));
        o.put("top_p", body.path("top_p").asDouble(1.0));
        o.set("tool_choice", body.has("tool_choice") ? body.get("tool_choice") : json.getNodeFactory().textNode("auto"));
        ArrayNode tools = o.putArray("tools"); // as OpenAI echoes them: every function tool with its parameters and strict
        if (body.path("tools").isArray()) for (JsonNode t : body.get("tools")) {
            ObjectNode e = t.deepCopy();
            if (!e.has("parameters")) e.putNull("parameters");
            if (!e.has("strict")) e.putNull("strict");
            tools.add(e);
        }
        o.set("text", body.has("text") ? body.get("text") : json.createObjectNode().set("format", json.createObjectNode().put("type", "text")));
        o.set("metadata", body.has("metadata") ? body.get("metadata") : json.createObjectNode());
        o.put("store", false);
        o.put("system_fingerprint", m.fingerprint());
        return o;
    }

    /** How a finished reply is read: its thinking, content and calls ({@link ToolCalls#read}). */
    private interface Reader {
        ChatReply read(String text, GenerationEvent.Finished done);
    }

    /** The output items of a finished reply: its reasoning, a message, and the calls it made. */
    private ArrayNode output(ChatReply r) {
        ArrayNode out = json.createArrayNode();
        if (r.reasoning() != null) {
            ObjectNode item = out.addObject();
            item.put("type", "reasoning");
            item.put("id", server.newId("rs_"));
            item.putArray("summary");
            item.putArray("content").addObject().put("type", "reasoning_text").put("text", r.reasoning());
            item.put("status", "completed");
        }
        if (r.content() != null && (r.calls().isEmpty() || !r.content().isEmpty())) out.add(message(server.newId("msg_"), r.content(), "completed"));
        for (ToolCall c : r.calls()) {
            ObjectNode item = out.addObject();
            item.put("type", "function_call");
            item.put("id", server.newId("fc_"));
            item.put("call_id", server.newId("call_"));
            item.put("name", c.name());
            item.put("arguments", c.arguments());
            item.put("status", "completed");
        }
        return out;
    }

    private ObjectNode message(String id, String text, String status) {
        ObjectNode msg = json.createObjectNode();
        msg.put("type", "message");
        msg.put("id", id);
        msg.put("status", status);
        msg.put("role", "assistant");
        ArrayNode content = msg.putArray("content");
        if (text != null) content.add(outputText(text));
        return msg;
    }

    private ObjectNode outputText(String text) {
        ObjectNode part = json.createObjectNode();
        part.put("type", "output_text");
        part.put("text", text);
        part.putArray("annotations");
        part.putArray("logprobs");
        return part;
    }

    private void finish(ObjectNode response, ArrayNode output, GenerationEvent.Finished done) {
        response.set("output", output);
        boolean cut = done.reason() == FinishReason.LENGTH;
        response.put("status", cut ? "incomplete" : "completed");
        if (cut) response.putObject("incomplete_details").put("reason", "max_output_tokens");
        ObjectNode u = response.putObject("usage");
        u.put("input_tokens", done.promptTokens());
        u.putObject("input_tokens_details").put("cached_tokens", done.cachedPromptTokens()).put("cache_write_tokens", 0);
        u.put("output_tokens", done.completionTokens());
        u.putObject("output_tokens_details").put("reasoning_tokens", 0);
        u.put("total_tokens", done.promptTokens() + done.completionTokens());
    }

    private void collect(Context ctx, Runs runs, ObjectNode response, Reader reader) throws Exception {
        StringBuilder text = new StringBuilder();
        GenerationEvent.Finished[] fin = new GenerationEvent.Finished[1];
        JsonReply reply = new JsonReply(ctx, json);
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int c, GenerationEvent e) {
                if (e instanceof GenerationEvent.Token t) text.append(t.text());
                else if (e instanceof GenerationEvent.Finished done) {
                    text.append(done.text());
                    fin[0] = done;
                }
            }

            @Override
            public void idle() throws IOException {
                reply.idle();
            }
        }, server.idleMillis());
        if (!ok) return;
        if (server.replyFailure(reply, fin[0])) return;
        finish(response, output(reader.read(text.toString(), fin[0])), fin[0]);
        reply.send(response);
    }

    /**
     * The Responses events. Text streams as {@code response.output_text.delta} events of one message;
     * with tools the reply is held until it ends (a call is only a call once complete), then sent as
     * its items' added / done events.
     */
    /** {@code live}: the text streams as it comes (no tools, no thinking to take apart); else the items come at the end. */
    private void stream(Context ctx, Runs runs, ObjectNode response, Reader reader, boolean live) throws Exception {
        Sse sse = new Sse(ctx, json);
        int[] seq = {0};
        String msgId = server.newId("msg_");
        StringBuilder text = new StringBuilder();
        Emitter emit = (type, ev) -> {
            ev.put("type", type);
            ev.put("sequence_number", seq[0]++);
            sse.event(type, ev);
        };
        emit.send("response.created", json.createObjectNode().set("response", response.deepCopy()));
        emit.send("response.in_progress", json.createObjectNode().set("response", response.deepCopy()));
        if (live) openMessage(emit, msgId, 0);
        boolean ok = runs.pump(new Runs.Sink() {
            @Override
            public void event(int c, GenerationEvent e) throws IOException {
                if (e instanceof GenerationEvent.Token t) {
                    text.append(t.text());
                    if (live && !t.text().isEmpty()) emit.send("response.output_text.delta", delta(msgId, 0, t.text()));
                } else if (e instanceof GenerationEvent.Finished done) {
                    text.append(done.text());
                    if (done.reason().failed()) {
                        ObjectNode failed = response.deepCopy().put("status", "failed");
                        failed.set("error", json.createObjectNode().put("code", "server_error").put("message", OpenAiServer.engineFailure(done).getMessage()));
                        emit.send("response.failed", json.createObjectNode().set("response", failed));
                        return;
                    }
                    if (live && !done.text().isEmpty()) emit.send("response.output_text.delta", delta(msgId, 0, done.text()));
                    ArrayNode output = live ? json.createArrayNode().add(message(msgId, text.toString(), "completed")) : output(reader.read(text.toString(), done));
                    if (live) closeMessage(emit, msgId, text.toString(), 0);
                    else sendItems(emit, output);
                    finish(response, output, done);
                    emit.send(response.get("status").asText().equals("completed") ? "response.completed" : "response.incomplete",
                            json.createObjectNode().set("response", response));
                }
            }

            @Override
            public void idle() throws IOException {
                sse.keepAlive();
            }
        }, server.idleMillis());
        if (!ok) return;
        sse.close();
    }

    private interface Emitter {
        void send(String type, ObjectNode event) throws IOException;
    }

    private ObjectNode delta(String itemId, int index, String text) {
        ObjectNode d = json.createObjectNode().put("item_id", itemId).put("output_index", index).put("content_index", 0).put("delta", text);
        d.putArray("logprobs");
        return d;
    }

    /** A message item begins: its added event, then its (empty) text part's. */
    private void openMessage(Emitter emit, String msgId, int index) throws IOException {
        emit.send("response.output_item.added", json.createObjectNode().put("output_index", index).set("item", message(msgId, null, "in_progress")));
        ObjectNode part = json.createObjectNode().put("item_id", msgId).put("output_index", index).put("content_index", 0);
        part.set("part", outputText(""));
        emit.send("response.content_part.added", part);
    }

    private void closeMessage(Emitter emit, String msgId, String text, int index) throws IOException {
        ObjectNode done = json.createObjectNode().put("item_id", msgId).put("output_index", index).put("content_index", 0).put("text", text);
        done.putArray("logprobs");
        emit.send("response.output_text.done", done);
        ObjectNode part = json.createObjectNode().put("item_id", msgId).put("output_index", index).put("content_index", 0);
        part.set("part", outputText(text));
        emit.send("response.content_part.done", part);
        emit.send("response.output_item.done", json.createObjectNode().put("output_index", index).set("item", message(msgId, text, "completed")));
    }

    /**
     * Finished items, each as its added and done events (reasoning with its text, a message with its
     * text part, or a call with its arguments).
     */
    private void sendItems(Emitter emit, ArrayNode output) throws IOException {
        for (int i = 0; i < output.size(); i++) {
            ObjectNode item = (ObjectNode) output.get(i);
            if (item.get("type").asText().equals("message")) {
                String id = item.get("id").asText(), text = item.at("/content/0/text").asText();
                openMessage(emit, id, i);
                emit.send("response.output_text.delta", delta(id, i, text));
                closeMessage(emit, id, text, i);
            } else if (item.get("type").asText().equals("reasoning")) {
                String id = item.get("id").asText(), text = item.at("/content/0/text").asText();
                ObjectNode pending = item.deepCopy().put("status", "in_progress");
                pending.putArray("content");
                emit.send("response.output_item.added", json.createObjectNode().put("output_index", i).set("item", pending));
                emit.send("response.reasoning_text.delta", json.createObjectNode().put("item_id", id).put("output_index", i)
                        .put("content_index", 0).put("delta", text));
                emit.send("response.reasoning_text.done", json.createObjectNode().put("item_id", id).put("output_index", i)
                        .put("content_index", 0).put("text", text));
                emit.send("response.output_item.done", json.createObjectNode().put("output_index", i).set("item", item));
            } else {
                ObjectNode pending = item.deepCopy().put("status", "in_progress").put("arguments", "");
                emit.send("response.output_item.added", json.createObjectNode().put("output_index", i).set("item", pending));
                emit.send("response.function_call_arguments.delta", json.createObjectNode().put("item_id", item.get("id").asText())
                        .put("output_index", i).put("delta", item.get("arguments").asText()));
                emit.send("response.function_call_arguments.done", json.createObjectNode().put("item_id", item.get("id").asText())
                        .put("output_index", i).put("name", item.get("name").asText()).put("arguments", item.get("arguments").asText()));
                emit.send("response.output_item.done", json.createObjectNode().put("output_index", i).set("item", item));
            }
        }
    }
}
