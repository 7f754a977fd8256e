package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.engine.EngineConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hardening issue's attacks over HTTP, as an attacker and as a careless client would send them
 * (raw sockets where a client library would clean the request up): every answer has the status the
 * issue asks for and no Java name in its body, the engine goes on serving, and a fixed probe request
 * returns the same bits before and after all of it.
 */
@Timeout(300)
class ServerAbuseTest {
    private static final Pattern JAVA_NAMES = Pattern.compile("Exception|java\\.|javax\\.|jakarta\\.|dev\\.lockstep|org\\.eclipse|\\.java:");
    private static final String PROBE = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 12, \"temperature\": 0.9, \"seed\": 7, \"logprobs\": 2}";

    static ServerFixture fx;
    static String probeBefore;
    static final List<String> bodies = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        fx = new ServerFixture(EngineConfig.defaults().withThreads(2).withKvCacheBytes(64L << 20).withMaxRequestTokens(4096),
                OpenAiServer.Options.defaults().withReadDeadlines(1500, 1024));
        probeBefore = probe();
    }

    @AfterAll
    static void stop() throws Exception {
        assertEquals(probeBefore, probe(), "the probe's bits after everything this test threw at the server");
        for (String b : bodies) assertFalse(JAVA_NAMES.matcher(b).find(), "a Java name reached a client: " + b);
        fx.close();
    }

    /** The probe's choice: text, token logprobs and tokens, as JSON (the id and timestamp left out). */
    private static String probe() throws Exception {
        var r = fx.post("/v1/completions", PROBE);
        assertEquals(200, r.statusCode(), r.body());
        return fx.parse(r.body()).get("choices").toString();
    }

    private static String body(int status, String body) {
        bodies.add(body);
        return "status " + status + ": " + body;
    }

    // ------------------------------------------------------------------ a web page driving the server

    @Test
    void postBodiesMustBeJson() throws Exception {
        String[] types = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin-1"};
        for (String type : types) {
            Raw r = raw("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerFixture.KEY
                    + "\r\nContent-Type: " + type + "\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"prompt\": \"x\"}");
            assertEquals(415, r.status, body(r.status, r.body));
            assertTrue(r.body.contains("Content-Type: application/json"), r.body);
        }
        Raw none = raw("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerFixture.KEY
                + "\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"prompt\": \"x\"}");
        assertEquals(415, none.status, body(none.status, none.body));
        Raw ok = raw("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerFixture.KEY
                + "\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: 32\r\nConnection: close\r\n\r\n{\"prompt\": \"x\", \"max_tokens\": 1}");
        assertEquals(200, ok.status, ok.body);
    }

    @Test
    void onlyLoopbackHostNamesAreServed() throws Exception {
        for (String host : new String[]{"evil.example.com", "evil.example.com:" + fx.server.port(), "192.168.1.20", "localhost.evil.com"}) {
            Raw r = raw("GET /v1/models HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + ServerFixture.KEY
                    + "\r\nConnection: close\r\n\r\n");
            assertEquals(421, r.status, body(r.status, r.body));
            assertTrue(r.body.contains("--allowed-host"), r.body);
        }
        for (String host : new String[]{"localhost", "localhost:" + fx.server.port(), "127.0.0.1", "[::1]:8080", "app.localhost"}) {
            Raw r = raw("GET /v1/models HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + ServerFixture.KEY
                    + "\r\nConnection: close\r\n\r\n");
            assertEquals(200, r.status, host + ": " + r.body);
        }
    }

    @Test
    void allowedHostsAndCorsOriginsAreOptIn() throws Exception {
        String preflight = "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example.com\r\n"
                + "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, authorization\r\nConnection: close\r\n\r\n";
        Raw closed = raw(preflight);
        assertFalse(closed.head.toLowerCase().contains("access-control-allow-origin"), "CORS is off by default: " + closed.head);
        try (ServerFixture open = new ServerFixture(EngineConfig.defaults().withThreads(1).withKvCacheBytes(16L << 20),
                OpenAiServer.Options.defaults().withAllowedHosts(List.of("lockstep.internal"))
                        .withCorsOrigins(List.of("https://app.example.com")))) {
            Raw cors = raw(open.server.port(), preflight);
            assertTrue(cors.head.toLowerCase().contains("access-control-allow-origin: https://app.example.com"), cors.head);
            Raw other = raw(open.server.port(), preflight.replace("https://app.example.com", "https://evil.example.com"));
            assertFalse(other.head.toLowerCase().contains("access-control-allow-origin"), other.head);
            Raw named = raw(open.server.port(), "GET /health HTTP/1.1\r\nHost: lockstep.internal\r\nConnection: close\r\n\r\n");
            assertEquals(200, named.status, named.body);
        }
    }

    @Test
    void wrongApiKeysAreRefusedInWords() throws Exception {
        for (String auth : new String[]{"Bearer wrong", "Bearer " + ServerFixture.KEY + "x", "Bearer", "test-key", ""}) {
            Raw r = raw("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (auth.isEmpty() ? "" : "Authorization: " + auth + "\r\n")
                    + "Connection: close\r\n\r\n");
            assertEquals(401, r.status, body(r.status, r.body));
        }
    }

    // ------------------------------------------------------------------ careless JSON

    @Test
    void jsonIsParsedStrictly() throws Exception {
        String[][] cases = {
                {"{\"prompt\": \"x\", \"max_tokens\": 1} trailing", "invalid JSON"},
                {"{\"prompt\": \"x\", \"prompt\": \"y\", \"max_tokens\": 1}", "Duplicate field"},
                {"[" .repeat(200) + "]".repeat(200), "invalid JSON"},
        };
        for (String[] c : cases) {
            var r = fx.post("/v1/completions", c[0]);
            assertEquals(400, r.statusCode(), body(r.statusCode(), r.body()));
            assertTrue(r.body().contains(c[1]), r.body());
        }
        for (byte[] bad : new byte[][]{{(byte) 0xC0, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xFF}}) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.writeBytes("{\"prompt\": \"".getBytes(StandardCharsets.UTF_8));
            b.writeBytes(bad);
            b.writeBytes("\", \"max_tokens\": 1}".getBytes(StandardCharsets.UTF_8));
            Raw r = raw(post("/v1/completions", b.toByteArray()));
            assertEquals(400, r.status, body(r.status, r.body));
            assertTrue(r.body.contains("not valid UTF-8 (at or after byte 12)"), r.body);
        }
    }

    // ------------------------------------------------------------------ templates, grammars, costs

    @Test
    void templateSyntaxInAMessageIsText() throws Exception {
        String injection = "{{ 7*7 }}{% for x in range(99999999) %}{% endfor %}{% include 'dev/lockstep/cli/Main.class' %}";
        var r = fx.post("/tokenize", fx.json.createObjectNode().set("messages", fx.json.createArrayNode()
                .add(fx.json.createObjectNode().put("role", "user").put("content", injection))).toString());
        assertEquals(200, r.statusCode(), r.body());
        var ids = fx.parse(r.body()).get("tokens");
        int[] tokens = new int[ids.size()];
        for (int i = 0; i < tokens.length; i++) tokens[i] = ids.get(i).asInt();
        var back = fx.post("/detokenize", "{\"tokens\": " + ids + "}");
        assertTrue(fx.parse(back.body()).get("prompt").asText().contains(injection), back.body());
    }

    @Test
    void hostileSchemasAreRefusedByNameAndCheapOnesWork() throws Exception {
        StringBuilder props = new StringBuilder();
        for (int i = 0; i < 10_000; i++) props.append(i == 0 ? "" : ", ").append("\"p").append(i).append("\": {\"type\": \"integer\"}");
        String optional = "{\"type\": \"object\", \"properties\": {" + props + "}}";
        var r = fx.post("/v1/chat/completions", chat(optional, 8));
        assertEquals(400, r.statusCode(), body(r.statusCode(), r.body()));
        assertTrue(r.body().contains("parse paths"), r.body());
        String wideInteger = "{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\", \"minimum\": -9999999999999999, "
                + "\"maximum\": 9999999999999999}}, \"required\": [\"n\"]}";
        var ok = fx.post("/v1/chat/completions", chat(wideInteger, 24));
        assertEquals(200, ok.statusCode(), ok.body());
        String deep = "{\"type\": \"object\", \"properties\": {\"a\": ".repeat(80) + "{\"type\": \"integer\"}" + "}}".repeat(80);
        var tooDeep = fx.post("/v1/chat/completions", chat(deep, 8));
        assertEquals(400, tooDeep.statusCode(), body(tooDeep.statusCode(), tooDeep.body()));
        assertTrue(tooDeep.body().contains("nests deeper than"), tooDeep.body());
    }

    private static String chat(String schema, int maxTokens) {
        return "{\"messages\": [{\"role\": \"user\", \"content\": \"JSON please\"}], \"max_tokens\": " + maxTokens
                + ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"s\", \"schema\": " + schema + "}}}";
    }

    @Test
    void aRequestAboveTheCostCapIsRefusedByName() throws Exception {
        var r = fx.post("/v1/completions", "{\"prompt\": [\"x\", \"y\", \"z\"], \"n\": 16, \"max_tokens\": 120}"); // 48 x 123 > 4,096
        assertEquals(400, r.statusCode(), body(r.statusCode(), r.body()));
        JsonNode err = fx.parse(r.body()).get("error");
        assertEquals("n", err.get("param").asText());
        assertTrue(err.get("message").asText().contains("--max-request-tokens"), r.body());
    }

    // ------------------------------------------------------------------ slow clients

    @Test
    void aSlowlorisHeaderIsCutOff() throws Exception {
        try (Socket s = new Socket("127.0.0.1", fx.server.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
            long t0 = System.nanoTime();
            boolean closed = false;
            for (int i = 0; i < 40 && !closed; i++) { // a header byte every 200 ms: never idle, never done
                try {
                    out.write("X-Slow: a\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(200);
                    if (s.getInputStream().available() > 0 && s.getInputStream().read() == -1) closed = true;
                } catch (IOException gone) {
                    closed = true;
                }
            }
            if (!closed) closed = readFully(s.getInputStream()).length == 0;
            assertTrue(closed, "the connection was closed");
            assertTrue(System.nanoTime() - t0 < 8_000_000_000L, "within the deadline (1.5 s) and a sweep, not after 40 headers");
        }
    }

    @Test
    void aBodyTooSlowIsRefusedInWords() throws Exception {
        try (Socket s = new Socket("127.0.0.1", fx.server.port())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerFixture.KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n{\"prompt\": \"")
                    .getBytes(StandardCharsets.US_ASCII));
            String reply = null;
            for (int i = 0; i < 60 && reply == null; i++) { // 10 bytes a second, far under 1,024
                try {
                    out.write("aaaaaaaaaa".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (IOException gone) {
                    break;
                }
                Thread.sleep(1000);
                if (s.getInputStream().available() > 0) reply = new String(readFully(s.getInputStream()), StandardCharsets.UTF_8);
            }
            if (reply == null) reply = new String(readFully(s.getInputStream()), StandardCharsets.UTF_8);
            bodies.add(reply);
            assertTrue(reply.isEmpty() || reply.contains("too slowly") || reply.contains(" 408 "), reply);
        }
    }

    // ------------------------------------------------------------------ malformed HTTP

    @Test
    void malformedRequestsGetNoServerError() throws Exception {
        String[] probes = {
                "GET / HTTP/1.1\r\n\r\n",
                "BLAH /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                "GET /v1/models HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
                "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
                        + "Authorization: Bearer " + ServerFixture.KEY + "\r\nConnection: close\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n",
                "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\nConnection: close\r\n\r\n",
                "GET /v1/models?" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + "b".repeat(40_000) + "\r\nConnection: close\r\n\r\n",
                "GET /%00%ff/../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerFixture.KEY
                        + "\r\nConnection: close\r\n\r\n",
        };
        for (String p : probes) {
            Raw r = raw(p);
            // a client error, or 505 for an HTTP version that does not exist; never a server error of ours
            assertTrue(r.status == 0 || r.status >= 400 && r.status < 500 || r.status == 505,
                    "status " + r.status + " for " + p.lines().findFirst().orElse(p));
            bodies.add(r.body);
        }
    }

    // ------------------------------------------------------------------ a damaged model file

    @TempDir
    static Path dir;

    @Test
    void aTruncatedModelFileMakesHealthSaySoAndRequestsFailFast() throws Exception {
        Path copy = dir.resolve("model.gguf");
        Files.copy(ServerFixture.MODEL, copy);
        try (ServerFixture broken = new ServerFixture(copy, EngineConfig.defaults().withThreads(1).withKvCacheBytes(16L << 20),
                OpenAiServer.Options.defaults(), null)) {
            assertEquals(200, broken.get("/health").statusCode());
            try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                ch.truncate(4096);
            }
            var failed = broken.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 4}");
            assertEquals(503, failed.statusCode(), body(failed.statusCode(), failed.body()));
            var health = broken.get("/health");
            assertEquals(503, health.statusCode());
            assertTrue(health.body().contains("truncated"), health.body());
            long t0 = System.nanoTime();
            var refused = broken.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 4}");
            assertEquals(503, refused.statusCode(), body(refused.statusCode(), refused.body()));
            assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "at once");
        }
    }

    // ------------------------------------------------------------------ raw HTTP

    record Raw(int status, String head, String body) {}

    private static Raw raw(String request) throws IOException {
        return raw(fx.server.port(), request);
    }

    private static Raw raw(byte[] request) throws IOException {
        return raw(fx.server.port(), request);
    }

    private static Raw raw(int port, String request) throws IOException {
        return raw(port, request.getBytes(StandardCharsets.UTF_8));
    }

    private static Raw raw(int port, byte[] request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            String all = new String(readFully(s.getInputStream()), StandardCharsets.UTF_8);
            int split = all.indexOf("\r\n\r\n");
            String head = split < 0 ? all : all.substring(0, split), body = split < 0 ? "" : all.substring(split + 4);
            int status = head.startsWith("HTTP/") && head.length() > 12 ? Integer.parseInt(head.substring(9, 12)) : 0;
            return new Raw(status, head, body);
        }
    }

    private static byte[] post(String path, byte[] body) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ServerFixture.KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        b.writeBytes(body);
        return b.toByteArray();
    }

    private static byte[] readFully(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0; ) b.write(buf, 0, n);
        } catch (SocketTimeoutException | java.net.SocketException e) {
            // what arrived is the answer
        }
        return b.toByteArray();
    }
}
