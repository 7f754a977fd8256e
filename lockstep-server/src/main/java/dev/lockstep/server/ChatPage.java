package dev.lockstep.server;

import io.javalin.http.Context;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Set;

/**
 * The chat page at {@code /}: plain ES modules and CSS from the jar ({@code web/}), and the one
 * front-end library it uses (marked, the WebJar {@code org.webjars.npm:marked}) from its jar. No Node
 * toolchain at build or run time. The page is served without the API key (it asks for one when the
 * API answers 401) and with a Content-Security-Policy that runs only this origin's scripts, so model
 * output rendered as Markdown cannot run code.
 */
final class ChatPage {
    private ChatPage() {}

    static final String MARKED = "marked/15.0.7/lib/marked.esm.js";
    private static final Set<String> FILES = Set.of("index.html", "app.js", "style.css");
    private static final Map<String, String> TYPES = Map.of("html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8", "css", "text/css; charset=utf-8");
    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            + "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /** Whether {@code path} is part of the page (served without the API key). */
    static boolean isPage(String method, String path) {
        return method.equals("GET") && (path.equals("/") || path.startsWith("/ui/") || path.equals("/webjars/" + MARKED));
    }

    static void index(Context ctx) throws IOException {
        send(ctx, "web/index.html", "html");
    }

    static void file(Context ctx) throws IOException {
        String name = ctx.pathParam("file");
        if (!FILES.contains(name)) throw ApiException.notFound("not_found", "no page file " + OpenAiServer.clip(name));
        send(ctx, "web/" + name, name.substring(name.lastIndexOf('.') + 1));
    }

    static void marked(Context ctx) throws IOException {
        send(ctx, "META-INF/resources/webjars/" + MARKED, "js");
    }

    private static void send(Context ctx, String resource, String ext) throws IOException {
        try (InputStream in = ChatPage.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("the page resource " + resource + " is missing from the jar");
            ctx.header("Content-Security-Policy", CSP);
            ctx.header("X-Content-Type-Options", "nosniff");
            ctx.header("Cache-Control", "no-cache");
            ctx.contentType(TYPES.get(ext)).result(in.readAllBytes());
        }
    }
}
