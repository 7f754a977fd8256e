package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.server.OpenAiServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/** {@code lockstep serve}: the OpenAI-compatible HTTP server. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Serve the model over an OpenAI-compatible HTTP API (chat, completions, tokenize, metrics).")
final class ServeCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--host", paramLabel = "ADDR", description = "interface to bind (default: ${DEFAULT-VALUE}; 0.0.0.0 for all)")
    String host = "127.0.0.1";

    @Option(names = "--port", paramLabel = "N", description = "TCP port (default: ${DEFAULT-VALUE}; 0 = any free port)")
    int port = 8080;

    @Option(names = "--api-key", paramLabel = "KEY", description = "require 'Authorization: Bearer KEY' on every route but /health "
            + "(default: the LOCKSTEP_API_KEY environment variable, if set)")
    String apiKey = System.getenv("LOCKSTEP_API_KEY");

    @Option(names = "--alias", paramLabel = "NAME", description = "model id to serve (default: the file name without .gguf); "
            + "repeatable: the i-th --alias names the i-th --model")
    List<String> aliases = new ArrayList<>();

    @Option(names = "--models-dir", paramLabel = "DIR", description = "serve every .gguf file in DIR too, each named by its file "
            + "name without .gguf (after the --model files; the first model served is the default)")
    Path modelsDir;

    @Option(names = "--models-memory", paramLabel = "SIZE", converter = Sizes.class, description = "memory the loaded models "
            + "(files and KV caches) may take; past it the least recently used idle ones are unloaded (default: 3/4 of RAM)")
    Long modelsMemory;

    @Option(names = "--max-body", paramLabel = "SIZE", converter = Sizes.class, description = "largest request body (default: 4M)")
    Long maxBody;

    @Option(names = "--allowed-host", paramLabel = "NAME", description = "a Host name to serve besides the loopback ones "
            + "(repeatable). Bound to loopback, the server answers other names with 421, so that no web page can reach it "
            + "through DNS rebinding; bound to another address, it serves only these names if any are given")
    java.util.List<String> allowedHosts = new java.util.ArrayList<>();

    @Option(names = "--cors-origin", paramLabel = "ORIGIN", description = "an origin (e.g. https://app.example.com) whose web "
            + "pages may call the API from a browser (repeatable; default: none, CORS off)")
    java.util.List<String> corsOrigins = new java.util.ArrayList<>();

    @Option(names = "--shutdown-grace", paramLabel = "SECONDS", description = "on SIGTERM, time in-flight requests get to finish (default: ${DEFAULT-VALUE})")
    int graceSeconds = 30;

    @Mixin EngineOptions engineOptions;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) throw new LockstepException("--port must be between 0 and 65535, got " + port);
        OpenAiServer.Options o = OpenAiServer.Options.defaults().withHost(host).withPort(port).withApiKey(
                apiKey == null || apiKey.isEmpty() ? null : apiKey);
        if (maxBody != null) o = o.withMaxBodyBytes(maxBody);
        o = o.withAllowedHosts(allowedHosts).withCorsOrigins(corsOrigins);
        var config = engineOptions.toConfig(modelOptions.threads);
        List<OpenAiServer.ModelSource> models = models();
        OpenAiServer server;
        try {
            server = OpenAiServer.start(models, engineOptions.draftModel, config, o, modelsMemory == null ? 0 : modelsMemory);
        } catch (RuntimeException e) {
            throw new LockstepException("cannot listen on " + host + ":" + port + ": " + rootMessage(e));
        }
        try {
            server.awaitReady();
        } catch (LockstepException e) {
            server.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> { // SIGTERM / Ctrl-C: drain, then stop
            spec.commandLine().getErr().println("shutting down: finishing in-flight requests (up to " + graceSeconds + " s)");
            spec.commandLine().getErr().flush();
            server.shutdown(Duration.ofSeconds(graceSeconds));
            stopped.countDown();
        }, "lockstep-shutdown"));
        String served = models.size() == 1 ? "" : "; models " + String.join(", ",
                models.stream().map(OpenAiServer.ModelSource::id).toList()) + ", the first the default";
        spec.commandLine().getErr().printf("listening on http://%s:%d (OpenAI API under /v1%s)%s%n", host, server.port(), served,
                o.apiKey() != null ? ", API key required" : "");
        spec.commandLine().getErr().flush();
        stopped.await();
        return 0;
    }

    /** The --model files (or the default model), then every GGUF in --models-dir, with their ids. */
    private List<OpenAiServer.ModelSource> models() throws IOException {
        List<Path> files = new ArrayList<>(modelOptions.models);
        if (files.isEmpty() && modelsDir == null) files.add(modelOptions.resolve());
        if (aliases.size() > files.size())
            throw new LockstepException("--alias is given " + aliases.size() + " times for " + files.size() + " --model file(s)");
        if (modelsDir != null) {
            if (!Files.isDirectory(modelsDir)) throw new LockstepException("--models-dir " + modelsDir + " is not a directory");
            try (Stream<Path> dir = Files.list(modelsDir)) {
                List<Path> found = dir.filter(p -> p.getFileName().toString().endsWith(".gguf") && Files.isRegularFile(p)).sorted().toList();
                if (found.isEmpty() && files.isEmpty()) throw new LockstepException("--models-dir " + modelsDir + " has no .gguf files");
                files.addAll(found);
            }
        }
        List<OpenAiServer.ModelSource> out = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < files.size(); i++) {
            Path f = files.get(i);
            if (!Files.isRegularFile(f)) throw new LockstepException(f + ": no such model file");
            String id = OpenAiServer.modelId(f, i < aliases.size() ? aliases.get(i) : null);
            if (!ids.add(id)) throw new LockstepException("two models would be named '" + id + "' (" + f + "); give one an --alias");
            out.add(new OpenAiServer.ModelSource(id, f));
        }
        return out;
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null && e.getCause() != e) e = e.getCause();
        return e.getMessage();
    }
}
