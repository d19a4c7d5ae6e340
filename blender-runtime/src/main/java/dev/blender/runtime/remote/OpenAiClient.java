package dev.blender.runtime.remote;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.ChatMessage;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * A client of one OpenAI-compatible endpoint for a remote generator: one non-streamed request per
 * candidate, sent in parallel (servers differ on {@code n}: llama.cpp's and Ollama's do not take it), each
 * retried with exponential backoff and jitter after a connection error, a 5xx or a 429, and bounded by the
 * endpoint's timeout. A timeout is not retried: a slow member would otherwise hold the blend several
 * timeouts long. Thread-safe; the {@link HttpClient} is the caller's to close.
 */
public final class OpenAiClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How often a request in flight looks at its cancellation: what a cancelled blend waits at most. */
    private static final long POLL_MILLIS = 50;
    static final long BACKOFF_BASE_MILLIS = 250;
    static final long BACKOFF_CAP_MILLIS = 4_000;

    private final RemoteEndpoint endpoint;
    private final String apiKey;
    private final HttpClient http;
    /**
     * Set once a response carried llama.cpp's {@code timings}: that server then gets {@code cache_prompt}, so
     * that a per-token mix, which sends the same prefix one token longer each step, is not re-read each time
     * (other servers reject or ignore fields they do not know, so it is sent only where it is understood).
     */
    private final AtomicBoolean llamaCpp = new AtomicBoolean();

    /** {@code apiKey} may be null (no Authorization header). */
    public OpenAiClient(RemoteEndpoint endpoint, String apiKey, HttpClient http) {
        this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
        this.apiKey = apiKey;
        this.http = Objects.requireNonNull(http, "http");
    }

    /** An HTTP/1.1 client (llama.cpp's, vLLM's and Ollama's servers speak no cleartext HTTP/2). */
    public static HttpClient newHttpClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    public RemoteEndpoint endpoint() {
        return endpoint;
    }

    /**
     * {@code n} answers, requested in parallel, in order; candidate i has seed {@code request.seed() + i}.
     * If any request fails for good the others are abandoned: a member answers whole or not at all.
     *
     * @throws RemoteException a request failed (after its retries)
     * @throws CancellationException {@code cancelled} became true
     */
    public List<RemoteCompletion> complete(RemoteRequest request, int n, BooleanSupplier cancelled) {
        if (n == 1) {
            return List.of(completeOne(request, 0, cancelled));
        }
        AtomicBoolean failed = new AtomicBoolean();
        BooleanSupplier stop = () -> failed.get() || cancelled.getAsBoolean();
        List<RemoteCompletion> out = new ArrayList<>();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<RemoteCompletion>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int index = i;
                futures.add(ex.submit(() -> completeOne(request, index, stop)));
            }
            RuntimeException first = null;
            for (Future<RemoteCompletion> f : futures) {
                try {
                    out.add(f.get());
                } catch (ExecutionException e) {
                    failed.set(true);
                    // the first real reason, not a sibling's cancellation that it caused
                    if (e.getCause() instanceof RemoteException r && (first == null || first instanceof CancellationException)) {
                        first = r;
                    } else if (first == null && e.getCause() instanceof RuntimeException r) {
                        first = r;
                    } else if (e.getCause() instanceof Error err) {
                        throw err;
                    }
                } catch (InterruptedException e) {
                    failed.set(true);
                    Thread.currentThread().interrupt();
                    throw new CancellationException("interrupted");
                }
            }
            if (first != null) {
                throw first;
            }
        }
        return out;
    }

    /**
     * One answer to one request (a judge's rationale or verdict position, a fusion, a mixing step).
     *
     * @throws RemoteException the request failed (after its retries)
     * @throws CancellationException {@code cancelled} became true
     */
    public RemoteCompletion completeOnce(RemoteRequest request, BooleanSupplier cancelled) {
        return completeOne(request, 0, cancelled);
    }

    /**
     * One answer whose log-probabilities are needed (a per-token mix reads nothing else).
     *
     * @throws RemoteException the request failed, or the server returned no log-probabilities in either shape
     *                         (named: the server, the endpoint and what its answer held instead)
     * @throws CancellationException {@code cancelled} became true
     */
    public RemoteCompletion completeWithLogprobs(RemoteRequest request, BooleanSupplier cancelled) {
        if (request.logprobs() < 1) {
            throw new IllegalArgumentException("the request asks for no log-probabilities");
        }
        RemoteCompletion c = completeOne(request, 0, cancelled);
        if (!c.logprobs().returned()) {
            throw new RemoteException(where() + " returned no log-probabilities although asked for the top "
                    + request.logprobs() + " per token (" + (endpoint.api() == RemoteEndpoint.Api.CHAT
                    ? "\"logprobs\": true, \"top_logprobs\"" : "\"logprobs\"") + "): " + c.logprobs().missing()
                    + "; expected choices[0].logprobs.content[] (chat shape) or choices[0].logprobs.tokens[],"
                    + " token_logprobs[], top_logprobs[] (completions shape)", false);
        }
        return c;
    }

    /** The server and endpoint, as errors name them. */
    private String where() {
        return "server " + endpoint.baseUrl() + (endpoint.model() != null ? " (model " + endpoint.model() + ")" : "")
                + " at " + endpoint.endpoint().getPath();
    }

    /** Whether this endpoint has shown itself to be llama.cpp's server. */
    public boolean isLlamaCpp() {
        return llamaCpp.get();
    }

    /** One answer, with candidate index {@code index}'s seed. */
    RemoteCompletion completeOne(RemoteRequest request, int index, BooleanSupplier cancelled) {
        HttpRequest.Builder b = HttpRequest.newBuilder(endpoint.endpoint()).timeout(endpoint.timeout())
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body(request, index).toString()));
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        HttpRequest http = b.build();
        for (int attempt = 0; ; attempt++) {
            long wait;
            try {
                return parse(send(http, cancelled));
            } catch (RemoteException e) {
                if (!e.retryable() || attempt >= endpoint.retries()) {
                    throw attempt == 0 ? e : new RemoteException(e.getMessage() + " (after " + (attempt + 1)
                            + " attempts)", false, e);
                }
                wait = Math.max(backoffMillis(attempt, ThreadLocalRandom.current().nextDouble()), e.retryAfterMillis());
            }
            sleep(wait, cancelled);
        }
    }

    /** The JSON body of candidate {@code index}'s request. */
    ObjectNode body(RemoteRequest r, int index) {
        ObjectNode o = JSON.createObjectNode();
        if (endpoint.model() != null) {
            o.put("model", endpoint.model());
        }
        if (endpoint.api() == RemoteEndpoint.Api.CHAT) {
            ArrayNode messages = o.putArray("messages");
            for (ChatMessage m : r.messages()) {
                messages.addObject().put("role", m.role()).put("content", m.content());
            }
        } else {
            o.put("prompt", r.prompt());
        }
        o.put("max_tokens", r.maxTokens());
        o.put("temperature", r.temperature());
        o.put("top_p", r.topP());
        if (!r.stop().isEmpty()) {
            ArrayNode stop = o.putArray("stop");
            r.stop().forEach(stop::add);
        }
        if (r.logprobs() > 0) {
            if (endpoint.api() == RemoteEndpoint.Api.CHAT) {
                o.put("logprobs", true);
                o.put("top_logprobs", r.logprobs());
            } else {
                o.put("logprobs", r.logprobs()); // llama.cpp's server reads it as n_probs when that is absent
            }
        }
        if (llamaCpp.get()) {
            o.put("cache_prompt", true);
        }
        if (r.seed() != null) {
            // 31 bits: llama.cpp's server reads the seed as a 32-bit unsigned number, others as an int
            o.put("seed", Math.floorMod(r.seed() + index, 1L << 31));
        }
        return o;
    }

    /**
     * The wait before retry {@code attempt + 1}: base 250 ms doubling up to 4 s, half of it fixed and half
     * drawn ({@code random} in [0, 1)), so that members retrying together spread out but still back off.
     */
    static long backoffMillis(int attempt, double random) {
        long ceiling = Math.min(BACKOFF_CAP_MILLIS, BACKOFF_BASE_MILLIS << Math.min(attempt, 20));
        return ceiling / 2 + (long) (random * (ceiling / 2.0));
    }

    private HttpResponse<String> send(HttpRequest request, BooleanSupplier cancelled) {
        long deadline = System.nanoTime() + endpoint.timeout().toNanos();
        CompletableFuture<HttpResponse<String>> f = http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
        try {
            while (true) {
                try {
                    return f.get(POLL_MILLIS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    if (cancelled.getAsBoolean()) {
                        throw new CancellationException("remote request cancelled");
                    }
                    if (System.nanoTime() > deadline) {
                        throw timedOut(null);
                    }
                }
            }
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof HttpConnectTimeoutException) {
                throw new RemoteException("cannot connect to " + endpoint.baseUrl() + ": connection timed out", true, c);
            }
            if (c instanceof HttpTimeoutException) {
                throw timedOut(c);
            }
            if (c instanceof IOException) {
                throw new RemoteException("cannot reach " + endpoint.baseUrl() + ": " + describe(c), true, c);
            }
            throw new RemoteException("request to " + endpoint.baseUrl() + " failed: " + describe(c), false, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted");
        } finally {
            f.cancel(true); // a no-op once done; otherwise the exchange is aborted and its connection closed
        }
    }

    private RemoteException timedOut(Throwable cause) {
        return new RemoteException("no answer from " + endpoint.baseUrl() + " within " + seconds(endpoint.timeout()),
                false, cause);
    }

    private RemoteCompletion parse(HttpResponse<String> r) {
        int status = r.statusCode();
        if (status / 100 == 2) {
            try {
                JsonNode body = JSON.readTree(r.body());
                if (body != null && body.path("timings").isObject()) {
                    llamaCpp.set(true);
                }
                return RemoteCompletion.parse(body, endpoint.api());
            } catch (RemoteException e) {
                throw new RemoteException(where() + ": " + e.getMessage(), false, e);
            } catch (JsonProcessingException e) {
                throw new RemoteException("the response of " + endpoint.baseUrl() + " is not JSON: "
                        + RemoteCompletion.abbreviate(r.body()), false, e);
            }
        }
        String message = "HTTP " + status + " from " + endpoint.endpoint() + ": " + errorMessage(r.body());
        if (status == 429 || status / 100 == 5) {
            long after = r.headers().firstValueAsLong("Retry-After").orElse(0);
            // the server's own Retry-After, capped: a member is worth waiting for only so long
            throw new RemoteException(message, Math.min(Math.max(after, 0) * 1000, BACKOFF_CAP_MILLIS * 2));
        }
        throw new RemoteException(message, false);
    }

    /**
     * The server's own words: {@code error.message} (OpenAI, llama.cpp, vLLM, Ollama's compatibility layer),
     * {@code message} (older vLLM), {@code error} as a string (Ollama's native errors), else the body.
     */
    static String errorMessage(String body) {
        try {
            JsonNode n = JSON.readTree(body);
            if (n != null && n.path("error").path("message").isTextual()) {
                return n.path("error").path("message").asText();
            }
            if (n != null && n.path("error").isTextual()) {
                return n.path("error").asText();
            }
            if (n != null && n.path("message").isTextual()) {
                return n.path("message").asText();
            }
        } catch (JsonProcessingException e) {
            // not JSON: the body itself says it
        }
        return body.isBlank() ? "(no body)" : RemoteCompletion.abbreviate(body.strip());
    }

    private static void sleep(long millis, BooleanSupplier cancelled) {
        long until = System.nanoTime() + millis * 1_000_000;
        try {
            while (System.nanoTime() < until) {
                if (cancelled.getAsBoolean()) {
                    throw new CancellationException("remote request cancelled");
                }
                Thread.sleep(Math.max(1, Math.min(POLL_MILLIS, (until - System.nanoTime()) / 1_000_000)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted");
        }
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : " (" + m + ")");
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
