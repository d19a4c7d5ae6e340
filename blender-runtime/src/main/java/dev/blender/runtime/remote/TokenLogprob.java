package dev.blender.runtime.remote;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One alternative a server reported at a generated position: the token as the server writes it, the bytes
 * it decodes to (what tokens of different vocabularies are matched by), and its natural-log probability.
 */
public record TokenLogprob(String token, byte[] bytes, double logprob) {
    /**
     * How servers write an end-of-generation token in their lists (llama.cpp renders control tokens as
     * their text; OpenAI and vLLM as theirs): such an entry is the event "the answer ends", not text.
     */
    public static final Set<String> END_MARKERS = Set.of("</s>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>",
            "<|end|>", "<end_of_turn>", "<eos>", "<|end_of_text|>", "<|return|>", "<|eom_id|>");

    public TokenLogprob {
        bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    /** Whether this is the end of generation rather than text. */
    public boolean isEnd() {
        return END_MARKERS.contains(token);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenLogprob t && token.equals(t.token) && Arrays.equals(bytes, t.bytes)
                && Double.compare(logprob, t.logprob) == 0;
    }

    @Override
    public int hashCode() {
        return token.hashCode() * 31 + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "'" + token + "' " + logprob;
    }

    /**
     * The alternatives at the first generated position of a choice, the chosen token among them, in the
     * shapes servers return: {@code logprobs.content[0].top_logprobs} of objects with {@code token},
     * {@code bytes} and {@code logprob} (OpenAI's chat completions; llama.cpp's server on both endpoints), or
     * {@code logprobs.top_logprobs[0]}, an object from token to log-probability, with {@code tokens[0]} and
     * {@code token_logprobs[0]} (OpenAI's legacy completions, vLLM's completions). Empty when the choice
     * has none (the server ignored the request for them, or generated nothing).
     */
    static List<TokenLogprob> firstPosition(JsonNode choice) {
        JsonNode lp = choice.path("logprobs");
        List<TokenLogprob> out = new ArrayList<>();
        if (lp.path("content").isArray()) {
            JsonNode first = lp.path("content").path(0);
            if (!first.isObject()) {
                return out;
            }
            for (JsonNode t : first.path("top_logprobs")) {
                add(out, t.path("token").asText(""), bytesOf(t), t.path("logprob"));
            }
            add(out, first.path("token").asText(""), bytesOf(first), first.path("logprob"));
        } else if (lp.path("top_logprobs").isArray()) {
            JsonNode top = lp.path("top_logprobs").path(0);
            for (Iterator<Map.Entry<String, JsonNode>> it = top.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                add(out, e.getKey(), legacyBytes(e.getKey()), e.getValue());
            }
            String chosen = lp.path("tokens").path(0).asText(null);
            if (chosen != null) {
                add(out, chosen, legacyBytes(chosen), lp.path("token_logprobs").path(0));
            }
        }
        return out;
    }

    /** Adds an entry unless its token is already listed (a chosen token repeats its top-list entry). */
    private static void add(List<TokenLogprob> out, String token, byte[] bytes, JsonNode logprob) {
        if (!logprob.isNumber()) {
            return;
        }
        for (TokenLogprob t : out) {
            if (t.token.equals(token) && Arrays.equals(t.bytes, bytes)) {
                return;
            }
        }
        out.add(new TokenLogprob(token, bytes, logprob.asDouble()));
    }

    private static byte[] bytesOf(JsonNode t) {
        if (t.path("bytes").isArray()) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            t.path("bytes").forEach(x -> b.write(x.asInt()));
            return b.toByteArray();
        }
        return t.path("token").asText("").getBytes(StandardCharsets.UTF_8);
    }

    /** OpenAI writes a token that is part of a UTF-8 character as {@code bytes:\xNN...}. */
    static byte[] legacyBytes(String token) {
        if (!token.startsWith("bytes:")) {
            return token.getBytes(StandardCharsets.UTF_8);
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        String s = token.substring("bytes:".length());
        int i = 0;
        while (i < s.length()) {
            if (s.startsWith("\\x", i) && i + 4 <= s.length()) {
                try {
                    b.write(Integer.parseInt(s.substring(i + 2, i + 4), 16));
                    i += 4;
                    continue;
                } catch (NumberFormatException e) {
                    // not an escape: the characters themselves
                }
            }
            byte[] c = s.substring(i, i + 1).getBytes(StandardCharsets.UTF_8);
            b.write(c, 0, c.length);
            i++;
        }
        return b.toByteArray();
    }
}
