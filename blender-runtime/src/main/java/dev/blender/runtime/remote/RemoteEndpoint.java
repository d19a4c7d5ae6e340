package dev.blender.runtime.remote;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * Where a remote generator answers: an OpenAI-compatible server (llama.cpp's {@code llama-server}, vLLM,
 * Ollama, OpenAI) at {@code baseUrl} (up to and including {@code /v1}), asked for {@code model} (null: the
 * field is left out, which llama.cpp's server and a vLLM serving one model accept).
 *
 * @param api       which endpoint the generator prompt goes to (see {@link Api})
 * @param apiKeyEnv the environment variable holding the bearer token, or null: no Authorization header
 * @param timeout   how long one HTTP request may take, connecting included
 * @param retries   how many times a request is repeated after a connection error, a 5xx or a 429
 * @param topLogprobs how many alternatives a remote judge or per-token mix asks for at a position
 *                  ({@code logprobs} of {@code /v1/completions}); OpenAI's completions allow 5, vLLM 20 by
 *                  default, llama.cpp's server more
 */
public record RemoteEndpoint(URI baseUrl, String model, String apiKeyEnv, Api api, Duration timeout, int retries,
                             int topLogprobs) {
    /** 60 s: a CPU server sampling a few hundred tokens of a 7B model stays well within it. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_RETRIES = 2;
    /** vLLM's default ceiling ({@code max_logprobs}); a wider list only shrinks the mass a mix misses. */
    public static final int DEFAULT_TOP_LOGPROBS = 20;

    /** The endpoint a blend's generator prompt is sent to. */
    public enum Api {
        /**
         * {@code /v1/chat/completions} with the conversation, its last user message put into the blend's
         * generator prompt: the server applies the model's chat template, as a local generator with one does.
         */
        CHAT,
        /**
         * {@code /v1/completions} with the generator prompt of the last user message as raw text: what a
         * local generator without a chat template reads (base models; llama.cpp's chat endpoint would wrap
         * it in a default template).
         */
        COMPLETIONS;

        public static Api parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "chat" -> CHAT;
                case "completions" -> COMPLETIONS;
                default -> throw new IllegalArgumentException("api must be chat or completions, was '" + s + "'");
            };
        }

        String path() {
            return this == CHAT ? "/chat/completions" : "/completions";
        }
    }

    public RemoteEndpoint {
        Objects.requireNonNull(baseUrl, "baseUrl");
        Objects.requireNonNull(api, "api");
        Objects.requireNonNull(timeout, "timeout");
        checkUrl(baseUrl.toString());
        if (model != null && model.isBlank()) {
            throw new IllegalArgumentException("the model of " + baseUrl + " is blank");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the timeout of " + baseUrl + " must be positive, was " + timeout);
        }
        if (retries < 0) {
            throw new IllegalArgumentException("the retries of " + baseUrl + " must be >= 0, was " + retries);
        }
        if (topLogprobs < 1) {
            throw new IllegalArgumentException("the topLogprobs of " + baseUrl + " must be >= 1, was " + topLogprobs);
        }
        if (apiKeyEnv != null && apiKeyEnv.isBlank()) {
            throw new IllegalArgumentException("the apiKeyEnv of " + baseUrl + " is blank");
        }
    }

    /** An endpoint with the chat API, the default timeout and retries, and no key. */
    public static RemoteEndpoint of(String baseUrl, String model) {
        return new RemoteEndpoint(checkUrl(baseUrl), model, null, Api.CHAT, DEFAULT_TIMEOUT, DEFAULT_RETRIES,
                DEFAULT_TOP_LOGPROBS);
    }

    public RemoteEndpoint withApiKeyEnv(String variable) {
        return new RemoteEndpoint(baseUrl, model, variable, api, timeout, retries, topLogprobs);
    }

    public RemoteEndpoint withApi(Api a) {
        return new RemoteEndpoint(baseUrl, model, apiKeyEnv, a, timeout, retries, topLogprobs);
    }

    public RemoteEndpoint withTimeout(Duration t) {
        return new RemoteEndpoint(baseUrl, model, apiKeyEnv, api, t, retries, topLogprobs);
    }

    public RemoteEndpoint withRetries(int n) {
        return new RemoteEndpoint(baseUrl, model, apiKeyEnv, api, timeout, n, topLogprobs);
    }

    public RemoteEndpoint withTopLogprobs(int n) {
        return new RemoteEndpoint(baseUrl, model, apiKeyEnv, api, timeout, retries, n);
    }

    /** Whether a {@code -m} value names a server rather than a file. */
    public static boolean isUrl(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        return l.startsWith("http://") || l.startsWith("https://");
    }

    /**
     * The command line's form, {@code http://host:port/v1#model}: the fragment is the model asked for (and
     * the member's name); without one, no model is sent.
     *
     * @throws IllegalArgumentException the URL is malformed
     */
    public static RemoteEndpoint parse(String spec) {
        int hash = spec.indexOf('#');
        String url = hash < 0 ? spec : spec.substring(0, hash);
        String model = hash < 0 || hash == spec.length() - 1 ? null : spec.substring(hash + 1);
        return of(url, model);
    }

    /**
     * A base URL checked: http or https, a host, no query or fragment; a trailing slash is dropped so that
     * paths append cleanly.
     *
     * @throws IllegalArgumentException naming the URL and what is wrong with it
     */
    public static URI checkUrl(String url) {
        URI u;
        try {
            u = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("malformed URL '" + url + "': " + e.getMessage(), e);
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("malformed URL '" + url + "': a remote member's URL starts with http://"
                    + " or https://");
        }
        if (u.getHost() == null || u.getHost().isEmpty()) {
            throw new IllegalArgumentException("malformed URL '" + url + "': it names no host");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null) {
            throw new IllegalArgumentException("malformed URL '" + url + "': a base URL has no query or fragment (give"
                    + " the model as \"model\", or after # on the command line)");
        }
        String s = u.toString();
        return s.endsWith("/") ? URI.create(s.substring(0, s.length() - 1)) : u;
    }

    /** The member's name when none is given: the model, else host:port. */
    public String defaultName() {
        return model != null ? model : baseUrl.getHost() + (baseUrl.getPort() >= 0 ? ":" + baseUrl.getPort() : "");
    }

    /**
     * The bearer token, read from {@code apiKeyEnv} through {@code env}; null when none is configured.
     *
     * @throws IllegalArgumentException the variable is not set
     */
    public String apiKey(UnaryOperator<String> env) {
        if (apiKeyEnv == null) {
            return null;
        }
        String key = env.apply(apiKeyEnv);
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("the environment variable " + apiKeyEnv + " (apiKeyEnv of " + baseUrl
                    + (model != null ? " model " + model : "") + ") is not set");
        }
        return key;
    }

    URI endpoint() {
        return URI.create(baseUrl + api.path());
    }
}
