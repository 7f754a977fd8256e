package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A non-streaming JSON response for a long generation. While the engine works, the reply stays
 * uncommitted so an error can still choose its status; after {@link #idle()} is first called (no
 * events for a while) it commits 200 and sends a space (JSON allows leading whitespace) on each later
 * idle tick, which is how a client that hung up is noticed and its request cancelled. An error after
 * that point is sent as the OpenAI error object in the 200 body.
 */
final class JsonReply {
    private final Context ctx;
    private final ObjectMapper json;
    private OutputStream out;

    JsonReply(Context ctx, ObjectMapper json) {
        this.ctx = ctx;
        this.json = json;
    }

    boolean committed() {
        return out != null;
    }

    void idle() throws IOException {
        if (out == null) {
            ctx.status(200);
            ctx.res().setContentType("application/json");
            out = ctx.res().getOutputStream();
        }
        out.write(' ');
        out.flush();
    }

    void send(JsonNode body) throws IOException {
        if (out == null) {
            ctx.status(200);
            ctx.res().setContentType("application/json");
            out = ctx.res().getOutputStream();
        }
        out.write(json.writeValueAsBytes(body));
        out.flush();
    }
}
