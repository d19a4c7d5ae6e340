package dev.blender.runtime.pipeline;

import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.generation.GenerationRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One request: {@link #of(String)} for one user message with the blender's settings, or
 * {@link #builder()} for a conversation and what to change. A setting left unset is the blender's own.
 *
 * <pre>{@code
 * BlendRequest r = BlendRequest.builder().prompt("Why is the sky blue?")
 *         .strategy(Strategy.FULL_BLEND).seed(7).maxTokens(200).build();
 * }</pre>
 *
 * <p>Immutable, so thread-safe: one request may be blended any number of times, from any threads.
 */
public final class BlendRequest {
    private final List<Message> conversation;
    private final List<ChatMessage> messages;
    private final Composition composition;
    private final long seed;
    private final Duration timeBudget;
    private final Cancellation cancellation;
    private final Integer maxTokens;
    private final Float temperature;
    private final Float topP;
    private final List<String> stop;
    private final Integer candidatesPerModel;
    private final Integer topK;
    private final Path generator;
    private final SharedWork sharedWork;
    private final int topLogprobs;

    private BlendRequest(Builder b, Cancellation cancellation) {
        this.conversation = b.messages;
        this.messages = b.messages.stream().map(m -> new ChatMessage(m.role(), m.content())).toList();
        this.composition = b.composition;
        this.seed = b.seed != null ? b.seed : 1;
        this.timeBudget = b.timeBudget;
        this.cancellation = cancellation;
        this.maxTokens = b.maxTokens;
        this.temperature = b.temperature;
        this.topP = b.topP;
        this.stop = b.stop;
        this.candidatesPerModel = b.candidatesPerModel;
        this.topK = b.topK;
        this.generator = b.generator;
        this.sharedWork = b.sharedWork;
        this.topLogprobs = b.topLogprobs != null ? b.topLogprobs : 0;
    }

    /** One user message, every setting the blender's. */
    public static BlendRequest of(String prompt) {
        return builder().prompt(prompt).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The conversation, oldest first, ending with the user's message. */
    public List<Message> conversation() {
        return conversation;
    }

    /** The last user message: the instruction the judge and the fuser see. */
    public String prompt() {
        return conversation.getLast().content();
    }

    /** How to answer; null = the blender's default. */
    public Composition composition() {
        return composition;
    }

    /** The sampling seed (1 unless set). */
    public long seed() {
        return seed;
    }

    /** The soft time limit; null = none. */
    public Duration timeBudget() {
        return timeBudget;
    }

    /** The token budget of each candidate and of the answer; null = the blender's. */
    public Integer maxTokens() {
        return maxTokens;
    }

    /** The candidates' sampling temperature; null = the blender's. */
    public Float temperature() {
        return temperature;
    }

    /** The candidates' nucleus; null = the blender's. */
    public Float topP() {
        return topP;
    }

    /** Strings that end a candidate and the answer; null = the blender's. */
    public List<String> stop() {
        return stop;
    }

    /** Candidates each generator samples; null = the blender's. */
    public Integer candidatesPerModel() {
        return candidatesPerModel;
    }

    /** Candidates the fuser reads; null = the blender's. */
    public Integer topK() {
        return topK;
    }

    /** The generator that answers alone, samples alone or answers first; null = the first configured. */
    public Path generator() {
        return generator;
    }

    /** Work shared with other requests on the same question; null = none. */
    public SharedWork sharedWork() {
        return sharedWork;
    }

    /** How many of the most likely tokens each step of a local generator's candidates reports; 0 = none. */
    public int topLogprobs() {
        return topLogprobs;
    }

    /** The conversation as the models' chat templates read it. */
    List<ChatMessage> messages() {
        return messages;
    }

    /** The flag the token loops poll; null when the request cannot be cancelled. */
    dev.blender.nativebridge.generation.Cancellation cancellation() {
        return cancellation == null ? null : cancellation.flag();
    }

    /** This request with a cancellation: its own, or {@code fallback} when it has none. */
    BlendRequest cancellable(Cancellation fallback) {
        return cancellation != null ? this : new BlendRequest(toBuilder(), fallback);
    }

    Cancellation cancellationHandle() {
        return cancellation;
    }

    private Builder toBuilder() {
        Builder b = new Builder();
        b.messages = conversation;
        b.composition = composition;
        b.seed = seed;
        b.timeBudget = timeBudget;
        b.maxTokens = maxTokens;
        b.temperature = temperature;
        b.topP = topP;
        b.stop = stop;
        b.candidatesPerModel = candidatesPerModel;
        b.topK = topK;
        b.generator = generator;
        b.sharedWork = sharedWork;
        b.topLogprobs = topLogprobs;
        return b;
    }

    @Override
    public String toString() {
        return "BlendRequest[prompt=" + prompt() + ", messages=" + conversation.size()
                + ", composition=" + (composition == null ? null : composition.name()) + ", seed=" + seed
                + ", maxTokens=" + maxTokens + ", temperature=" + temperature + ", topP=" + topP + ", stop=" + stop
                + ", candidatesPerModel=" + candidatesPerModel + ", topK=" + topK + ", generator=" + generator
                + ", timeBudget=" + timeBudget + ", topLogprobs=" + topLogprobs + "]";
    }

    /**
     * Settings of a request. Each setter checks its own value and that it was not set before ({@link
     * #prompt} and {@link #messages} are one setting, as are {@link #strategy} and {@link #composition});
     * {@link #build()} checks that the request has something to answer. Not thread-safe: use one builder on
     * one thread; {@link #build()} may be called again for another request with the same settings.
     */
    public static final class Builder {
        private List<Message> messages;
        private Composition composition;
        private Long seed;
        private Duration timeBudget;
        private Cancellation cancellation;
        private Integer maxTokens;
        private Float temperature;
        private Float topP;
        private List<String> stop;
        private Integer candidatesPerModel;
        private Integer topK;
        private Path generator;
        private SharedWork sharedWork;
        private Integer topLogprobs;

        private Builder() {}

        private static void once(Object current, String name) {
            if (current != null) {
                throw new IllegalStateException(name + " was already set to " + current);
            }
        }

        /** One user message as the whole conversation. */
        public Builder prompt(String prompt) {
            Objects.requireNonNull(prompt, "prompt");
            return messages(List.of(Message.user(prompt)));
        }

        /**
         * The conversation, oldest first, ending with the user's message. Generators with a chat template see
         * all of it through their template; generators without one see the last user message put into the
         * blender's {@code generatorPrompt}. The judge and the fuser see the last user message as the
         * instruction.
         */
        public Builder messages(List<Message> messages) {
            Objects.requireNonNull(messages, "messages");
            once(this.messages, "messages");
            List<Message> copy = List.copyOf(messages);
            if (copy.isEmpty()) {
                throw new IllegalArgumentException("a request needs at least one message");
            }
            if (!copy.getLast().role().equals("user")) {
                throw new IllegalArgumentException("the last message must be the user's, was " + copy.getLast().role());
            }
            this.messages = copy;
            return this;
        }

        /** A built-in strategy (unset = the blender's default). */
        public Builder strategy(Strategy strategy) {
            return composition(Objects.requireNonNull(strategy, "strategy").composition());
        }

        /** How to answer: a {@link Strategy}'s or your own (unset = the blender's default). */
        public Builder composition(Composition composition) {
            Objects.requireNonNull(composition, "composition");
            once(this.composition == null ? null : this.composition.name(), "composition");
            this.composition = composition;
            return this;
        }

        /** The sampling seed (default 1). */
        public Builder seed(long seed) {
            once(this.seed, "seed");
            this.seed = seed;
            return this;
        }

        /**
         * A soft limit: a stage that would start after it is skipped (ranking falls back to a majority vote,
         * fusion to the top candidate).
         */
        public Builder timeBudget(Duration budget) {
            Objects.requireNonNull(budget, "timeBudget");
            once(this.timeBudget, "timeBudget");
            if (budget.isNegative() || budget.isZero()) {
                throw new IllegalArgumentException("timeBudget must be positive, was " + budget);
            }
            this.timeBudget = budget;
            return this;
        }

        /** Set from another thread to stop the request; the blend then throws a CancellationException. */
        public Builder cancellation(Cancellation cancellation) {
            Objects.requireNonNull(cancellation, "cancellation");
            once(this.cancellation, "cancellation");
            this.cancellation = cancellation;
            return this;
        }

        /** The token budget of each candidate and of the answer. */
        public Builder maxTokens(int maxTokens) {
            once(this.maxTokens, "maxTokens");
            if (maxTokens < 1) {
                throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
            }
            this.maxTokens = maxTokens;
            return this;
        }

        /** The candidates' sampling temperature, in [0, 100] (0 = greedy). */
        public Builder temperature(float temperature) {
            once(this.temperature, "temperature");
            if (!(temperature >= 0 && temperature <= 100)) {
                throw new IllegalArgumentException("temperature must be in [0, 100], was " + temperature);
            }
            this.temperature = temperature;
            return this;
        }

        /** Nucleus sampling of the candidates, in (0, 1]. */
        public Builder topP(float topP) {
            once(this.topP, "topP");
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1], was " + topP);
            }
            this.topP = topP;
            return this;
        }

        /** Strings that end a candidate and the answer (an empty list: none, whatever the blender's). */
        public Builder stop(List<String> stop) {
            Objects.requireNonNull(stop, "stop");
            once(this.stop, "stop");
            List<String> copy = List.copyOf(stop);
            if (copy.stream().anyMatch(String::isEmpty)) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
            this.stop = copy;
            return this;
        }

        /** Candidates each generator samples. */
        public Builder candidatesPerModel(int n) {
            once(this.candidatesPerModel, "candidatesPerModel");
            if (n < 1) {
                throw new IllegalArgumentException("candidatesPerModel must be >= 1, was " + n);
            }
            this.candidatesPerModel = n;
            return this;
        }

        /** Candidates the fuser reads. */
        public Builder topK(int k) {
            once(this.topK, "topK");
            if (k < 1) {
                throw new IllegalArgumentException("topK must be >= 1, was " + k);
            }
            this.topK = k;
            return this;
        }

        /**
         * The generator that answers alone (single), samples alone (self-blend) or answers first (cascade):
         * one of the blender's generators (unset = the first configured).
         */
        public Builder generator(Path generator) {
            Objects.requireNonNull(generator, "generator");
            once(this.generator, "generator");
            this.generator = generator;
            return this;
        }

        /** Samples and verdicts shared with other requests on the same question (see {@link SharedWork}). */
        public Builder sharedWork(SharedWork work) {
            Objects.requireNonNull(work, "sharedWork");
            once(this.sharedWork, "sharedWork");
            this.sharedWork = work;
            return this;
        }

        /**
         * How many of the most likely tokens each step of a local generator's candidates reports, 0 to 20
         * (default 0: none). Samples with them are not taken from nor given to a {@code sharedWork}, whose
         * candidates carry none.
         */
        public Builder topLogprobs(int n) {
            once(this.topLogprobs, "topLogprobs");
            if (n < 0 || n > GenerationRequest.MAX_TOP_LOGPROBS) {
                throw new IllegalArgumentException("topLogprobs must be in [0, " + GenerationRequest.MAX_TOP_LOGPROBS
                        + "], was " + n);
            }
            this.topLogprobs = n;
            return this;
        }

        /**
         * The request.
         *
         * @throws IllegalStateException neither a prompt nor messages were given
         */
        public BlendRequest build() {
            if (messages == null) {
                throw new IllegalStateException("a request needs a prompt or messages");
            }
            return new BlendRequest(this, cancellation);
        }
    }
}
