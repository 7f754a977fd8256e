package dev.lockstep.server;

import dev.lockstep.convert.QuantPolicy;
import dev.lockstep.convert.Synthesizer;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Disconnects, a full queue and graceful shutdown. These need requests that stay in flight for a while,
 * so the server runs a synthesized 30M-parameter model (seeded random weights, the fixture's tokenizer)
 * on one thread with room for only two running sequences.
 */
class ServerLifecycleTest {
    @TempDir
    static Path dir;
    static Path model;
    OpenAiServer server;
    int port;

    @BeforeAll
    static void synthesize() {
        model = dir.resolve("slow.gguf");
        Synthesizer.write(Synthesizer.preset("small", null), QuantPolicy.parse("Q8_0", false), 11,
                ServerFixture.MODEL, model, b -> {});
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    private void start(int maxWaiting) throws InterruptedException {
        EngineConfig cfg = EngineConfig.defaults().withThreads(1).withMaxSeqs(2).withMaxWaiting(maxWaiting)
                .withKvCacheBytes(64L << 20);
        server = OpenAiServer.start(model, cfg, OpenAiServer.Options.defaults().withPort(0).withIdleMillis(50));
        server.awaitReady();
        port = server.port();
    }

    private String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    private static String completion(int maxTokens, int n, boolean stream) {
        return "{\"prompt\": \"Once upon a time\", \"max_tokens\": " + maxTokens + ", \"n\": " + n
                + ", \"ignore_eos\": true, \"temperature\": 0, \"stream\": " + stream + "}";
    }

    private CompletableFuture<HttpResponse<String>> postAsync(HttpClient http, String path, String body) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(url(path))).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A streaming request on a raw socket, so the test decides exactly when the client goes away. */
    private Socket openStream(String body, int dataLines) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        OutputStream out = s.getOutputStream();
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        assertTrue(in.readLine().contains("200"));
        int seen = 0;
        for (String line; seen < dataLines && (line = in.readLine()) != null; )
            if (line.startsWith("data:") || line.startsWith(":")) seen++;
        return s;
    }

    private static void await(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out waiting for: " + what);
            Thread.sleep(10);
        }
    }

    @Test
    void aClientThatDisconnectsIsCancelledAndItsBlocksFreed() throws Exception {
        start(16);
        Engine engine = server.engine();
        HttpClient http = HttpClient.newHttpClient();
        // two long requests occupy both running slots
        CompletableFuture<HttpResponse<String>> blocker = postAsync(http, "/v1/completions", completion(400, 2, false));
        await("the blocker runs", () -> engine.stats().running() == 2);

        // a queued request whose client leaves: noticed through keep-alive writes, cancelled while still waiting
        Socket queued = openStream(completion(50, 1, true), 2);
        assertEquals(1, engine.stats().waiting());
        queued.close();
        await("the queued request is cancelled", () -> engine.stats().waiting() == 0);
        assertFalse(blocker.isDone(), "cancelled while the blocker was still running, not served and finished");
        assertEquals(200, blocker.get().statusCode());
        await("the blocker's blocks are freed", () -> engine.stats().kvBlocksUsed() == 0);

        // a running request whose client leaves mid-stream
        long generatedBefore = engine.stats().generatedTokens();
        Socket running = openStream(completion(1000, 1, true), 4);
        await("it runs", () -> engine.stats().running() == 1);
        running.close();
        await("the running request is cancelled and its blocks freed",
                () -> engine.stats().running() == 0 && engine.stats().kvBlocksUsed() == 0);
        assertTrue(engine.stats().generatedTokens() - generatedBefore < 1000, "it stopped early");
        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(url("/metrics"))).build(),
                HttpResponse.BodyHandlers.ofString());
        // labelled by model (the file name without .gguf: slow) and reason
        assertTrue(metrics.body().contains("lockstep_requests_finished_total{model=\"slow\",reason=\"cancelled\"} 2.0"),
                metrics.body());
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        start(1); // one request queued at most, however many choices it has
        Engine engine = server.engine();
        HttpClient http = HttpClient.newHttpClient();
        CompletableFuture<HttpResponse<String>> running = postAsync(http, "/v1/completions", completion(60, 2, false));
        await("two running", () -> engine.stats().running() == 2);
        CompletableFuture<HttpResponse<String>> queued = postAsync(http, "/v1/completions", completion(5, 2, false));
        await("two waiting", () -> engine.stats().waiting() == 2); // the two choices of one queued request
        HttpResponse<String> refused = postAsync(http, "/v1/completions", completion(5, 1, false)).get();
        assertEquals(429, refused.statusCode(), refused.body());
        assertEquals("1", refused.headers().firstValue("Retry-After").orElseThrow());
        assertTrue(refused.body().contains("queue is full"), refused.body());
        assertEquals(200, running.get().statusCode());
        assertEquals(200, queued.get().statusCode());
    }

    @Test
    void shutdownDrainsThenEndsTheRestWithAnExplicitError() throws Exception {
        start(16);
        Engine engine = server.engine();
        HttpClient http = HttpClient.newHttpClient();
        CompletableFuture<HttpResponse<String>> longOne = postAsync(http, "/v1/completions", completion(3000, 1, false));
        await("the first long request runs", () -> engine.stats().running() == 1);
        CompletableFuture<HttpResponse<String>> shortOne = postAsync(http, "/v1/completions", completion(8, 1, false));
        await("the short request runs", () -> engine.stats().running() == 2);
        CompletableFuture<HttpResponse<String>> longStream = postAsync(http, "/v1/completions", completion(3000, 1, true));
        await("the streamed one waits", () -> engine.stats().waiting() == 1);

        CompletableFuture<Void> shutdown = new CompletableFuture<>();
        Thread.ofPlatform().name("test-shutdown").start(() -> { // as the SIGTERM hook does, on a thread of its own
            server.shutdown(Duration.ofMillis(1500));
            shutdown.complete(null);
        });
        Thread.sleep(200);
        HttpResponse<String> during = postAsync(http, "/v1/completions", completion(4, 1, false)).get();
        assertEquals(503, during.statusCode(), "no new work while draining");
        assertTrue(during.body().contains("shutting down"), during.body());
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(url("/health"))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(503, health.statusCode());

        shutdown.get();
        assertEquals(200, shortOne.get().statusCode(), "a request that fits in the grace period finishes");
        assertTrue(shortOne.get().body().contains("\"finish_reason\":\"length\""));
        String longBody = longOne.get().body();
        assertTrue(longBody.contains("\"error\"") && longBody.contains("shut down"), "explicit error, got: " + longBody);
        String streamBody = longStream.get().body();
        assertTrue(streamBody.contains("\"error\"") && streamBody.contains("shut down"), "explicit error, got: " + streamBody);
        server = null;
    }

    @Test
    void whileLoadingHealthAndRequestsAnswer503() throws Exception {
        java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        OpenAiServer.loadGateForTests = gate;
        try {
            server = OpenAiServer.start(model, EngineConfig.defaults().withThreads(1).withKvCacheBytes(16L << 20),
                    OpenAiServer.Options.defaults().withPort(0));
            port = server.port();
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(url("/health"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode());
            assertTrue(health.body().contains("\"loading\""), health.body());
            HttpResponse<String> early = postAsync(http, "/v1/completions", completion(4, 1, false)).get();
            assertEquals(503, early.statusCode());
            assertTrue(early.body().contains("still loading"), early.body());
            gate.countDown();
            server.awaitReady();
            health = http.send(HttpRequest.newBuilder(URI.create(url("/health"))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
        } finally {
            OpenAiServer.loadGateForTests = null;
            gate.countDown();
        }
    }
}
