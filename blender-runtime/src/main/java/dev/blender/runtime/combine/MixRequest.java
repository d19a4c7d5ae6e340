package dev.blender.runtime.combine;

import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.DecodeOptions;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.ChatMessage;
import java.util.List;
import java.util.Objects;

/**
 * One per-token combined generation. Immutable; start from {@link #of(String)} (text as it is) or
 * {@link #ofMessages(List)} (a conversation each member formats with its own chat template).
 *
 * @param prompt                the prompt text (each member tokenises it itself); with messages, the last one's
 * @param messages              a conversation ending with the user's turn, or null for the bare prompt text:
 *                              each member reads it through its own chat template (with the assistant's
 *                              prefix), as {@code Generator.prompt} formats it; a member without a template
 *                              reads the last message
 * @param decode                most tokens, how to pick from the combined distribution (the same options as
 *                              single-model sampling), stop strings, seed and cancellation
 * @param perplexityTemperature 0 = the combination's own weights; t > 0 = PackLLM-style weights per request,
 *                              {@code w_k ~ exp(-nll_k / t)} from each member's mean negative log-likelihood of
 *                              the prompt (its last 128 tokens): the member that finds the prompt most familiar
 *                              counts most
 * @param gate                  confidence-gated mixing: at a step where the first member's most likely token
 *                              has at least this probability, its own distribution is used alone; otherwise the
 *                              combination (0 = always combine)
 */
public record MixRequest(String prompt, List<ChatMessage> messages, DecodeOptions decode, float perplexityTemperature,
                         float gate) {

    public MixRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(decode, "decode");
        if (messages != null) {
            messages = List.copyOf(messages);
            if (messages.isEmpty() || !messages.getLast().content().equals(prompt)) {
                throw new IllegalArgumentException("messages must end with the prompt's message");
            }
        }
        if (!(gate >= 0 && gate <= 1)) {
            throw new IllegalArgumentException("gate must be in [0, 1] (0 = off), was " + gate);
        }
        if (!(perplexityTemperature >= 0) || Float.isInfinite(perplexityTemperature)) {
            throw new IllegalArgumentException("perplexityTemperature must be a finite value >= 0, was "
                    + perplexityTemperature);
        }
    }

    /** Greedy, up to 128 tokens, the combination's own weights. */
    public static MixRequest of(String prompt) {
        return new MixRequest(prompt, null, DecodeOptions.greedy(128), 0f, 0f);
    }

    /** A conversation, formatted by each member's chat template; otherwise as {@link #of(String)}. */
    public static MixRequest ofMessages(List<ChatMessage> messages) {
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("no messages");
        }
        return new MixRequest(messages.getLast().content(), messages, DecodeOptions.greedy(128), 0f, 0f);
    }

    public MixRequest withDecode(DecodeOptions d) {
        return new MixRequest(prompt, messages, d, perplexityTemperature, gate);
    }

    public MixRequest withMaxTokens(int n) {
        return withDecode(decode.withMaxTokens(n));
    }

    public MixRequest withSampler(SamplerOptions s) {
        return withDecode(decode.withSampler(s));
    }

    public MixRequest withStop(List<String> s) {
        return withDecode(decode.withStop(s));
    }

    public MixRequest withSeed(long s) {
        return withDecode(decode.withSeed(s));
    }

    public MixRequest withCancellation(Cancellation c) {
        return withDecode(decode.withCancellation(c));
    }

    public MixRequest withPerplexityWeights(float temperature) {
        return new MixRequest(prompt, messages, decode, temperature, gate);
    }

    /** Confidence-gated mixing: trust the first member alone where its top token has probability >= p. */
    public MixRequest withGate(float p) {
        return new MixRequest(prompt, messages, decode, perplexityTemperature, p);
    }
}
