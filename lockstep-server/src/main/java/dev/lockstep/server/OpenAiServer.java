package dev.lockstep.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.LockstepException;
import dev.lockstep.engine.Engine;
import dev.lockstep.engine.EngineConfig;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.sampling.SamplingParams;
import dev.lockstep.tokenizer.ChatTemplate;
import dev.lockstep.tokenizer.Tokenizer;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Locale;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The OpenAI-compatible HTTP server: Javalin (Jetty) on virtual threads in front of one {@link Engine}
 * per model ({@link ModelPool}: a request's {@code model} chooses; models load on first use and
 * unload least recently used under a memory budget).
 *
 * <p>A request's path: the route handler parses and validates the JSON ({@link Fields}), tokenizes,
 * submits one engine request per choice ({@link Runs}), then relays the engine's events as a JSON
 * reply or server-sent events. Everything the user can get wrong becomes an OpenAI-shaped error with
 * the offending {@code param}; the model loads in the background while {@code /health} says
 * "loading"; {@link #shutdown(Duration)} drains: no new work, in-flight requests get the grace period,
 * the rest end with an explicit error.
 */
public final class OpenAiServer implements AutoCloseable {
    public static final String ENGINE_VERSION = "lockstep-0.1.0";
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);

    /**
     * @param host          interface to bind (default 127.0.0.1)
     * @param port          TCP port; 0 picks a free one
     * @param apiKey        if set, every route but /health needs {@code Authorization: Bearer <key>}
     * @param alias         the model id to serve (default: the file name without .gguf)
     * @param maxBodyBytes  larger request bodies get 413
     * @param idleMillis    how often a waiting response probes its connection (keep-alive / whitespace)
     * @param allowedHosts  {@code Host} names served besides the loopback ones (which a loopback-bound
     *                      server alone serves otherwise: DNS rebinding); bound elsewhere, if any are
     *                      given, only these
     * @param corsOrigins   origins whose web pages may call the API (CORS); none by default
     * @param headerMillis  a request header must arrive whole within this of the connection opening
     * @param minBodyRate   a request body arriving slower than this (bytes per second) is cut off
     */
    public record Options(String host, int port, String apiKey, String alias, long maxBodyBytes, long idleMillis,
                          List<String> allowedHosts, List<String> corsOrigins, long headerMillis, long minBodyRate) {
        public Options {
            allowedHosts = allowedHosts == null ? List.of() : List.copyOf(allowedHosts);
            corsOrigins = corsOrigins == null ? List.of() : List.copyOf(corsOrigins);
        }

        public static Options defaults() {
            return new Options("127.0.0.1", 8080, null, null, 4L << 20, 2000, List.of(), List.of(), 10_000, 1024);
        }

        public Options withPort(int p) {
            return new Options(host, p, apiKey, alias, maxBodyBytes, idleMillis, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withHost(String h) {
            return new Options(h, port, apiKey, alias, maxBodyBytes, idleMillis, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withApiKey(String k) {
            return new Options(host, port, k, alias, maxBodyBytes, idleMillis, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withAlias(String a) {
            return new Options(host, port, apiKey, a, maxBodyBytes, idleMillis, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withMaxBodyBytes(long b) {
            return new Options(host, port, apiKey, alias, b, idleMillis, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withIdleMillis(long ms) {
            return new Options(host, port, apiKey, alias, maxBodyBytes, ms, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withAllowedHosts(List<String> hosts) {
            return new Options(host, port, apiKey, alias, maxBodyBytes, idleMillis, hosts, corsOrigins, headerMillis, minBodyRate);
        }

        public Options withCorsOrigins(List<String> origins) {
            return new Options(host, port, apiKey, alias, maxBodyBytes, idleMillis, allowedHosts, origins, headerMillis, minBodyRate);
        }

        public Options withReadDeadlines(long headerMillis, long minBodyRate) {
            return new Options(host, port, apiKey, alias, maxBodyBytes, idleMillis, allowedHosts, corsOrigins, headerMillis, minBodyRate);
        }
    }

    private enum State { LOADING, READY, FAILED, DRAINING, STOPPED }

    private final Options options;
    /**
     * Strict JSON: no trailing content after the value, no duplicate keys, nesting at most 128 deep
     * (request bodies are checked for well-formed UTF-8 before, see {@link #readJson}).
     */
    private final ObjectMapper json = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(128).build()).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private final HeaderDeadline headerDeadline;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Javalin app;
    private final AtomicLong ids = new AtomicLong();
    private final AtomicInteger active = new AtomicInteger();
    private final CountDownLatch loaded = new CountDownLatch(1);
    private volatile State state = State.LOADING;
    private volatile String failure;
    private volatile ModelPool pool;
    private volatile EngineConfig engineConfig;
    /** Each loaded model's embedder, made on its first embeddings request, closed when the model unloads. */
    private final java.util.Map<String, dev.lockstep.engine.Embedder> embedders = new java.util.concurrent.ConcurrentHashMap<>();
    private final long startedAt = System.currentTimeMillis() / 1000;

    private OpenAiServer(Options options) {
        this.options = options;
        ChatCompletions chat = new ChatCompletions(this, json);
        TextCompletions text = new TextCompletions(this, json);
        Responses responses = new Responses(this, json);
        Embeddings embeddings = new Embeddings(this, json);
        this.headerDeadline = new HeaderDeadline(options.headerMillis(), Math.max(options.headerMillis(), 60_000));
        this.app = Javalin.create(cfg -> {
            cfg.concurrency.useVirtualThreads = true;
            cfg.startup.showJavalinBanner = false;
            cfg.startup.showOldJavalinVersionWarning = false;
            cfg.http.compressionStrategy = CompressionStrategy.NONE; // streamed chunks must leave at once
            cfg.http.maxRequestSize = options.maxBodyBytes();
            cfg.jetty.host = options.host();
            cfg.jetty.port = options.port();
            cfg.jetty.modifyHttpConfiguration(h -> h.setMinRequestDataRate(options.minBodyRate()));
            if (!options.corsOrigins().isEmpty())
                cfg.bundledPlugins.enableCors(cors -> cors.addRule(rule -> {
                    List<String> o = options.corsOrigins();
                    rule.allowHost(o.getFirst(), o.subList(1, o.size()).toArray(String[]::new));
                }));
            cfg.routes.before(this::checkHost);
            cfg.routes.before(this::authorize);
            cfg.routes.before(this::checkContentType);
            cfg.routes.after(ctx -> headerDeadline.requestEnded(connection(ctx)));
            cfg.routes.get("/", ChatPage::index);
            cfg.routes.get("/ui/{file}", ChatPage::file);
            cfg.routes.get("/webjars/" + ChatPage.MARKED, ChatPage::marked);
            cfg.routes.get("/health", this::health);
            cfg.routes.get("/v1/models", ctx -> {
                checkServing();
                send(ctx, 200, modelList());
            });
            cfg.routes.get("/v1/models/{id}", this::modelInfo);
            cfg.routes.post("/v1/chat/completions", counted(chat::handle));
            cfg.routes.post("/v1/completions", counted(text::handle));
            cfg.routes.post("/v1/responses", counted(responses::handle));
            cfg.routes.post("/v1/embeddings", counted(embeddings::handle));
            cfg.routes.post("/tokenize", this::tokenize);
            cfg.routes.post("/detokenize", this::detokenize);
            cfg.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
            cfg.routes.exception(Exception.class, this::onException);
            cfg.routes.error(404, ctx -> {
                if (ctx.attribute("lockstep.error") == null)
                    reply(ctx, ApiException.notFound("not_found", "no route " + ctx.method() + " " + ctx.path()));
            });
            cfg.routes.error(413, ctx -> {
                if (ctx.attribute("lockstep.error") == null) reply(ctx, tooLarge());
            });
        });
    }

    /** Starts listening at once and loads the model in the background ({@code /health} says when it is ready). */
    public static OpenAiServer start(Path modelPath, EngineConfig config, Options options) {
        return start(modelPath, null, config, options);
    }

    /** As above, with a draft model for speculative decoding ({@code null}: none). */
    public static OpenAiServer start(Path modelPath, Path draftPath, EngineConfig config, Options options) {
        return start(List.of(new ModelSource(modelId(modelPath, options.alias()), modelPath)), draftPath, config, options, 0);
    }

    /** A model file to serve and the id requests name it by. */
    public record ModelSource(String id, Path path) {}

    /**
     * Several models behind one server: the first is the default (for requests without {@code model})
     * and loads at start, in the background; the others load on their first request. Loaded models
     * (their files and KV caches) stay within {@code modelsMemoryBytes} (0: three quarters of the
     * physical memory) by unloading the least recently used idle ones. The draft model, if any, serves
     * the first model only (a draft must share its target's tokenizer).
     */
    public static OpenAiServer start(List<ModelSource> models, Path draftPath, EngineConfig config, Options options,
                                     long modelsMemoryBytes) {
        OpenAiServer s = new OpenAiServer(options);
        long budget = modelsMemoryBytes > 0 ? modelsMemoryBytes : defaultModelsMemory();
        String first = models.getFirst().id();
        s.engineConfig = config;
        s.pool = new ModelPool(models, budget, src -> s.loadModel(src, src.id().equals(first) ? draftPath : null, config));
        s.app.start();
        // Jetty hands a connector's event listeners to each connection it opens (AbstractConnectionFactory)
        for (var connector : s.app.jettyServer().server().getConnectors()) connector.addEventListener(s.headerDeadline);
        Thread.ofPlatform().name("lockstep-loader").daemon(true).start(s::loadDefault);
        return s;
    }

    /** A model's id: its alias, else the file name without {@code .gguf}. */
    public static String modelId(Path path, String alias) {
        if (alias != null) return alias;
        String name = path.getFileName().toString();
        return name.endsWith(".gguf") ? name.substring(0, name.length() - 5) : name;
    }

    /** Three quarters of the physical memory (the JVM's heap is not counted: weights are mapped). */
    static long defaultModelsMemory() {
        var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long total = os instanceof com.sun.management.OperatingSystemMXBean o ? o.getTotalMemorySize() : 0;
        return total > 0 ? total / 4 * 3 : Long.MAX_VALUE;
    }

    /** Test seam: when set, loading waits for it, so tests can observe the "loading" state. */
    static volatile CountDownLatch loadGateForTests;

    /** Loads the default model at start: the server is ready when it is. */
    private void loadDefault() {
        try {
            CountDownLatch gate = loadGateForTests;
            if (gate != null) gate.await();
            try (ModelPool.Lease ignored = pool.acquire(null)) {
                if (state == State.LOADING) state = State.READY;
            }
        } catch (InterruptedException e) {
            failure = "interrupted while loading";
            state = State.FAILED;
        } catch (ApiException e) {
            failure = e.getMessage().replaceFirst("^the model '[^']*' failed to load: ", "");
            state = State.FAILED;
        } catch (RuntimeException e) {
            failure = e.toString();
            state = State.FAILED;
            LOG.error("cannot load the model", e);
        } finally {
            loaded.countDown();
        }
    }

    /** Opens a model file and starts its engine ({@link ModelPool}'s loader). */
    private ModelPool.Loaded loadModel(ModelSource src, Path draftPath, EngineConfig config) throws IOException {
        long t0 = System.nanoTime();
        Path path = src.path();
        GgufFile f = GgufFile.open(path);
        GgufFile df = null;
        try {
            Model m = ModelLoader.load(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            if (tok == null) throw new LockstepException(path + ": the file has no tokenizer; the server needs one");
            ChatTemplate template = ChatTemplate.forModel(f, tok);
            String fp = Fingerprint.of(path, ENGINE_VERSION);
            Model draftModel = null;
            if (draftPath != null) {
                df = GgufFile.open(draftPath);
                draftModel = ModelLoader.load(df);
            }
            Engine engine = new Engine(m, tok, config, draftModel);
            engine.setObserver(metrics.observer(src.id()));
            metrics.bind(engine, src.id());
            ServedModel served = new ServedModel(src.id(), engine, tok, template, fp, System.currentTimeMillis() / 1000);
            long bytes = java.nio.file.Files.size(path) + (draftPath != null ? java.nio.file.Files.size(draftPath) : 0)
                    + engine.kvCacheBytes();
            LOG.info("serving {} as '{}' ({} KV blocks, fingerprint {}) after {} ms", path, src.id(), engine.kvBlocks(), fp,
                    (System.nanoTime() - t0) / 1_000_000);
            GgufFile draftFile = df;
            return new ModelPool.Loaded(served, bytes, () -> {
                engine.shutdown(Duration.ZERO);
                var embedder = embedders.remove(src.id());
                if (embedder != null) embedder.close();
                metrics.unbind(src.id());
                f.close();
                if (draftFile != null) draftFile.close();
                LOG.info("unloaded '{}'", src.id());
            });
        } catch (IOException | RuntimeException e) {
            f.close();
            if (df != null) df.close();
            if (!(e instanceof LockstepException)) LOG.error("cannot load {}", path, e);
            else LOG.error("cannot load the model: {}", e.getMessage());
            throw e;
        }
    }

    /** Waits until the model is loaded; throws with the reason if loading failed. */
    public void awaitReady() throws InterruptedException {
        loaded.await();
        if (state == State.FAILED) throw new LockstepException(failure);
    }

    public int port() {
        return app.port();
    }

    /** The default model's engine, or null while it is not loaded. */
    public Engine engine() {
        ModelPool p = pool;
        ServedModel m = p == null ? null : p.loadedModel(p.defaultId());
        return m == null ? null : m.engine();
    }

    /**
     * Graceful stop: new requests get 503, in-flight ones may finish within {@code grace}; the engine
     * then ends the rest with an error that their handlers send to the clients; then the HTTP server stops.
     */
    public void shutdown(Duration grace) {
        if (state == State.STOPPED) return;
        state = State.DRAINING;
        List<ServedModel> models = pool.loadedModels();
        List<Thread> drains = new java.util.ArrayList<>(); // each engine drains within the same grace period
        for (ServedModel m : models) drains.add(Thread.ofPlatform().start(() -> m.engine().shutdown(grace)));
        for (Thread t : drains) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (active.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        app.stop();
        headerDeadline.close();
        pool.closeAll();
        state = State.STOPPED;
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    // ------------------------------------------------------------------ helpers for the handlers

    /**
     * A lease on the model the request names ({@code model}; absent: the default), loaded if need be.
     * The handler holds it until its reply is done, so the model is not unloaded under the request.
     */
    ModelPool.Lease lease(Fields f) {
        checkServing();
        ModelPool.Lease lease;
        try {
            lease = pool.acquire(f.string("model", null));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("interrupted while loading the model");
        }
        String broken = lease.model().engine().failure();
        if (broken != null) {
            lease.close();
            throw ApiException.unavailable("the engine cannot serve: " + broken);
        }
        return lease;
    }

    /** The embedder of a loaded model (the caller holds its lease), made on first use with the engine's threads and numerics. */
    dev.lockstep.engine.Embedder embedder(ServedModel m) {
        return embedders.computeIfAbsent(m.id(), id -> new dev.lockstep.engine.Embedder(m.engine().model(),
                engineConfig.threads(), engineConfig.activations()));
    }

    void sendJson(Context ctx, JsonNode body) {
        send(ctx, 200, body);
    }

    /** 503 unless the server serves: the default model loaded at start, and no shutdown begun. */
    private void checkServing() {
        switch (state) {
            case LOADING -> throw ApiException.unavailable("the model is still loading; retry when GET /health answers 200");
            case FAILED -> throw ApiException.unavailable("the model failed to load: " + failure);
            case DRAINING, STOPPED -> throw ApiException.unavailable("the server is shutting down");
            case READY -> { }
        }
    }

    long idleMillis() {
        return options.idleMillis();
    }

    String newId(String prefix) {
        return prefix + Long.toHexString(System.currentTimeMillis()) + "-" + ids.incrementAndGet();
    }

    /**
     * Reads the body (at most maxBodyBytes) and parses it strictly: well-formed UTF-8 (no overlong
     * forms, no lone surrogates), one JSON value and nothing after it, no duplicate keys. Bad input is a
     * 400 that says what and where; a body that arrives too slowly or not at all, one that says so in
     * words.
     */
    JsonNode readJson(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > options.maxBodyBytes()) throw tooLarge();
        byte[] body;
        try (InputStream in = ctx.req().getInputStream()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, options.maxBodyBytes() + 1));
        } catch (IOException | RuntimeException e) { // Jetty reports a body too slow as a BadMessageException (408)
            throw ApiException.badRequest(null, bodyReadFailure(e));
        }
        if (body.length > options.maxBodyBytes()) throw tooLarge();
        if (body.length == 0) throw ApiException.badRequest(null, "the request body is empty; send a JSON object");
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body));
        } catch (MalformedInputException e) {
            throw ApiException.badRequest(null, "the request body is not valid UTF-8 (at or after byte " + firstBadByte(body) + ")");
        } catch (CharacterCodingException e) {
            throw ApiException.badRequest(null, "the request body is not valid UTF-8");
        }
        try {
            return json.readTree(body);
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            throw ApiException.badRequest(null, "invalid JSON: the document nests deeper than 128 levels (the limit)");
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest(null, "invalid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")" : ""));
        } catch (IOException e) {
            throw ApiException.badRequest(null, bodyReadFailure(e));
        }
    }

    /** The offset of the first byte a strict UTF-8 decoder refuses. */
    private static int firstBadByte(byte[] b) {
        var dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(b);
        var r = dec.decode(in, java.nio.CharBuffer.allocate(b.length), true);
        return r.isError() ? in.position() : b.length;
    }

    /** What went wrong reading a body, in words (Jetty's exceptions name Java classes). */
    private String bodyReadFailure(Exception e) {
        String m = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        if (m.contains("rate") || m.contains("408")) return "the request body arrived too slowly (less than " + options.minBodyRate() + " bytes per second)";
        if (m.contains("timeout")) return "the request body did not arrive in time (the connection went idle)";
        return "the request body could not be read (the connection broke before it was complete)";
    }

    private ApiException tooLarge() {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "the request body is larger than the limit of " + options.maxBodyBytes() + " bytes");
    }

    /** Submits all choices or none to the model's engine; engine refusals become HTTP errors naming the field. */
    Runs submit(ServedModel model, List<GenerationRequest> reqs, String promptParam) {
        try {
            return Runs.submit(model.engine(), reqs);
        } catch (Engine.RejectedException r) {
            if (!"prompt".equals(r.param()) || promptParam.equals("prompt")) throw r;
            throw new ApiException(400, "invalid_request_error", promptParam,
                    r.kind() == Engine.RejectedException.Kind.TOO_LONG ? "context_length_exceeded" : null, r.getMessage());
        }
    }

    /**
     * Ends a non-streamed reply with the error if {@code f} failed: a 503 while nothing is written yet,
     * else the error body after the leading whitespace. True if it did.
     */
    boolean replyFailure(JsonReply reply, GenerationEvent.Finished f) throws IOException {
        if (!f.reason().failed()) return false;
        ApiException err = engineFailure(f);
        if (reply.committed()) reply.send(errorBody(err));
        else throw err;
        return true;
    }

    /**
     * The HTTP error of a request the engine ended without its answer: 500 {@code server_error} when
     * computing it failed, 400 when it went past a bound while computed (its response format's grammar),
     * 503 when the engine stopped (shut down, or can serve nothing any more).
     */
    static ApiException engineFailure(GenerationEvent.Finished f) {
        String msg = f.message() != null ? f.message() : "the request was cancelled";
        if (f.reason() == dev.lockstep.engine.FinishReason.ERROR)
            return new ApiException(500, "server_error", null, "engine_error", msg);
        if (f.reason() == dev.lockstep.engine.FinishReason.REFUSED)
            return new ApiException(400, "invalid_request_error", "response_format", "limit_exceeded", msg);
        return new ApiException(503, "service_unavailable", null, "engine_unavailable", msg);
    }

    ObjectNode errorBody(ApiException e) {
        ObjectNode o = json.createObjectNode();
        ObjectNode err = o.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type);
        if (e.param != null) err.put("param", e.param);
        else err.putNull("param");
        if (e.code != null) err.put("code", e.code);
        else err.putNull("code");
        return o;
    }

    // ------------------------------------------------------------------ routes

    private Handler counted(Handler h) {
        return ctx -> {
            active.incrementAndGet();
            try {
                h.handle(ctx);
            } finally {
                active.decrementAndGet();
            }
        };
    }

    /**
     * DNS rebinding: a page of any site can point its own host name at 127.0.0.1 and read the replies,
     * unless the server looks at the {@code Host} it was asked for. Bound to loopback, it serves loopback
     * names ({@code localhost}, {@code *.localhost}, {@code 127.x.y.z}, {@code [::1]}) and
     * {@code --allowed-host} names; bound elsewhere, anything unless {@code --allowed-host} lists names.
     * Also starts the request's service time (its header arrived whole).
     */
    private void checkHost(Context ctx) {
        headerDeadline.requestStarted(connection(ctx));
        String host = ctx.header("Host");
        if (host == null) return; // HTTP/1.0 without Host: no browser sends that
        String name = hostName(host);
        boolean loopbackBound = isLoopback(options.host());
        if (options.allowedHosts().stream().anyMatch(a -> a.equalsIgnoreCase(name))) return;
        if (loopbackBound ? isLoopback(name) : options.allowedHosts().isEmpty()) return;
        throw new ApiException(421, "invalid_request_error", null, "misdirected_request", "this server does not serve the host name '"
                + clip(name) + "' (it answers " + (loopbackBound ? "loopback names" : "only its --allowed-host names")
                + "; add others with --allowed-host)");
    }

    /** The name of a Host header: without its port, brackets kept off an IPv6 literal, lower case. */
    static String hostName(String host) {
        String h = host.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(1, end);
        }
        int colon = h.lastIndexOf(':');
        return colon >= 0 && h.indexOf(':') == colon ? h.substring(0, colon) : h;
    }

    static boolean isLoopback(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.startsWith("[") && n.endsWith("]")) n = n.substring(1, n.length() - 1);
        return n.equals("localhost") || n.endsWith(".localhost") || n.equals("::1") || n.equals("0:0:0:0:0:0:0:1")
                || n.matches("127(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}");
    }

    /**
     * POST bodies must be JSON, said so in the header: a browser sends a cross-site "simple" request
     * (text/plain, form encodings) without asking first (no CORS preflight); JSON it does not.
     */
    private void checkContentType(Context ctx) {
        if (!ctx.method().name().equals("POST")) return;
        String type = ctx.header("Content-Type");
        String media = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        if (!media.equals("application/json"))
            throw new ApiException(415, "invalid_request_error", null, "unsupported_media_type", "the request body must be JSON "
                    + "sent as 'Content-Type: application/json' (got " + (type == null ? "no Content-Type" : "'" + clip(type) + "'") + ")");
        for (String param : type.split(";")) {
            String p = param.trim().toLowerCase(Locale.ROOT);
            if (p.startsWith("charset=") && !p.equals("charset=utf-8") && !p.equals("charset=\"utf-8\""))
                throw new ApiException(415, "invalid_request_error", null, "unsupported_media_type",
                        "JSON bodies must be UTF-8: send 'Content-Type: application/json' (got " + clip(p) + ")");
        }
    }

    /** Compared in constant time: how long a wrong key takes to refuse says nothing about the right one. */
    private void authorize(Context ctx) {
        String key = options.apiKey();
        if (key == null || ctx.path().equals("/health") || ChatPage.isPage(ctx.method().name(), ctx.path())) return;
        if (ctx.method().name().equals("OPTIONS")) return; // a CORS preflight carries no credentials (the request after it does)
        String auth = ctx.header("Authorization");
        boolean ok = auth != null && MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8),
                ("Bearer " + key).getBytes(StandardCharsets.UTF_8));
        if (!ok) throw new ApiException(401, "invalid_request_error", null, "invalid_api_key",
                auth == null ? "missing API key: send the header 'Authorization: Bearer <key>'" : "invalid API key");
    }

    /** The Jetty connection a request came on (for the header deadline), or null outside Jetty. */
    private static org.eclipse.jetty.io.Connection connection(Context ctx) {
        try {
            var r = org.eclipse.jetty.ee10.servlet.ServletContextRequest.getServletContextRequest(ctx.req());
            return r == null ? null : r.getConnectionMetaData().getConnection();
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** At most 100 characters of something a client sent, for a message. */
    static String clip(String s) {
        return s.length() <= 100 ? s : s.substring(0, 100) + "...";
    }

    private void health(Context ctx) {
        State s = state;
        ObjectNode o = json.createObjectNode();
        Engine e = s == State.READY ? engine() : null;
        String broken = e != null ? e.failure() : null;
        if (broken != null) {
            send(ctx, 503, o.put("status", "failed").put("error", "the engine cannot serve: " + broken));
            return;
        }
        switch (s) {
            case READY -> o.put("status", "ok");
            case LOADING -> o.put("status", "loading");
            case FAILED -> o.put("status", "failed").put("error", failure);
            case DRAINING, STOPPED -> o.put("status", "shutting_down");
        }
        send(ctx, s == State.READY ? 200 : 503, o);
    }

    private ObjectNode modelObject(ServedModel m) {
        ObjectNode o = json.createObjectNode();
        o.put("id", m.id());
        o.put("object", "model");
        o.put("created", m.created());
        o.put("owned_by", "lockstep");
        o.put("max_model_len", m.contextLength());
        return o;
    }

    /** Every model served; the loaded ones with their context length, all with whether they are loaded. */
    private ObjectNode modelList() {
        ObjectNode o = json.createObjectNode();
        o.put("object", "list");
        var data = o.putArray("data");
        for (String id : pool.ids()) data.add(modelObject(id));
        return o;
    }

    private ObjectNode modelObject(String id) {
        ServedModel m = pool.loadedModel(id);
        if (m != null) return modelObject(m).put("loaded", true);
        ObjectNode o = json.createObjectNode();
        o.put("id", id);
        o.put("object", "model");
        o.put("created", startedAt);
        o.put("owned_by", "lockstep");
        o.put("loaded", false);
        return o;
    }

    private void modelInfo(Context ctx) {
        checkServing();
        String id = ctx.pathParam("id");
        if (!pool.ids().contains(id))
            throw ApiException.notFound("model_not_found", "the model '" + clip(id) + "' does not exist");
        send(ctx, 200, modelObject(id));
    }

    /** vLLM's shape ({@code prompt} or {@code messages} in, {@code tokens} out); llama.cpp's {@code content} works too. */
    private void tokenize(Context ctx) {
        Fields f = new Fields(readJson(ctx));
        f.only(Set.of("model", "prompt", "content", "messages", "add_generation_prompt", "add_special_tokens"));
        try (ModelPool.Lease lease = lease(f)) {
            tokenize(ctx, f, lease.model());
        }
    }

    private void tokenize(Context ctx, Fields f, ServedModel m) {
        int[] ids;
        if (f.has("messages")) {
            ObjectNode chat = json.createObjectNode();
            chat.set("messages", f.node("messages"));
            ids = m.tokenizer().encodeChat(m.template().render(ChatCompletions.messages(new Fields(chat)),
                    f.bool("add_generation_prompt", true)));
        } else {
            String text = f.has("prompt") ? f.string("prompt", "") : f.string("content", null);
            if (text == null) throw ApiException.badRequest("prompt", "prompt (or content, or messages) is required");
            ids = m.tokenizer().encode(text, f.bool("add_special_tokens", true), true);
        }
        ObjectNode o = json.createObjectNode();
        var arr = o.putArray("tokens");
        for (int t : ids) arr.add(t);
        o.put("count", ids.length);
        o.put("max_model_len", m.contextLength());
        send(ctx, 200, o);
    }

    private void detokenize(Context ctx) {
        Fields f = new Fields(readJson(ctx));
        f.only(Set.of("model", "tokens"));
        try (ModelPool.Lease lease = lease(f)) {
            detokenize(ctx, f, lease.model());
        }
    }

    private void detokenize(Context ctx, Fields f, ServedModel m) {
        JsonNode t = f.node("tokens");
        if (t == null) throw ApiException.badRequest("tokens", "tokens is required");
        if (!t.isArray()) throw Fields.wrongType("tokens", "a list of token ids", t);
        int[] ids = Fields.tokenIds(t, "tokens", m.engine().model().vocabSize());
        String text = m.tokenizer().decode(ids);
        ObjectNode o = json.createObjectNode();
        o.put("prompt", text);
        o.put("content", text);
        send(ctx, 200, o);
    }

    // ------------------------------------------------------------------ errors

    private void onException(Exception e, Context ctx) {
        ApiException api = switch (e) {
            case ApiException a -> a;
            case Engine.RejectedException r -> switch (r.kind()) {
                case INVALID -> ApiException.badRequest(r.param(), r.getMessage());
                case TOO_LONG -> new ApiException(400, "invalid_request_error", r.param(), "context_length_exceeded", r.getMessage());
                case QUEUE_FULL -> new ApiException(429, "rate_limit_error", null, "queue_full", r.getMessage());
                case SHUTTING_DOWN, UNAVAILABLE -> ApiException.unavailable(r.getMessage());
            };
            case SamplingParams.InvalidParameterException p -> ApiException.badRequest(p.param(), p.getMessage());
            case ChatTemplate.ChatTemplateException t -> ApiException.badRequest("messages", t.getMessage());
            case LockstepException l -> ApiException.badRequest(null, l.getMessage());
            case io.javalin.http.HttpResponseException h -> new ApiException(h.getStatus(), "invalid_request_error", null, null,
                    h.getMessage());
            case org.eclipse.jetty.http.HttpException h when h.getCode() >= 400 && h.getCode() < 500 ->
                    new ApiException(h.getCode(), "invalid_request_error", null, null, "the request is malformed"
                            + (h.getReason() == null ? "" : ": " + clip(h.getReason())));
            default -> {
                LOG.error("internal error on {} {}", ctx.method(), ctx.path(), e);
                yield new ApiException(500, "server_error", null, "internal_error", "internal error; the server log has the details");
            }
        };
        if (api.status == 413) api = tooLarge();
        if (api.status == 429) ctx.header("Retry-After", "1");
        reply(ctx, api);
    }

    /**
     * Serializes here rather than through ctx.json(): Javalin may stream JSON through a pipe fed by the
     * common fork-join pool, which a blocked task (e.g. a shutdown) can starve.
     */
    private void send(Context ctx, int status, JsonNode body) {
        try {
            ctx.status(status).contentType("application/json").result(json.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private void reply(Context ctx, ApiException e) {
        metrics.httpError();
        ctx.attribute("lockstep.error", Boolean.TRUE);
        if (ctx.res().isCommitted()) return; // mid-stream: the stream already carries the error or is gone
        send(ctx, e.status, errorBody(e));
    }
}
