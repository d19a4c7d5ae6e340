package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.GenerationRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One request. Immutable; start from {@link #of(String)} (one user message) or
 * {@link #ofMessages(List)} (a conversation), then change what you need.
 *
 * @param messages     the conversation, oldest first, ending with the user's message. Generators with a chat
 *                     template see all of it through their template; generators without one see the last
 *                     user message put into the blender's {@code generatorPrompt}. The judge and the fuser
 *                     see the last user message as the instruction.
 * @param composition  how to answer (a {@link Strategy}'s or your own); null = the blender's default
 * @param seed         sampling seed
 * @param timeBudget   soft limit: a stage that would start after it is skipped (ranking falls back to a
 *                     majority vote, fusion to the top candidate); null = none
 * @param cancellation set from another thread to stop; the blend then throws
 *                     {@link java.util.concurrent.CancellationException}
 * @param maxTokens    token budget of each candidate and of the answer; null = the blender's
 * @param temperature  sampling temperature of the candidates (0 = greedy); null = the blender's
 * @param topP         nucleus sampling of the candidates, in (0, 1]; null = the blender's
 * @param stop         strings that end a candidate and the answer; null = the blender's
 * @param candidatesPerModel candidates each generator samples; null = the blender's
 * @param topK         candidates the fuser reads; null = the blender's
 * @param generator    the generator that answers alone (SINGLE), samples alone (SELF_BLEND) or answers first
 *                     (CASCADE): one of the blender's generators; null = the first configured
 * @param sharedWork   samples and verdicts shared with other requests on the same question (see
 *                     {@link SharedWork}); null = none
 * @param topLogprobs  how many of the most likely tokens each step of a local generator's candidates reports
 *                     ({@code Candidate.topLogprobs()}), 0 to 20; 0 = none. Samples with them are not taken
 *                     from nor given to a {@code sharedWork}, whose candidates carry none
 */
public record BlendRequest(List<ChatMessage> messages, Composition composition, long seed, Duration timeBudget,
                           Cancellation cancellation, Integer maxTokens, Float temperature, Float topP,
                           List<String> stop, Integer candidatesPerModel, Integer topK, Path generator,
                           SharedWork sharedWork, int topLogprobs) {
    public BlendRequest {
        Objects.requireNonNull(messages, "messages");
        messages = List.copyOf(messages);
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("a request needs at least one message");
        }
        if (!messages.getLast().role().equals("user")) {
            throw new IllegalArgumentException("the last message must be the user's, was " + messages.getLast().role());
        }
        if (timeBudget != null && (timeBudget.isNegative() || timeBudget.isZero())) {
            throw new IllegalArgumentException("timeBudget must be positive, was " + timeBudget);
        }
        if (maxTokens != null && maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        if (temperature != null && !(temperature >= 0 && temperature <= 100)) {
            throw new IllegalArgumentException("temperature must be in [0, 100], was " + temperature);
        }
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], was " + topP);
        }
        if (candidatesPerModel != null && candidatesPerModel < 1) {
            throw new IllegalArgumentException("candidatesPerModel must be >= 1, was " + candidatesPerModel);
        }
        if (topK != null && topK < 1) {
            throw new IllegalArgumentException("topK must be >= 1, was " + topK);
        }
        if (topLogprobs < 0 || topLogprobs > GenerationRequest.MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("topLogprobs must be in [0, " + GenerationRequest.MAX_TOP_LOGPROBS
                    + "], was " + topLogprobs);
        }
        if (stop != null) {
            stop = List.copyOf(stop);
            if (stop.stream().anyMatch(String::isEmpty)) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    /** One user message. */
    public static BlendRequest of(String prompt) {
        return ofMessages(List.of(ChatMessage.user(Objects.requireNonNull(prompt, "prompt"))));
    }

    /** A conversation ending with the user's message. */
    public static BlendRequest ofMessages(List<ChatMessage> messages) {
        return new BlendRequest(messages, null, 1, null, null, null, null, null, null, null, null, null, null, 0);
    }

    /** The last user message: the instruction the judge and the fuser see. */
    public String prompt() {
        return messages.getLast().content();
    }

    /** A built-in strategy (null = the blender's default). */
    public BlendRequest withStrategy(Strategy s) {
        return withComposition(s == null ? null : s.composition());
    }

    public BlendRequest withComposition(Composition c) {
        return new BlendRequest(messages, c, seed, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withSeed(long s) {
        return new BlendRequest(messages, composition, s, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withTimeBudget(Duration d) {
        return new BlendRequest(messages, composition, seed, d, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withCancellation(Cancellation c) {
        return new BlendRequest(messages, composition, seed, timeBudget, c, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withMaxTokens(Integer n) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, n, temperature, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withTemperature(Float t) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, t, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withTopP(Float p) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, p, stop,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withCandidatesPerModel(Integer n) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                n, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withTopK(Integer k) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, k, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withStop(List<String> s) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, topP, s,
                candidatesPerModel, topK, generator, sharedWork, topLogprobs);
    }

    public BlendRequest withGenerator(Path g) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, g, sharedWork, topLogprobs);
    }

    public BlendRequest withTopLogprobs(int n) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, generator, sharedWork, n);
    }

    public BlendRequest withSharedWork(SharedWork w) {
        return new BlendRequest(messages, composition, seed, timeBudget, cancellation, maxTokens, temperature, topP, stop,
                candidatesPerModel, topK, generator, w, topLogprobs);
    }
}
