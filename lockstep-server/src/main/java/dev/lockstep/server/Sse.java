package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A server-sent-events response: {@code data: <json>} events, keep-alive comments while the engine is
 * busy elsewhere (a write to a closed connection is how a disconnect is noticed), and the final
 * {@code data: [DONE]}.
 */
final class Sse {
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final ObjectMapper json;
    private final OutputStream out;

    Sse(Context ctx, ObjectMapper json) throws IOException {
        this.json = json;
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        this.out = ctx.res().getOutputStream();
        out.flush(); // commit the headers now: the client sees the stream open
    }

    void data(JsonNode event) throws IOException {
        byte[] body = json.writeValueAsBytes(event);
        byte[] msg = new byte[body.length + 8];
        System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, msg, 0, 6);
        System.arraycopy(body, 0, msg, 6, body.length);
        msg[msg.length - 2] = '\n';
        msg[msg.length - 1] = '\n';
        out.write(msg);
        out.flush();
    }

    /** {@code event: <name>} then {@code data: <json>}: the Responses API's named events. */
    void event(String name, JsonNode event) throws IOException {
        out.write(("event: " + name + "\n").getBytes(StandardCharsets.UTF_8));
        data(event);
    }

    /** The end of a stream that has no {@code [DONE]} (the Responses API ends with its last event). */
    void close() {
        try {
            out.flush();
        } catch (IOException gone) {
            // the client went away after the last event
        }
    }

    void keepAlive() throws IOException {
        out.write(KEEP_ALIVE);
        out.flush();
    }

    void done() throws IOException {
        out.write(DONE);
        out.flush();
    }

    /**
     * The end of a stream: the usage chunk (if asked for and nothing failed), then {@code [DONE]}. A client
     * that left after the last token is no error: nothing runs any more.
     */
    void finish(JsonNode usageChunk) {
        try {
            if (usageChunk != null) data(usageChunk);
            done();
        } catch (IOException gone) {
            // the client went away after its last token
        }
    }
}
