package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import dev.lockstep.Fixtures;
import dev.lockstep.engine.EngineConfig;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

/** A server on a free port over the fixtures' real trained 260K model, plus clients for it. */
final class ServerFixture implements AutoCloseable {
    static final String KEY = "test-key";
    static final Path MODEL = Fixtures.file("aidreams/aidreams260K-f32.gguf");
    static final String MODEL_ID = "aidreams260K-f32";

    final OpenAiServer server;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    final ObjectMapper json = new ObjectMapper();

    ServerFixture(EngineConfig cfg, OpenAiServer.Options options) throws InterruptedException {
        this(cfg, options, null);
    }

    ServerFixture(EngineConfig cfg, OpenAiServer.Options options, Path draft) throws InterruptedException {
        this(MODEL, cfg, options, draft);
    }

    ServerFixture(Path model, EngineConfig cfg, OpenAiServer.Options options, Path draft) throws InterruptedException {
        server = OpenAiServer.start(model, draft, cfg, options.withPort(0).withApiKey(KEY).withIdleMillis(100));
        server.awaitReady();
    }

    /** Several models behind one server, within a memory budget for the loaded ones (0: the default). */
    ServerFixture(java.util.List<OpenAiServer.ModelSource> models, EngineConfig cfg, long modelsMemory) throws InterruptedException {
        server = OpenAiServer.start(models, null, cfg, OpenAiServer.Options.defaults().withPort(0).withApiKey(KEY).withIdleMillis(100),
                modelsMemory);
        server.awaitReady();
    }

    ServerFixture() throws InterruptedException {
        this(EngineConfig.defaults().withThreads(2).withKvCacheBytes(64L << 20), OpenAiServer.Options.defaults());
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder().baseUrl(base() + "/v1").apiKey(KEY).maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(base() + path)).header("Authorization", "Bearer " + KEY)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(base() + path)).header("Authorization", "Bearer " + KEY).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    JsonNode parse(String s) throws IOException {
        return json.readTree(s);
    }

    /** Sum of a Prometheus series (all label sets) from /metrics. */
    double metric(String name) throws IOException, InterruptedException {
        double sum = 0;
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith("#")) continue;
            String series = line.substring(0, line.lastIndexOf(' '));
            String bare = series.contains("{") ? series.substring(0, series.indexOf('{')) : series;
            if (bare.equals(name)) sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return sum;
    }

    @Override
    public void close() {
        server.close();
    }
}
