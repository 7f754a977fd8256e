package dev.lockstep.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.server.OpenAiServer;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The chat page's "CLI" command: a chat reply of the server, reproduced from the command line with
 * {@code generate --prompt-ids <the reply's prompt_token_ids> --seed <its seed>} and the same sampling,
 * is the same text.
 */
class ReproduceReplyTest {
    @Test
    void aServedChatReplyIsReproducedByGenerate() throws Exception {
        String model = Fixtures.file("aidreams/aidreams260K-f32.gguf").toString();
        OpenAiServer server = OpenAiServer.start(java.nio.file.Path.of(model), EngineConfig.defaults().withThreads(2)
                .withKvCacheBytes(16L << 20), OpenAiServer.Options.defaults().withPort(0));
        try {
            server.awaitReady();
            for (int seed : new int[]{3, 11}) {
                String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"Once upon a time\"}], \"seed\": " + seed
                        + ", \"temperature\": 0.8, \"top_p\": 0.95, \"top_k\": 40, \"max_tokens\": 30, \"return_token_ids\": true}";
                HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                        + "/v1/chat/completions")).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(), HttpResponse.BodyHandlers.ofString());
                JsonNode reply = new ObjectMapper().readTree(r.body());
                List<String> ids = new ArrayList<>();
                for (JsonNode id : reply.get("prompt_token_ids")) ids.add(id.asText());
                CliTest.Result g = CliTest.run(null, "generate", "--model", model, "--prompt-ids", String.join(",", ids), "--seed",
                        Integer.toString(seed), "--temperature", "0.8", "--top-p", "0.95", "--top-k", "40", "--min-p", "0", "-n", "30",
                        "--no-echo", "--threads", "2");
                assertEquals(0, g.code(), g.err());
                String out = g.out().endsWith("\n") ? g.out().substring(0, g.out().length() - 1) : g.out(); // generate ends the line
                assertEquals(reply.at("/choices/0/message/content").asText(), out, "seed " + seed);
            }
        } finally {
            server.close();
        }
    }
}
