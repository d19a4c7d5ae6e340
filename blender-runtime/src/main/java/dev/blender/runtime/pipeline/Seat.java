package dev.blender.runtime.pipeline;

import dev.blender.genfuser.Fuser;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.genfuser.GenFuser;
import dev.blender.nativebridge.ChatMessage;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.GenerationRequest;
import dev.blender.nativebridge.generation.Generator;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.pairranker.PairRanker;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.pairranker.judge.LmJudge;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.remote.OpenAiClient;
import dev.blender.runtime.remote.RemoteCompletion;
import dev.blender.runtime.remote.RemoteEndpoint;
import dev.blender.runtime.remote.RemoteFuser;
import dev.blender.runtime.remote.RemoteJudge;
import dev.blender.runtime.remote.RemoteMix;
import dev.blender.runtime.remote.RemoteRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * A {@link Member} seated in one blender: a local or adapter member on the blender's model pool, a remote one on
 * its HTTP client. The operations every stage needs of a member, each written once per kind of member, so the
 * stages themselves are written once ({@link Blender#seat}).
 */
sealed interface Seat permits Seat.Local, Seat.Remote {

    Member member();

    /**
     * A sampling: the conversation (with the blender's generator prompt in its last message) and, for a server
     * asked through completions, its text.
     *
     * @param threads     compute threads where the member has none of its own (0: automatic)
     * @param abandoned   polled by remote requests still out: true gives up on them
     * @param shared      samples shared with other requests on the question, or null
     * @param topLogprobs alternatives per token (0: none); samples with them are not shared
     */
    record Ask(List<ChatMessage> messages, String text, int candidates, SamplerOptions sampler, int maxTokens,
               List<String> stop, long seed, Cancellation cancellation, BooleanSupplier abandoned, int topLogprobs,
               int threads, SharedWork shared) {
        public Ask {
            messages = List.copyOf(messages);
            Objects.requireNonNull(text, "text");
            stop = List.copyOf(stop);
        }
    }

    /**
     * What a sampling gave and cost.
     *
     * @param reusedMillis the wall time of samples taken from the shared work (0 when sampled now)
     */
    record Drawn(List<Sample> sampled, long promptTokens, long generatedTokens, double reusedMillis) {
        public Drawn {
            sampled = List.copyOf(sampled);
        }
    }

    /**
     * The member's candidates. A member that did not decode them token by token (taken from the shared work, or
     * written by a server) gives the first one's text to {@code tokens} whole, at once.
     *
     * @throws dev.blender.runtime.remote.RemoteException a remote member did not answer (after its retries)
     */
    Drawn sample(Ask ask, TokenListener tokens);

    /**
     * The member as a per-token mix reads it: a local one's context (leased into {@code leases}, which the caller
     * closes) and prompt, a remote one's client.
     */
    RemoteMix.Member mixed(List<ChatMessage> messages, List<ModelPool.Lease> leases);

    /** How many alternatives per token its answers carry: a remote member's configured top list, else 1. */
    int topLogprobs();

    /** Runs {@code use} with the member as the fuser, on a pooled context for a local one. */
    <T> T withFuser(FuserTemplate template, Function<Fuser, T> use);

    /** Runs {@code use} with the member as the judge, on a pooled context for a local one. */
    <T> T withJudge(JudgeTemplate template, BooleanSupplier cancelled, Function<PairRanker, T> use);

    /** A GGUF model or an adapter over one: decoded here on a pooled context. */
    record Local(Member member, Blender blender) implements Seat {
        @Override
        public Drawn sample(Ask ask, TokenListener tokens) {
            ContextOptions options = blender.generatorContext(member, ask.candidates());
            if (ask.threads() > 0 && options.threads() == 0) {
                options = options.withThreads(ask.threads());
            }
            try (ModelPool.Lease lease = blender.lease(member, options)) {
                int[] prompt = Generator.prompt(lease.model(), ask.messages(), true);
                GenerationRequest generation = GenerationRequest.of(prompt).withCandidates(ask.candidates())
                        .withMaxTokens(ask.maxTokens()).withSampler(ask.sampler()).withSeed(ask.seed())
                        .withStop(ask.stop()).withCancellation(ask.cancellation()).withTopLogprobs(ask.topLogprobs());
                SharedWork.Samples samples;
                double reused = 0;
                if (ask.shared() != null && ask.topLogprobs() == 0) {
                    boolean[] decoded = {false};
                    samples = ask.shared().samples(member, prompt, ask.candidates(), ask.sampler(), ask.seed(),
                            ask.maxTokens(), ask.stop(), () -> {
                                decoded[0] = true;
                                return sampled(lease, generation, tokens);
                            });
                    if (!decoded[0]) {
                        reused = samples.millis();
                        tokens.onToken(0, -1, samples.candidates().get(0).text());
                    }
                } else {
                    samples = sampled(lease, generation, tokens);
                }
                List<Sample> out = new ArrayList<>();
                for (Candidate c : samples.candidates()) {
                    // ranking, voting and fusion read a reasoning model's answer, not its thoughts
                    var split = Generator.answer(lease.model(), prompt, c.text());
                    out.add(new Sample(member.label(),
                            split.answer().equals(c.text()) ? c : c.withText(split.answer()), split.thinking()));
                }
                // the prompt is decoded once for all candidates
                return new Drawn(out, prompt.length, samples.generatedTokens(), reused);
            }
        }

        private static SharedWork.Samples sampled(ModelPool.Lease lease, GenerationRequest generation,
                                                  TokenListener tokens) {
            long t0 = System.nanoTime();
            List<Candidate> cs = Generator.generate(lease.context(), generation, tokens);
            return new SharedWork.Samples(cs, (System.nanoTime() - t0) / 1e6);
        }

        @Override
        public RemoteMix.Member mixed(List<ChatMessage> messages, List<ModelPool.Lease> leases) {
            ModelPool.Lease lease = blender.lease(member, blender.generatorContext(member, 1));
            leases.add(lease);
            return RemoteMix.Member.local(member.label(), lease.context(), Generator.prompt(lease.model(), messages, true));
        }

        @Override
        public int topLogprobs() {
            return 1;
        }

        @Override
        public <T> T withFuser(FuserTemplate template, Function<Fuser, T> use) {
            try (ModelPool.Lease lease = blender.lease(member, blender.fuserContext())) {
                return use.apply(new GenFuser(lease.context(), template));
            }
        }

        @Override
        public <T> T withJudge(JudgeTemplate template, BooleanSupplier cancelled, Function<PairRanker, T> use) {
            try (ModelPool.Lease lease = blender.lease(member, blender.rankerContext(BlenderConfig.key(member)))) {
                return use.apply(new LmJudge(lease.context(), template, cancelled));
            }
        }
    }

    /** A model a server answers for: text, and at most top log-probabilities, never tokens. */
    record Remote(Member.Remote member, OpenAiClient client) implements Seat {
        @Override
        public Drawn sample(Ask ask, TokenListener tokens) {
            RemoteRequest remote = new RemoteRequest(ask.messages(), ask.text(), ask.sampler().temperature(),
                    ask.sampler().topP(), ask.maxTokens(), ask.stop(), ask.seed());
            SharedWork.Samples samples;
            double reused = 0;
            if (ask.shared() != null) {
                // what the server is sent identifies the sampling, as the prompt's tokens do for a local member
                int[] key = (client.endpoint().api() == RemoteEndpoint.Api.CHAT
                        ? ask.messages().toString() : ask.text()).codePoints().toArray();
                boolean[] asked = {false};
                samples = ask.shared().samples(member, key, ask.candidates(), ask.sampler(), ask.seed(), ask.maxTokens(),
                        ask.stop(), () -> {
                            asked[0] = true;
                            return asked(remote, ask);
                        });
                if (!asked[0]) {
                    reused = samples.millis();
                }
            } else {
                samples = asked(remote, ask);
            }
            tokens.onToken(0, -1, samples.candidates().get(0).text()); // not streamed over HTTP: the answer at once
            List<Sample> out = new ArrayList<>();
            for (Candidate c : samples.candidates()) {
                out.add(new Sample(member.label(), c));
            }
            // the prompt once, as for local members
            return new Drawn(out, Math.max(0, samples.promptTokens()), samples.generatedTokens(), reused);
        }

        private SharedWork.Samples asked(RemoteRequest remote, Ask ask) {
            long t0 = System.nanoTime();
            List<RemoteCompletion> answers = client.complete(remote, ask.candidates(), ask.abandoned());
            double millis = (System.nanoTime() - t0) / 1e6;
            List<Candidate> cs = new ArrayList<>();
            long generated = 0;
            for (int i = 0; i < answers.size(); i++) {
                RemoteCompletion c = answers.get(i);
                cs.add(new Candidate(i, c.text(), new int[0], new float[0], c.finishReason(), 0, millis));
                generated += Math.max(0, c.completionTokens());
            }
            return new SharedWork.Samples(cs, millis, answers.stream().mapToLong(RemoteCompletion::promptTokens)
                    .max().orElse(0), generated);
        }

        @Override
        public RemoteMix.Member mixed(List<ChatMessage> messages, List<ModelPool.Lease> leases) {
            return RemoteMix.Member.remote(member.label(), client);
        }

        @Override
        public int topLogprobs() {
            return client.endpoint().topLogprobs();
        }

        @Override
        public <T> T withFuser(FuserTemplate template, Function<Fuser, T> use) {
            return use.apply(new RemoteFuser(client, template));
        }

        @Override
        public <T> T withJudge(JudgeTemplate template, BooleanSupplier cancelled, Function<PairRanker, T> use) {
            return use.apply(new RemoteJudge(client, template, cancelled));
        }
    }
}
