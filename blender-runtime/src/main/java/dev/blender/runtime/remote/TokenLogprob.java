package dev.blender.runtime.remote;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;

/**
 * One alternative a server reported at a generated position: the token as the server writes it, the bytes
 * it decodes to (what tokens of different vocabularies are matched by), its natural-log probability, and
 * whether it is the end of generation rather than text (decided by {@link Logprobs}, which reads them).
 */
public record TokenLogprob(String token, byte[] bytes, double logprob, boolean end) {
    /**
     * How servers write an end-of-generation token by name in their lists (OpenAI and vLLM as its text;
     * llama.cpp's server writes none of these but a token with no text, see {@link Logprobs}).
     */
    public static final Set<String> END_MARKERS = Set.of("</s>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>",
            "<|end|>", "<end_of_turn>", "<eos>", "<|end_of_text|>", "<|return|>", "<|eom_id|>");

    public TokenLogprob {
        bytes = bytes.clone();
    }

    /** A token that is the end of generation exactly when its text is one of {@link #END_MARKERS}. */
    public TokenLogprob(String token, byte[] bytes, double logprob) {
        this(token, bytes, logprob, END_MARKERS.contains(token));
    }

    /** A token given by its text alone, its bytes being its UTF-8. */
    public TokenLogprob(String token, double logprob) {
        this(token, token.getBytes(StandardCharsets.UTF_8), logprob);
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    /** Whether this is the end of generation rather than text. */
    public boolean isEnd() {
        return end;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenLogprob t && token.equals(t.token) && Arrays.equals(bytes, t.bytes)
                && Double.compare(logprob, t.logprob) == 0 && end == t.end;
    }

    @Override
    public int hashCode() {
        return token.hashCode() * 31 + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return (end ? "<end>" : "'" + token + "'") + " " + logprob;
    }
}
