package dev.blender.runtime.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.SequenceDecoder;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for llama.cpp's {@code llama-server} (or vLLM, or a server without log-probabilities) on
 * loopback: {@code POST /v1/completions} of one local model, greedy at temperature 0, with the top
 * {@code logprobs} (or {@code n_probs}) alternatives of every generated token in the shape the chosen
 * server returns, and a prompt cache kept while {@code cache_prompt} is sent. For tests of remote judges,
 * fusers and per-token mixes against the other servers' response shapes (the blender's own server is tested
 * as every role in {@link ServedMembersTest}).
 */
public final class CompletionServer implements AutoCloseable {
    /** Whose response shape it answers in. */
    public enum Style {
        /**
         * {@code logprobs.content[].top_logprobs[]} with ids and bytes, the end of generation as a token with
         * no text, {@code timings} (llama.cpp's server).
         */
        LLAMA_CPP,
        /** {@code logprobs.tokens/token_logprobs/top_logprobs} maps (OpenAI's legacy completions, vLLM). */
        OPENAI_LEGACY,
        /** Ignores {@code logprobs}: a server that returns none. */
        NO_LOGPROBS
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Style style;
    private final LlamaModel model;
    private final LlamaContext ctx;
    private final SequenceDecoder decoder;
    private final HttpServer http;
    private int[] cached = new int[0];
    private float[] lastLogits;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger cacheHits = new AtomicInteger();
    private final AtomicInteger cachePromptSent = new AtomicInteger();

    private CompletionServer(Path file, Style style) throws IOException {
        this.style = style;
        this.model = LlamaModel.load(file, ModelOptions.defaults().withThreads(1));
        this.ctx = model.newContext(ContextOptions.defaults().withContextSize(64).withThreads(1));
        this.decoder = new SequenceDecoder(ctx);
        this.http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/v1/completions", this::handle);
        http.start();
    }

    public static CompletionServer start(Path model, Style style) {
        try {
            return new CompletionServer(model, style);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + http.getAddress().getPort() + "/v1";
    }

    public int requests() {
        return requests.get();
    }

    /** Requests whose prompt extended the cached one, so that only its new tokens were decoded. */
    public int cacheHits() {
        return cacheHits.get();
    }

    /** Requests that carried {@code cache_prompt: true}. */
    public int cachePromptSent() {
        return cachePromptSent.get();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            JsonNode body = JSON.readTree(ex.getRequestBody().readAllBytes());
            requests.incrementAndGet();
            ObjectNode out;
            int status = 200;
            try {
                synchronized (this) {
                    out = complete(body);
                }
            } catch (IllegalArgumentException e) {
                status = 400;
                out = JSON.createObjectNode();
                out.putObject("error").put("message", e.getMessage()).put("code", 400);
            }
            byte[] bytes = out.toString().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, bytes.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(bytes);
            }
        }
    }

    private ObjectNode complete(JsonNode body) {
        Vocab vocab = model.vocab();
        int[] prompt = vocab.tokenize(body.path("prompt").asText());
        int maxTokens = body.path("max_tokens").asInt(16);
        double temperature = body.path("temperature").asDouble(0.8);
        int probs = style == Style.NO_LOGPROBS ? 0 : body.has("n_probs") ? body.get("n_probs").asInt()
                : body.path("logprobs").asInt(0);
        List<String> stop = new ArrayList<>();
        if (body.path("stop").isTextual()) {
            stop.add(body.get("stop").asText());
        } else {
            body.path("stop").forEach(s -> stop.add(s.asText()));
        }
        boolean cache = body.path("cache_prompt").asBoolean(false);
        if (cache) {
            cachePromptSent.incrementAndGet();
        }
        if (prompt.length + maxTokens > ctx.contextSize()) {
            throw new IllegalArgumentException("the prompt of " + prompt.length + " tokens and " + maxTokens
                    + " to generate exceed the context of " + ctx.contextSize());
        }
        if (cache && cached.length > 0 && prompt.length > cached.length
                && Arrays.equals(cached, Arrays.copyOf(prompt, cached.length))) {
            int[] rest = Arrays.copyOfRange(prompt, cached.length, prompt.length);
            decoder.append(0, rest, rest.length - 1);
            cacheHits.incrementAndGet();
        } else if (!(cache && Arrays.equals(cached, prompt))) {
            decoder.reset();
            decoder.prefill(0, prompt);
        }
        float[] logits = new float[ctx.vocabSize()];
        if (cache && Arrays.equals(cached, prompt)) {
            logits = lastLogits.clone();
        } else {
            decoder.copyLogits(0, logits);
        }
        cached = prompt;
        lastLogits = logits.clone();
        Random random = new Random(body.path("seed").asLong(0));
        StringBuilder text = new StringBuilder();
        byte[] bytes = new byte[0];
        ArrayNode content = JSON.createArrayNode();
        List<String> tokens = new ArrayList<>();
        List<Double> tokenLogprobs = new ArrayList<>();
        ArrayNode legacyTop = JSON.createArrayNode();
        String finish = "length";
        int generated = 0;
        while (generated < maxTokens) {
            double max = Double.NEGATIVE_INFINITY;
            for (float f : logits) {
                max = Math.max(max, f);
            }
            double z = 0;
            for (float f : logits) {
                z += Math.exp(f - max);
            }
            double lse = max + Math.log(z);
            int chosen = temperature <= 0 ? argmax(logits) : sample(logits, temperature, random);
            generated++;
            if (probs > 0) {
                Integer[] order = new Integer[logits.length];
                for (int i = 0; i < order.length; i++) {
                    order[i] = i;
                }
                float[] l = logits;
                Arrays.sort(order, (a, b) -> Float.compare(l[b], l[a]));
                ObjectNode entry = entry(vocab, chosen, logits[chosen] - lse);
                ArrayNode top = entry.putArray("top_logprobs");
                ObjectNode legacy = JSON.createObjectNode();
                for (int i = 0; i < Math.min(probs, order.length); i++) {
                    top.add(entry(vocab, order[i], logits[order[i]] - lse));
                    String t = tokenText(vocab, order[i]);
                    if (!legacy.has(t)) {
                        legacy.put(t, logits[order[i]] - lse);
                    }
                }
                content.add(entry);
                tokens.add(tokenText(vocab, chosen));
                tokenLogprobs.add(logits[chosen] - lse);
                legacyTop.add(legacy);
            }
            if (vocab.isEndOfGeneration(chosen)) {
                finish = "stop";
                break;
            }
            byte[] piece = vocab.piece(chosen, false);
            bytes = concat(bytes, piece);
            text.setLength(0);
            text.append(new String(bytes, StandardCharsets.UTF_8));
            int cut = -1;
            for (String s : stop) {
                int at = text.indexOf(s);
                if (at >= 0 && (cut < 0 || at < cut)) {
                    cut = at;
                }
            }
            if (cut >= 0) {
                text.setLength(cut);
                finish = "stop";
                break;
            }
            if (generated < maxTokens) {
                decoder.append(0, new int[] {chosen}, 0);
                decoder.copyLogits(0, logits);
                int[] grown = Arrays.copyOf(cached, cached.length + 1);
                grown[cached.length] = chosen;
                cached = grown;
                lastLogits = logits.clone();
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("object", "text_completion").put("model", model.path().getFileName().toString());
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("text", text.toString()).put("index", 0);
        if (probs > 0 && style == Style.LLAMA_CPP) {
            choice.putObject("logprobs").set("content", content);
        } else if (probs > 0) {
            ObjectNode lp = choice.putObject("logprobs");
            ArrayNode t = lp.putArray("tokens");
            tokens.forEach(t::add);
            ArrayNode tl = lp.putArray("token_logprobs");
            tokenLogprobs.forEach(tl::add);
            lp.set("top_logprobs", legacyTop);
        } else {
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", finish);
        out.putObject("usage").put("prompt_tokens", prompt.length).put("completion_tokens", generated)
                .put("total_tokens", prompt.length + generated);
        if (style == Style.LLAMA_CPP) {
            out.putObject("timings").put("prompt_n", prompt.length).put("predicted_n", generated);
        }
        return out;
    }

    /**
     * As llama.cpp's server lists a token (recorded: shared/data/openai-servers/llama-server-v0.5.0): a
     * control or end-of-generation token as no text and no bytes ({@code "token": "", "bytes": []}).
     */
    private static ObjectNode entry(Vocab vocab, int id, double logprob) {
        ObjectNode e = JSON.createObjectNode();
        boolean control = vocab.isEndOfGeneration(id) || vocab.isControl(id);
        byte[] piece = control ? new byte[0] : vocab.piece(id, false);
        e.put("id", id).put("token", new String(piece, StandardCharsets.UTF_8));
        ArrayNode b = e.putArray("bytes");
        for (byte x : piece) {
            b.add(x & 0xff);
        }
        e.put("logprob", logprob);
        return e;
    }

    /** As OpenAI's legacy completions write a token: its text, control tokens as their own text ("</s>"). */
    private static String tokenText(Vocab vocab, int id) {
        return vocab.isEndOfGeneration(id) || vocab.isControl(id) ? vocab.text(id)
                : new String(vocab.piece(id, false), StandardCharsets.UTF_8);
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    private static int sample(float[] l, double temperature, Random random) {
        double max = l[argmax(l)];
        double[] p = new double[l.length];
        double z = 0;
        for (int i = 0; i < l.length; i++) {
            p[i] = Math.exp((l[i] - max) / temperature);
            z += p[i];
        }
        double r = random.nextDouble() * z;
        for (int i = 0; i < l.length; i++) {
            r -= p[i];
            if (r < 0) {
                return i;
            }
        }
        return argmax(l);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Override
    public void close() {
        http.stop(0);
        synchronized (this) {
            decoder.close();
            ctx.close();
            model.close();
        }
    }
}
