package dev.blender.runtime.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.chat.ChatTemplateException;
import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.BlendService;
import dev.blender.runtime.pipeline.Blender;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link Blender} served over HTTP with OpenAI's API: {@code GET /v1/models},
 * {@code POST /v1/chat/completions}, {@code POST /v1/completions} (streamed as server-sent events or
 * not) and {@code GET /health}.
 *
 * <pre>{@code
 * try (Blender blender = Blender.create(config);
 *      BlenderServer server = BlenderServer.builder(blender).port(8080).build().start()) {
 *     server.awaitClosed();
 * }
 * }</pre>
 *
 * <p>The socket is listening as soon as {@link #start()} returns; the models load in the background
 * meanwhile, and completions are answered 503 (with {@code Retry-After}) until they are loaded.
 * {@code maxConcurrent} blends run at once on worker threads; up to {@code maxQueue} more wait, and a
 * request beyond that is answered 429 at once. A client that disconnects cancels its request before
 * its next decode step. {@link #close()} stops accepting, finishes the requests already accepted (up to
 * {@code shutdownTimeout}, then cancels them) and returns when every thread it started has ended; the
 * blender stays open (it is the caller's).
 */
public final class BlenderServer implements AutoCloseable, HttpConnection.Handler {
    private static final System.Logger LOG = System.getLogger("dev.blender.server");
    private static final int RETRY_AFTER_SECONDS = 1;

    /** Counts since the server started. */
    public record Stats(long completed, long cancelled, long rejected, long failed, int running, int queued) {}

    private enum State { LOADING, READY, FAILED }

    private final BlendService blender;
    private final String host;
    private final int requestedPort;
    private final int maxConcurrent;
    private final int maxQueue;
    private final byte[] apiKey;
    private final Duration shutdownTimeout;
    private final int maxBodyBytes;
    private final int idleTimeoutMillis;
    private final int maxConnections;
    private final Runnable loader;
    private final ServedModels models;
    private final ObjectMapper mapper = new ObjectMapper();
    private final Responses responses = new Responses(mapper);
    private final long created = System.currentTimeMillis() / 1000;

    private final Set<HttpConnection> connections = ConcurrentHashMap.newKeySet();
    /** Accepted blend requests, queued or running; guarded by itself. */
    private final Set<Exchange> inFlight = new HashSet<>();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong cancelled = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicInteger loadedModels = new AtomicInteger();
    private final AtomicInteger totalModels = new AtomicInteger();
    private final CountDownLatch closedLatch = new CountDownLatch(1);
    private volatile State state = State.LOADING;
    private volatile String loadProblem;
    private volatile boolean closing;
    /** Tokens a cancelled request's listener still saw after its client had left (for tests: at most one step). */
    volatile int lastTokensAfterClientLeft = -1;
    private ServerSocket serverSocket;
    private ThreadPoolExecutor workers;
    private Thread acceptor;
    private Thread warmUp;

    private BlenderServer(Builder b) {
        this.blender = b.blender;
        this.host = b.host;
        this.requestedPort = b.port;
        this.maxConcurrent = b.maxConcurrent;
        this.maxQueue = b.maxQueue;
        this.apiKey = b.apiKey == null ? null : b.apiKey.getBytes(StandardCharsets.UTF_8);
        this.shutdownTimeout = b.shutdownTimeout;
        this.maxBodyBytes = b.maxBodyBytes;
        this.idleTimeoutMillis = b.idleTimeoutMillis;
        this.maxConnections = b.maxConnections;
        this.loader = b.loader != null ? b.loader : () -> blender.warmUp((done, total, file) -> {
            loadedModels.set(done);
            totalModels.set(total);
        });
        this.models = ServedModels.of(b.modelId, blender.config());
    }

    /** A server for {@code blender} (a {@link Blender}, or your own {@link BlendService}). */
    public static Builder builder(BlendService blender) {
        return new Builder(blender);
    }

    /** Settings of a server; every value is checked when set. */
    public static final class Builder {
        private final BlendService blender;
        private String host = "127.0.0.1";
        private int port = 8080;
        private int maxConcurrent = 1;
        private int maxQueue = 64;
        private String apiKey;
        private String modelId = "blender";
        private Duration shutdownTimeout = Duration.ofSeconds(60);
        private int maxBodyBytes = 16 << 20;
        private int idleTimeoutMillis = 60_000;
        private int maxConnections = 1024;
        private Runnable loader;

        private Builder(BlendService blender) {
            this.blender = Objects.requireNonNull(blender, "blender");
        }

        /** The address to listen on: loopback by default; {@code 0.0.0.0} or a LAN address listens wider. */
        public Builder host(String h) {
            this.host = Objects.requireNonNull(h, "host");
            return this;
        }

        /** The port; 0 picks a free one ({@link BlenderServer#port()} tells which). */
        public Builder port(int p) {
            if (p < 0 || p > 65535) {
                throw new IllegalArgumentException("port must be in [0, 65535], was " + p);
            }
            this.port = p;
            return this;
        }

        /** Blends that run at once (default 1: on a CPU, two blends share the same cores). */
        public Builder maxConcurrent(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxConcurrent must be >= 1, was " + n);
            }
            this.maxConcurrent = n;
            return this;
        }

        /** Requests that may wait for a worker; one more is answered 429 (default 64). */
        public Builder maxQueue(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxQueue must be >= 0, was " + n);
            }
            this.maxQueue = n;
            return this;
        }

        /** Requires {@code Authorization: Bearer KEY} on every {@code /v1/} request; null = no check. */
        public Builder apiKey(String key) {
            if (key != null && key.isBlank()) {
                throw new IllegalArgumentException("the API key is empty");
            }
            this.apiKey = key;
            return this;
        }

        /** The blend's model id (default {@code blender}). */
        public Builder modelId(String id) {
            if (id == null || id.isBlank()) {
                throw new IllegalArgumentException("modelId must not be empty");
            }
            this.modelId = id;
            return this;
        }

        /** How long {@link BlenderServer#close()} lets accepted requests finish before cancelling them. */
        public Builder shutdownTimeout(Duration d) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("shutdownTimeout must be >= 0, was " + d);
            }
            this.shutdownTimeout = d;
            return this;
        }

        /** How a test stands in for loading the models (to hold the server in its loading state). */
        Builder loader(Runnable r) {
            this.loader = r;
            return this;
        }

        public BlenderServer build() {
            return new BlenderServer(this);
        }
    }

    /**
     * Binds the socket and starts answering (models load in the background; see {@link #isReady()}).
     *
     * @throws UncheckedIOException the address cannot be bound (in use, or not this machine's)
     */
    public synchronized BlenderServer start() {
        if (serverSocket != null) {
            throw new IllegalStateException("already started");
        }
        try {
            ServerSocket ss = new ServerSocket();
            ss.setReuseAddress(true);
            ss.bind(new InetSocketAddress(InetAddress.getByName(host), requestedPort), 128);
            serverSocket = ss;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + host + ":" + requestedPort + ": " + e.getMessage(), e);
        }
        BlockingQueue<Runnable> queue = maxQueue == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(maxQueue);
        AtomicInteger n = new AtomicInteger();
        // platform threads: a native decode would pin a virtual thread's carrier for its whole length
        workers = new ThreadPoolExecutor(maxConcurrent, maxConcurrent, 0, TimeUnit.SECONDS, queue,
                r -> Thread.ofPlatform().name("blender-server-worker-" + n.incrementAndGet()).daemon().unstarted(r));
        acceptor = Thread.ofPlatform().name("blender-server-accept").start(this::accept);
        warmUp = Thread.ofPlatform().name("blender-server-warmup").daemon().start(() -> {
            try {
                loader.run();
                state = State.READY;
            } catch (Throwable t) {
                loadProblem = String.valueOf(t.getMessage());
                state = State.FAILED;
                LOG.log(System.Logger.Level.ERROR, "models failed to load", t);
            }
        });
        return this;
    }

    private void accept() {
        while (!closing) {
            Socket s;
            try {
                s = serverSocket.accept();
            } catch (IOException e) {
                if (!closing) {
                    LOG.log(System.Logger.Level.ERROR, "accept failed; the server stops listening", e);
                }
                return;
            }
            try {
                if (closing || connections.size() >= maxConnections) {
                    s.close(); // shutting down, or too many clients at once: a new connection is refused
                    continue;
                }
                HttpConnection c = new HttpConnection(s, this);
                connections.add(c);
                // a platform thread: woken by the kernel itself when a request arrives, where a virtual
                // thread is woken by a poller thread and then scheduled on a carrier (ServerOverheadTest:
                // ~0.3 ms more per request on a busy 2-core machine); a local server has few connections
                Thread.ofPlatform().name("blender-server-connection").daemon().start(c);
            } catch (IOException e) {
                closeQuietly(s);
            }
        }
    }

    /** The port listened on (the one picked, when built with port 0). */
    public int port() {
        return serverSocket.getLocalPort();
    }

    /** The base URL clients are given, e.g. {@code http://127.0.0.1:8080/v1}. */
    public String baseUrl() {
        InetAddress a = serverSocket.getInetAddress();
        String h = a.isAnyLocalAddress() ? "127.0.0.1" : a.getHostAddress();
        return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + port() + "/v1";
    }

    /** Whether the models are loaded and completions are answered. */
    public boolean isReady() {
        return state == State.READY;
    }

    /** Waits until the models are loaded; false when they failed to load or the wait ran out. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (state == State.LOADING && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        return state == State.READY;
    }

    /** Why the models failed to load, or null while they load or once they have. */
    public String loadProblem() {
        return state == State.FAILED ? loadProblem : null;
    }

    public Stats stats() {
        ThreadPoolExecutor w = workers;
        return new Stats(completed.get(), cancelled.get(), rejected.get(), failed.get(),
                w == null ? 0 : w.getActiveCount(), w == null ? 0 : w.getQueue().size());
    }

    /** Open client connections (for tests: 0 some moments after close). */
    int connections() {
        return connections.size();
    }

    /** Blocks until {@link #close()} has finished (for a command that serves until it is stopped). */
    public void awaitClosed() throws InterruptedException {
        closedLatch.await();
    }

    /**
     * Stops accepting connections and requests, lets the requests already accepted finish (cancelling
     * those still running after the shutdown timeout), closes every connection and waits for every
     * thread the server started. Idempotent; the blender is left open.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                awaitClosedUninterruptibly();
                return;
            }
            closing = true;
        }
        try {
            if (serverSocket == null) {
                return;
            }
            closeQuietly(serverSocket);
            connections.forEach(HttpConnection::closeIfIdle);
            if (!drain(shutdownTimeout)) {
                synchronized (inFlight) {
                    inFlight.forEach(e -> e.cancellation().cancel());
                }
                drain(Duration.ofSeconds(30));
            }
            workers.shutdown();
            awaitTermination();
            connections.forEach(HttpConnection::close);
            join(acceptor);
            join(warmUp);
        } finally {
            closedLatch.countDown();
        }
    }

    /** Waits until no accepted request is left; false when the time ran out first. */
    private boolean drain(Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        synchronized (inFlight) {
            while (!inFlight.isEmpty()) {
                long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                try {
                    inFlight.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    private void awaitTermination() {
        try {
            workers.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitClosedUninterruptibly() {
        boolean interrupted = false;
        while (true) {
            try {
                closedLatch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void join(Thread t) {
        try {
            t.join(TimeUnit.MINUTES.toMillis(1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing anyway
        }
    }

    // --- HttpConnection.Handler

    @Override
    public boolean closing() {
        return closing;
    }

    @Override
    public int maxBodyBytes() {
        return maxBodyBytes;
    }

    @Override
    public int idleTimeoutMillis() {
        return idleTimeoutMillis;
    }

    @Override
    public void closed(HttpConnection connection) {
        connections.remove(connection);
    }

    @Override
    public byte[] errorBody(ApiException e) {
        return bytes(e.toJson(mapper));
    }

    @Override
    public void handle(Exchange ex) {
        try {
            if (!route(ex)) {
                return; // a worker answers it
            }
        } catch (ApiException e) {
            respondError(ex, e);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "request " + ex.request.method() + " " + ex.request.path() + " failed", e);
            respondError(ex, internal(e));
        }
        ex.done();
    }

    /** Answers a request, or hands it to a worker and returns false. */
    private boolean route(Exchange ex) {
        HttpRequest req = ex.request;
        if (closing) {
            throw new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down", 0);
        }
        String path = req.path();
        if (path.equals("/health")) {
            method(req, "GET");
            health(ex);
            return true;
        }
        if (!path.startsWith("/v1/")) {
            throw ApiException.notFound("no such endpoint: " + path);
        }
        authorize(req);
        switch (path) {
            case "/v1/models" -> {
                method(req, "GET");
                respondJson(ex, 200, responses.models(models, blender.config(), created), Map.of());
                return true;
            }
            case "/v1/chat/completions" -> {
                method(req, "POST");
                return !submit(ex, CompletionRequest.Kind.CHAT);
            }
            case "/v1/completions" -> {
                method(req, "POST");
                return !submit(ex, CompletionRequest.Kind.TEXT);
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    method(req, "GET");
                    String id = path.substring("/v1/models/".length());
                    ObjectNode model = id.equals(models.blendId()) ? responses.blendModel(models, blender.config(), created)
                            : models.members().stream().filter(m -> m.id().equals(id)).findFirst()
                            .map(m -> responses.member(m, created))
                            .orElseThrow(() -> ApiException.modelNotFound(id, models.ids().toString()));
                    respondJson(ex, 200, model, Map.of());
                    return true;
                }
                throw ApiException.notFound("no such endpoint: " + path);
            }
        }
    }

    private static void method(HttpRequest req, String allowed) {
        if (!req.method().equals(allowed)) {
            throw new ApiException(405, ApiException.INVALID_REQUEST, null, "method_not_allowed",
                    req.method() + " is not allowed on " + req.path() + "; use " + allowed, 0);
        }
    }

    private void authorize(HttpRequest req) {
        if (apiKey == null) {
            return;
        }
        String auth = req.header("authorization");
        byte[] given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)
                ? auth.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (!MessageDigest.isEqual(apiKey, given)) { // constant time: the comparison must not reveal a prefix
            throw new ApiException(401, ApiException.INVALID_REQUEST, null, "invalid_api_key",
                    auth == null ? "no API key given: send Authorization: Bearer KEY" : "incorrect API key", 0);
        }
    }

    private void health(Exchange ex) {
        State s = state;
        ObjectNode h = mapper.createObjectNode();
        h.put("status", switch (s) {
            case READY -> "ok";
            case LOADING -> "loading";
            case FAILED -> "error";
        });
        h.putObject("models").put("loaded", s == State.READY ? totalModels.get() : loadedModels.get())
                .put("total", totalModels.get());
        if (s == State.FAILED) {
            h.put("error", loadProblem);
        }
        Stats st = stats();
        h.put("running", st.running()).put("queued", st.queued());
        respondJson(ex, s == State.READY ? 200 : 503, h,
                s == State.LOADING ? Map.of("Retry-After", Integer.toString(RETRY_AFTER_SECONDS)) : Map.of());
    }

    /** Queues a completion for a worker; true when queued (the worker answers it). */
    private boolean submit(Exchange ex, CompletionRequest.Kind kind) {
        CompletionRequest request = CompletionRequest.parse(mapper, ex.request.body(), kind, models, blender.config(),
                ex.cancellation());
        switch (state) {
            case LOADING -> throw new ApiException(503, "server_error", null, "model_loading",
                    "the models are loading; retry shortly", RETRY_AFTER_SECONDS);
            case FAILED -> throw new ApiException(503, "server_error", null, "model_load_failed",
                    "the models failed to load: " + loadProblem, 0);
            case READY -> { }
        }
        synchronized (inFlight) {
            inFlight.add(ex);
        }
        Runnable task = () -> answer(ex, request);
        ex.whenGone(() -> {
            if (workers.remove(task)) { // still waiting: its place in the queue is free at once
                cancelled.incrementAndGet();
                finished(ex);
                ex.done();
            }
        });
        try {
            workers.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            finished(ex);
            rejected.incrementAndGet();
            throw new ApiException(429, "rate_limit_error", null, "queue_full", "the server is busy: "
                    + maxConcurrent + " requests running and " + maxQueue + " waiting; retry shortly",
                    RETRY_AFTER_SECONDS);
        }
    }

    /** Runs one blend on a worker and answers it, streamed or whole. */
    private void answer(Exchange ex, CompletionRequest request) {
        String id = request.kind().idPrefix + randomId();
        long now = System.currentTimeMillis() / 1000;
        EventStream stream = request.stream() ? new EventStream(ex, request, responses, mapper, id, now) : null;
        int[] afterLeft = {0};
        BlendListener tokens = new BlendListener() {
            @Override
            public void onAnswer(String text) {
                if (ex.isGone()) {
                    afterLeft[0]++;
                }
                if (stream != null) {
                    stream.onAnswer(text);
                }
            }
        };
        try {
            if (ex.cancellation().isCancelled()) {
                throw new CancellationException("the client left while its request waited");
            }
            BlendResult r = blender.blend(request.blend(), tokens);
            if (stream != null) {
                stream.finish(r);
            } else {
                respondJson(ex, 200, responses.completion(request, id, now, r), Map.of());
            }
            completed.incrementAndGet();
        } catch (CancellationException e) {
            cancelled.incrementAndGet();
            lastTokensAfterClientLeft = afterLeft[0];
            fail(ex, stream, new ApiException(503, "server_error", null, "cancelled",
                    "the request was cancelled: the server is shutting down", 0));
        } catch (IllegalArgumentException e) {
            failed.incrementAndGet();
            fail(ex, stream, ApiException.badRequest(null, e.getMessage()));
        } catch (ChatTemplateException e) {
            failed.incrementAndGet();
            // a template that refuses the conversation (a system turn Gemma 2 has no place for, turns out of
            // order) is the request's to change; one that cannot run is the server's model's fault
            fail(ex, stream, e.kind() == ChatTemplateException.Kind.RAISED
                    ? ApiException.badRequest("messages", e.getMessage())
                    : new ApiException(500, "server_error", null, "chat_template", e.getMessage(), 0));
        } catch (RuntimeException | Error e) {
            failed.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, "blend failed", e);
            fail(ex, stream, internal(e));
        } finally {
            finished(ex);
            ex.done();
        }
    }

    private void finished(Exchange ex) {
        synchronized (inFlight) {
            inFlight.remove(ex);
            inFlight.notifyAll();
        }
    }

    private void fail(Exchange ex, EventStream stream, ApiException e) {
        if (ex.isGone()) {
            return;
        }
        if (stream != null && stream.started()) {
            stream.fail(e);
        } else {
            respondError(ex, e);
        }
    }

    private static ApiException internal(Throwable t) {
        return new ApiException(500, "server_error", null, "internal_error", "the blend failed: " + t, 0);
    }

    private void respondError(Exchange ex, ApiException e) {
        Map<String, String> headers = new LinkedHashMap<>();
        if (e.retryAfterSeconds > 0) {
            headers.put("Retry-After", Integer.toString(e.retryAfterSeconds));
        }
        if (e.status == 401) {
            headers.put("WWW-Authenticate", "Bearer");
        }
        if (e.status == 405) {
            headers.put("Allow", ex.request.path().endsWith("completions") ? "POST" : "GET");
        }
        respondJson(ex, e.status, e.toJson(mapper), headers);
    }

    private void respondJson(Exchange ex, int status, ObjectNode body, Map<String, String> headers) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put("Content-Type", "application/json");
        ex.respond(status, h, bytes(body));
    }

    private byte[] bytes(ObjectNode node) {
        try {
            return mapper.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String randomId() {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder b = new StringBuilder(24);
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < 24; i++) {
            b.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        return b.toString();
    }
}
