package dev.blender.nativebridge.generation;

import java.util.Arrays;
import java.util.List;

/**
 * One generation step's log-probabilities, as {@link GenerationRequest#withTopLogprobs(int)} asks for them:
 * the token the sampler chose and the most likely tokens of the model's raw distribution (temperature 1,
 * before penalties or filtering), best first. The chosen token need not be among them (a sampled one).
 *
 * @param chosen the token this step produced (on the last step of a candidate that ended by itself, its
 *               end-of-generation token)
 * @param top    the {@code n} most likely tokens, best first, ties to the lower id
 */
public record TopLogprobs(Alternative chosen, List<Alternative> top) {
    public TopLogprobs {
        top = List.copyOf(top);
    }

    /**
     * One token with its log-probability.
     *
     * @param token   the token id
     * @param text    how servers write it: a control or end-of-generation token as its own text
     *                ({@code </s>}), any other as its piece decoded as UTF-8 (a piece that is part of a
     *                character gets replacement characters: read {@code bytes})
     * @param bytes   what it adds to the text: its piece, or for a control token the UTF-8 of {@code text}
     * @param logprob natural-log probability under the model's raw distribution
     */
    public record Alternative(int token, String text, byte[] bytes, float logprob) {
        public Alternative {
            bytes = bytes.clone();
        }

        @Override
        public byte[] bytes() {
            return bytes.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Alternative a && a.token == token && a.text.equals(text)
                    && Arrays.equals(a.bytes, bytes) && Float.compare(a.logprob, logprob) == 0;
        }

        @Override
        public int hashCode() {
            return token * 31 + Float.hashCode(logprob);
        }

        @Override
        public String toString() {
            return token + " '" + text + "' " + logprob;
        }
    }
}
