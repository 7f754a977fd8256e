package dev.lockstep.server;

import dev.lockstep.Fixtures;
import dev.lockstep.engine.EngineConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The chat page at {@code /}, used in a real headless browser: Debian's chromium driven by
 * playwright-core ({@code tools/chat-page-test/chat-page.test.mjs}, which says what it checks). The
 * browser and the npm package are installed by {@code tools/chat-page-test/setup}; missing, the test
 * fails and says so.
 */
class ChatPageBrowserTest {
    /** A seed whose reply to the stop step's request runs to hundreds of tokens (492 on the long-context copy). */
    static final int LONG_SEED = 12;

    @Test
    void theChatPageWorksInABrowser(@TempDir Path tmp) throws Exception {
        Path root = Fixtures.projectRoot();
        Path script = root.resolve("tools/chat-page-test/chat-page.test.mjs");
        String chromium = System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium");
        if (!Files.isExecutable(Path.of(chromium)) || !Files.isDirectory(root.resolve("tools/chat-page-test/node_modules/playwright-core")))
            fail("the browser test needs Debian's chromium at " + chromium + " and playwright-core in tools/chat-page-test/node_modules: "
                    + "run tools/chat-page-test/setup (bin/test does)");
        Path model = ToolCallsTest.copy(tmp.resolve("long.gguf"), null, 4096);
        EngineConfig cfg = EngineConfig.defaults().withThreads(2).withKvCacheBytes(64L << 20);
        // as a user runs it: no API key (and a second server with one, whose page asks for it)
        OpenAiServer open = OpenAiServer.start(model, cfg, OpenAiServer.Options.defaults().withPort(0));
        OpenAiServer keyed = OpenAiServer.start(model, cfg, OpenAiServer.Options.defaults().withPort(0).withApiKey("secret-key"));
        try {
            open.awaitReady();
            keyed.awaitReady();
            String openUrl = "http://127.0.0.1:" + open.port() + "/", keyedUrl = "http://127.0.0.1:" + keyed.port() + "/";
            // the page is served without the key, with a policy that runs only its own scripts; the API still needs the key
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            HttpResponse<String> page = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(keyedUrl)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, page.statusCode());
            assertTrue(page.headers().firstValue("Content-Security-Policy").orElse("").contains("script-src 'self'"));
            assertEquals(401, http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(keyedUrl + "v1/models")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            ProcessBuilder pb = new ProcessBuilder("node", script.toString()).redirectErrorStream(true);
            pb.environment().put("LOCKSTEP_URL", openUrl);
            pb.environment().put("LOCKSTEP_KEY_URL", keyedUrl);
            pb.environment().put("LOCKSTEP_LONG_SEED", Integer.toString(LONG_SEED));
            pb.environment().put("CHROMIUM", chromium);
            Process p = pb.start();
            byte[] out;
            if (!p.waitFor(240, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("the browser test took more than 240 s: " + new String(p.getInputStream().readNBytes(1 << 16), StandardCharsets.UTF_8));
            }
            out = p.getInputStream().readAllBytes();
            String log = new String(out, StandardCharsets.UTF_8);
            System.out.println(log);
            assertEquals(0, p.exitValue(), log);
            assertTrue(log.strip().endsWith("ok"), log);
        } catch (IOException e) {
            fail("cannot run node (the browser test needs Node.js): " + e.getMessage());
        } finally {
            open.close();
            keyed.close();
        }
    }
}
