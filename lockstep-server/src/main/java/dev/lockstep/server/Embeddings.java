package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.engine.Embedder;
import io.javalin.http.Context;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;

/**
 * {@code POST /v1/embeddings}, OpenAI's shape: {@code input} as a string, a list of strings, a list of
 * token ids or a list of such lists; {@code encoding_format} {@code float} or {@code base64}
 * (little-endian f32, as OpenAI sends it); {@code dimensions} keeps the first components and scales
 * them to unit length again (as OpenAI's text-embedding-3 models do); {@code usage}. Each input is
 * embedded alone ({@link Embedder}), so its vector has the same bits whatever else the request holds.
 */
final class Embeddings {
    static final Set<String> FIELDS = Set.of("model", "input", "encoding_format", "dimensions", "user");
    /** Inputs per request, as OpenAI's limit. */
    static final int MAX_INPUTS = 2048;

    private final OpenAiServer server;
    private final ObjectMapper json;

    Embeddings(OpenAiServer server, ObjectMapper json) {
        this.server = server;
        this.json = json;
    }

    void handle(Context ctx) throws Exception {
        Fields f = new Fields(server.readJson(ctx));
        f.only(FIELDS);
        try (ModelPool.Lease lease = server.lease(f)) {
            handle(ctx, f, lease.model());
        }
    }

    private void handle(Context ctx, Fields f, ServedModel m) {
        f.string("user", null); // type-checked, not used
        String format = f.string("encoding_format", "float");
        if (!format.equals("float") && !format.equals("base64"))
            throw ApiException.badRequest("encoding_format", "encoding_format must be float or base64, not '" + OpenAiServer.clip(format) + "'");
        Embedder embedder = server.embedder(m);
        int dims = f.integer("dimensions", embedder.dim(), 1, embedder.dim());
        List<int[]> inputs = inputs(f, m, embedder.maxTokens());
        Embedder.Pooling pooling = embedder.defaultPooling();
        ObjectNode reply = json.createObjectNode().put("object", "list");
        ArrayNode data = reply.putArray("data");
        long tokens = 0;
        for (int i = 0; i < inputs.size(); i++) {
            float[] v = embedder.embed(inputs.get(i), pooling, true);
            tokens += inputs.get(i).length;
            if (dims < v.length) {
                v = java.util.Arrays.copyOf(v, dims);
                Embedder.normalize(v);
            }
            ObjectNode item = data.addObject().put("object", "embedding").put("index", i);
            if (format.equals("base64")) {
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) b.putFloat(x);
                item.put("embedding", Base64.getEncoder().encodeToString(b.array()));
            } else {
                ArrayNode arr = item.putArray("embedding");
                for (float x : v) arr.add(x);
            }
        }
        reply.put("model", m.id());
        reply.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        server.sendJson(ctx, reply);
    }

    /** The inputs as token ids, each checked: not empty, within the context, ids in the vocabulary. */
    private static List<int[]> inputs(Fields f, ServedModel m, int maxTokens) {
        JsonNode in = f.node("input");
        boolean listed = in != null && in.isArray() && !in.isEmpty() && !in.get(0).isIntegralNumber();
        if (listed && in.size() > MAX_INPUTS) // before reading them
            throw ApiException.badRequest("input", "input has " + in.size() + " items; at most " + MAX_INPUTS + " per request");
        List<int[]> out = new ArrayList<>();
        List<Fields.TextOrIds> items = Fields.textsOrTokenIds(in, "input", m.engine().model().vocabSize());
        for (int i = 0; i < items.size(); i++) {
            Fields.TextOrIds item = items.get(i);
            String name = listed ? "input[" + i + "]" : "input";
            if (item.text() != null && item.text().isEmpty()) throw ApiException.badRequest("input", name + " is empty");
            int[] ids = item.text() != null ? m.tokenizer().encode(item.text(), true, false) : item.ids();
            if (ids.length == 0) throw ApiException.badRequest("input", name + " is empty");
            if (ids.length > maxTokens)
                throw new ApiException(400, "invalid_request_error", "input", "context_length_exceeded",
                        name + " has " + ids.length + " tokens; this model embeds at most " + maxTokens);
            out.add(ids);
        }
        return out;
    }
}
