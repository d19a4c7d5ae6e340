package dev.blender.runtime.remote;

import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.generation.Cancellation;
import dev.blender.nativebridge.generation.Candidate;
import dev.blender.nativebridge.generation.DecodeOptions;
import dev.blender.nativebridge.generation.Sampler;
import dev.blender.nativebridge.generation.SamplerOptions;
import dev.blender.nativebridge.generation.SequenceDecoder;
import dev.blender.nativebridge.generation.TokenListener;
import dev.blender.nativebridge.generation.TokenLoop;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.combine.Combiner;
import dev.blender.nativebridge.math.VectorMath;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * Per-token mixing of members some of which are remote (UniTE-style, over the union of top-k lists): at
 * every step each remote member is asked for one token of the prefix so far ({@code max_tokens} 1) with its
 * top {@link RemoteEndpoint#topLogprobs()} alternatives, each local member's full distribution is read, and
 * the next token is chosen from the union of every member's top k, tokens matched by the bytes they decode
 * to (every end-of-generation token being one event). On that union the members' probabilities are combined
 * ({@link CombineMethod#LINEAR}: the weighted mean; {@link CombineMethod#LOG_LINEAR}: the weighted mean of
 * log-probabilities) and renormalised, by the kernels local mixing uses ({@link Combiner}), and the request's
 * {@link dev.blender.nativebridge.generation.Sampler} picks from that, top-k, top-p and min-p included. A local member gives its exact probability of every union token; a
 * remote member gives what it listed, and for a token it did not list at most the smaller of its k-th
 * probability and the mass its list leaves out, which is what it is given (a bound, not a guess: the mass
 * outside its list is the approximation, reported per request as {@link Result#meanMissingMass()}).
 *
 * <p>The chosen token's text is appended to the remote members' prompt (the server tokenises the new prefix
 * itself, and llama.cpp's server reuses its cache of the prefix) and fed to the local members as their own
 * token for those bytes, or spelt with their tokens. A remote member that fails or returns no
 * log-probabilities leaves the mix for the rest of the answer, reported in {@link Result#failures()}; when
 * every member has left, the mix fails.
 *
 * <p>Not thread-safe (it drives the local members' contexts).
 */
public final class RemoteMix {
    /** The probability a token gets from a member that gives it none at all: its log stays finite. */
    static final double FLOOR = 1e-30;
    private static final String END = "\u0000\u0001<end of generation>";
    private static final Map<Vocab, LocalVocab> VOCABS = Collections.synchronizedMap(new WeakHashMap<>());

    /** A member of the mix: a local context with its prompt's tokens, or a remote endpoint's client. */
    public record Member(String name, LlamaContext context, int[] prompt, OpenAiClient client) {
        public static Member local(String name, LlamaContext context, int[] prompt) {
            return new Member(name, Objects.requireNonNull(context, "context"), prompt.clone(), null);
        }

        /**
         * @throws IllegalArgumentException the endpoint is asked through chat: a mix continues a raw prefix one
         *                                  token at a time, which only {@code /v1/completions} does
         */
        public static Member remote(String name, OpenAiClient client) {
            if (client.endpoint().api() != RemoteEndpoint.Api.COMPLETIONS) {
                throw new IllegalArgumentException("remote member '" + name + "' is asked through chat; per-token"
                        + " mixing continues a raw-text prefix token by token: set \"api\": \"completions\"");
            }
            return new Member(name, null, null, client);
        }

        boolean isRemote() {
            return client != null;
        }
    }

    /** A member that left the mix, and why. */
    public record Failure(String member, String error) {}

    /**
     * What the mix wrote and what it missed.
     *
     * @param meanMissingMass the probability mass outside the remote members' lists, averaged over every
     *                        step and remote member (0 without remote members)
     * @param maxMissingMass  its largest value at one step
     * @param steps           tokens chosen (the end of generation included)
     * @param remoteRequests  requests sent
     * @param promptTokens    tokens of the prompt, counted once per member (what the servers reported for theirs)
     */
    public record Result(Candidate candidate, double meanMissingMass, double maxMissingMass, int steps,
                         long remoteRequests, long promptTokens, List<Failure> failures) {
        public Result {
            failures = List.copyOf(failures);
        }
    }

    private final List<Member> members;
    private final CombineOptions options;
    private final int topK;
    private final Combiner combiner;

    /**
     * @param topK how many of a local member's most likely tokens join the union (remote members list what
     *             their endpoint's {@code topLogprobs} asks for)
     * @throws IllegalArgumentException a method other than linear or log-linear, or adaptive weights
     */
    public RemoteMix(List<Member> members, CombineOptions options, int topK) {
        this.members = List.copyOf(members);
        this.options = Objects.requireNonNull(options, "options");
        this.topK = topK;
        if (options.method() != CombineMethod.LINEAR && options.method() != CombineMethod.LOG_LINEAR) {
            throw new IllegalArgumentException("per-token mixing with remote members is linear or log-linear, not "
                    + options.method());
        }
        if (options.adaptive()) {
            throw new IllegalArgumentException("per-token mixing with remote members takes fixed weights, not adaptive"
                    + " ones (their prompt log-probabilities are not known)");
        }
        if (options.members() != this.members.size()) {
            throw new IllegalArgumentException(options + " is for " + options.members() + " members, got "
                    + this.members.size());
        }
        if (topK < 1) {
            throw new IllegalArgumentException("topK must be >= 1, was " + topK);
        }
        this.combiner = Combiner.vectorized(options);
    }

    /**
     * Writes one answer, sampling the combined distribution at {@code temperature} alone (no top-k, top-p or
     * min-p); {@link #generate(String, DecodeOptions, BooleanSupplier, TokenListener)} takes every sampler option.
     */
    public Result generate(String remotePrompt, int maxTokens, float temperature, List<String> stop, long seed,
                           BooleanSupplier cancelled, TokenListener listener) {
        return generate(remotePrompt, new DecodeOptions(maxTokens, SamplerOptions.greedy().withTemperature(temperature),
                stop, seed, null), cancelled, listener);
    }

    /**
     * Writes one answer: the union's combined distribution goes through the request's {@link Sampler} (greedy: the
     * most probable union token, the first on ties), and the output through the shared {@link TokenLoop}.
     *
     * @param remotePrompt what the remote members continue (the generator prompt as raw text)
     * @param cancelled    asked before every token, beside the options' cancellation; requests still out stop
     *                     with it
     */
    public Result generate(String remotePrompt, DecodeOptions decode, BooleanSupplier cancelled,
                           TokenListener listener) {
        int n = members.size();
        SequenceDecoder[] decoders = new SequenceDecoder[n];
        boolean[] live = new boolean[n];
        List<Failure> failures = new ArrayList<>();
        long start = System.nanoTime();
        // a local member's error or a cancellation ends the answer: requests still out stop with it
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        Cancellation cancel = Cancellation.of(() -> decode.isCancelled() || cancelled.getAsBoolean());
        BooleanSupplier abandoned = () -> ended.get() || cancel.isCancelled();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            try {
                long promptTokens = 0;
                for (int m = 0; m < n; m++) {
                    Member member = members.get(m);
                    live[m] = true;
                    if (!member.isRemote()) {
                        LlamaContext ctx = member.context();
                        if (member.prompt().length + 1 > ctx.contextSize()) {
                            throw new IllegalArgumentException("the prompt is " + member.prompt().length + " tokens for "
                                    + member.name() + ", whose context holds " + ctx.contextSize());
                        }
                        decoders[m] = new SequenceDecoder(ctx);
                        decoders[m].prefill(0, member.prompt());
                        promptTokens += member.prompt().length;
                    }
                }
                double promptMillis = (System.nanoTime() - start) / 1e6;
                Step step = new Step(remotePrompt, decode.seed(), live, decoders, failures, abandoned, ex);
                step.promptTokens = promptTokens;
                // the union's indices name other tokens at every step: the output records no ids, no penalty reads them
                TokenLoop loop = new TokenLoop(0, decode.withCancellation(cancel), decode.seed(), null, step, listener);
                Candidate c = loop.run(step, promptMillis);
                return new Result(c, step.missingCount == 0 ? 0 : step.missingSum / step.missingCount, step.missingMax,
                        step.steps, step.requests, step.promptTokens, failures);
            } finally {
                ended.set(true);
            }
        } finally {
            for (SequenceDecoder d : decoders) {
                if (d != null) {
                    d.close();
                }
            }
        }
    }

    /** One step of the mix as the token loop reads it: the union's combined scores, and feeding the chosen bytes. */
    private final class Step implements TokenLoop.Source, TokenLoop.Tokens {
        private final String remotePrompt;
        private final long seed;
        private final boolean[] live;
        private final SequenceDecoder[] decoders;
        private final List<Failure> failures;
        private final BooleanSupplier abandoned;
        private final ExecutorService ex;
        private final ByteArrayOutputStream written = new ByteArrayOutputStream();
        private final boolean[] counted;
        private List<String> keys = List.of();
        private float[] scores = new float[0];
        double missingSum;
        double missingMax;
        long missingCount;
        long requests;
        long promptTokens;
        int steps;

        Step(String remotePrompt, long seed, boolean[] live, SequenceDecoder[] decoders, List<Failure> failures,
             BooleanSupplier abandoned, ExecutorService ex) {
            this.remotePrompt = remotePrompt;
            this.seed = seed;
            this.live = live;
            this.decoders = decoders;
            this.failures = failures;
            this.abandoned = abandoned;
            this.ex = ex;
            this.counted = new boolean[live.length];
        }

        @Override
        public int next() {
            int n = members.size();
            String prefix = remotePrompt + written.toString(StandardCharsets.UTF_8);
            Map<Integer, CompletableFuture<RemoteCompletion>> asked = new HashMap<>();
            for (int m = 0; m < n; m++) {
                if (live[m] && members.get(m).isRemote()) {
                    OpenAiClient client = members.get(m).client();
                    RemoteRequest r = RemoteRequest.text(prefix, 1, List.of(), seed, client.endpoint().topLogprobs());
                    asked.put(m, CompletableFuture.supplyAsync(() -> client.completeWithLogprobs(r, abandoned), ex));
                }
            }
            // every member's log-probability of each union token, by key
            List<Map<String, Double>> listed = new ArrayList<>();
            double[] floor = new double[n];
            Map<String, Boolean> union = new LinkedHashMap<>();
            for (int m = 0; m < n; m++) {
                listed.add(null);
                if (live[m] && !members.get(m).isRemote()) {
                    localTop(m, decoders[m], union);
                }
            }
            for (int m = 0; m < n; m++) {
                CompletableFuture<RemoteCompletion> f = asked.get(m);
                if (f == null) {
                    continue;
                }
                requests++;
                RemoteCompletion c;
                try {
                    c = f.join();
                } catch (CompletionException e) {
                    if (e.getCause() instanceof RemoteException r) {
                        leave(m, r.getMessage(), live, failures);
                        continue;
                    }
                    throw e.getCause() instanceof RuntimeException r ? r : e;
                }
                if (c.top().isEmpty()) {
                    leave(m, "returned log-probabilities without a generated position (per-token mixing"
                            + " needs the alternatives at the next token)", live, failures);
                    continue;
                }
                if (!counted[m]) {
                    counted[m] = true;
                    promptTokens += Math.max(0, c.promptTokens());
                }
                Map<String, Double> own = new LinkedHashMap<>();
                double mass = 0;
                double least = 1;
                for (TokenLogprob t : c.top()) {
                    byte[] b = t.bytes();
                    if (!t.isEnd() && b.length == 0) {
                        continue; // a control token that writes nothing: no text to align by
                    }
                    String key = t.isEnd() ? END : new String(b, StandardCharsets.ISO_8859_1);
                    double p = Math.exp(t.logprob());
                    own.merge(key, p, Double::sum);
                    mass += p;
                    least = Math.min(least, p);
                    union.put(key, true);
                }
                double missing = Math.max(0, 1 - mass);
                missingSum += missing;
                missingMax = Math.max(missingMax, missing);
                missingCount++;
                listed.set(m, own);
                floor[m] = Math.max(FLOOR, Math.min(least, missing));
            }
            int alive = 0;
            for (boolean l : live) {
                alive += l ? 1 : 0;
            }
            if (alive == 0) {
                throw new RemoteException("every member of the mix failed: " + String.join("; ",
                        failures.stream().map(f -> f.member() + ": " + f.error()).toList()), false);
            }
            keys = new ArrayList<>(union.keySet());
            if (scores.length < keys.size()) {
                scores = new float[keys.size()];
            }
            combine(keys, listed, floor, live, decoders, scores);
            steps++;
            return keys.size();
        }

        @Override
        public float[] scores() {
            return scores;
        }

        @Override
        public boolean isEnd(int token) {
            return keys.get(token).equals(END);
        }

        @Override
        public byte[] piece(int token) {
            return keys.get(token).getBytes(StandardCharsets.ISO_8859_1);
        }

        @Override
        public int id(int token) {
            return -1; // no one vocabulary's ids: the union's tokens are bytes
        }

        @Override
        public boolean feed(int token) {
            written.writeBytes(piece(token));
            return RemoteMix.this.feed(keys.get(token), live, decoders);
        }
    }

    private void leave(int m, String why, boolean[] live, List<Failure> failures) {
        live[m] = false;
        failures.add(new Failure(members.get(m).name(), why));
    }

    /** Adds local member m's {@link #topK} most likely tokens to the union. */
    private void localTop(int m, SequenceDecoder decoder, Map<String, Boolean> union) {
        LlamaContext ctx = members.get(m).context();
        LocalVocab v = vocab(ctx);
        MemorySegment row = decoder.logits(0);
        int size = ctx.vocabSize();
        PriorityQueue<int[]> heap = new PriorityQueue<>((a, b) -> Float.compare(
                row.getAtIndex(ValueLayout.JAVA_FLOAT, a[0]), row.getAtIndex(ValueLayout.JAVA_FLOAT, b[0])));
        for (int id = 0; id < size; id++) {
            if (v.keys[id] == null) {
                continue;
            }
            if (heap.size() < topK) {
                heap.add(new int[] {id});
            } else if (row.getAtIndex(ValueLayout.JAVA_FLOAT, id) > row.getAtIndex(ValueLayout.JAVA_FLOAT, heap.peek()[0])) {
                heap.poll();
                heap.add(new int[] {id});
            }
        }
        List<int[]> best = new ArrayList<>(heap);
        best.sort((a, b) -> Float.compare(row.getAtIndex(ValueLayout.JAVA_FLOAT, b[0]),
                row.getAtIndex(ValueLayout.JAVA_FLOAT, a[0])));
        for (int[] id : best) {
            union.put(v.keys[id[0]], true);
        }
    }

    /**
     * The combined log-probability of every union key into {@code out}, renormalised over the union, by the shared
     * kernels ({@link Combiner}). Each member's row is its log-probability of each key; the kernels renormalise a
     * member's row over the union before a linear mix, so a member's weight is scaled by the mass it gives the
     * union, which makes the mix that of the probabilities as given: {@code log(sum_m w_m p_m(u))}, renormalised.
     * Members that left weigh nothing; when those still in had no weight, they share it equally.
     */
    private void combine(List<String> keys, List<Map<String, Double>> listed, double[] floor, boolean[] live,
                         SequenceDecoder[] decoders, float[] out) {
        int n = members.size();
        int size = keys.size();
        float[] w = new float[n];
        double wsum = 0;
        for (int m = 0; m < n; m++) {
            w[m] = live[m] ? options.weights()[m] : 0;
            wsum += w[m];
        }
        for (int m = 0; m < n && !(wsum > 0); m++) {
            w[m] = live[m] ? 1 : 0;
        }
        MemorySegment[] rows = new MemorySegment[n];
        for (int m = 0; m < n; m++) {
            float[] logp = new float[size];
            rows[m] = MemorySegment.ofArray(logp);
            if (!live[m]) {
                continue;
            }
            double[] p = new double[size];
            if (members.get(m).isRemote()) {
                for (int u = 0; u < size; u++) {
                    p[u] = listed.get(m).getOrDefault(keys.get(u), floor[m]);
                }
            } else {
                LlamaContext ctx = members.get(m).context();
                LocalVocab v = vocab(ctx);
                float[] logits = new float[ctx.vocabSize()];
                MemorySegment.copy(decoders[m].logits(0), ValueLayout.JAVA_FLOAT, 0, logits, 0, logits.length);
                double lse = VectorMath.logSumExp(logits, logits.length);
                for (int u = 0; u < size; u++) {
                    double sum = 0;
                    for (int id : v.ids.getOrDefault(keys.get(u), new int[0])) {
                        sum += Math.exp(logits[id] - lse);
                    }
                    p[u] = Math.max(FLOOR, sum);
                }
            }
            double mass = 0;
            for (int u = 0; u < size; u++) {
                logp[u] = (float) Math.log(p[u]);
                mass += p[u];
            }
            if (options.method() == CombineMethod.LINEAR) {
                w[m] = (float) (w[m] * mass);
            }
        }
        combiner.reweight(w);
        combiner.combine(rows, size, out);
    }

    /** Feeds the chosen bytes to every local member still in the mix; false when a context is full. */
    private boolean feed(String key, boolean[] live, SequenceDecoder[] decoders) {
        for (int m = 0; m < members.size(); m++) {
            if (!live[m] || members.get(m).isRemote()) {
                continue;
            }
            LlamaContext ctx = members.get(m).context();
            int[] ids = vocab(ctx).spell(key, members.get(m).name());
            if (decoders[m].position(0) + ids.length >= ctx.contextSize()) {
                return false;
            }
            decoders[m].append(0, ids, ids.length - 1);
        }
        return true;
    }

    private static LocalVocab vocab(LlamaContext ctx) {
        Vocab v = ctx.model().vocab();
        synchronized (VOCABS) {
            return VOCABS.computeIfAbsent(v, LocalVocab::new);
        }
    }

    /** A local vocabulary by the bytes its tokens decode to (the keys remote members' lists are matched by). */
    static final class LocalVocab {
        /** Each id's key, or null for a control token that writes nothing and ends nothing. */
        final String[] keys;
        /** Every id of each key (a byte token beside a one-character token: their probabilities add up). */
        final Map<String, int[]> ids = new HashMap<>();
        /** The id a member is fed for a key: its ordinary token rather than a byte-fallback one. */
        final Map<String, Integer> feed = new HashMap<>();
        final int longest;

        LocalVocab(Vocab v) {
            keys = new String[v.size()];
            Map<String, List<Integer>> all = new HashMap<>();
            int longest = 1;
            for (int id = 0; id < v.size(); id++) {
                String key;
                if (v.isEndOfGeneration(id)) {
                    key = END;
                } else {
                    byte[] b = v.piece(id, false);
                    if (b.length == 0) {
                        continue;
                    }
                    key = new String(b, StandardCharsets.ISO_8859_1);
                }
                keys[id] = key;
                all.computeIfAbsent(key, k -> new ArrayList<>()).add(id);
                longest = Math.max(longest, key.length());
                Integer before = feed.get(key);
                // SentencePiece models rarely saw their byte-fallback tokens and continue badly after one
                if (before == null || isByteToken(v, before) && !isByteToken(v, id)) {
                    feed.put(key, id);
                }
            }
            all.forEach((k, l) -> ids.put(k, l.stream().mapToInt(Integer::intValue).toArray()));
            this.longest = longest;
        }

        private static boolean isByteToken(Vocab v, int id) {
            return (v.attributes(id) & (1 << 5)) != 0; // LLAMA_TOKEN_ATTR_BYTE
        }

        /** The member's tokens for these bytes: its own token, else the longest matches. */
        int[] spell(String key, String member) {
            Integer one = feed.get(key);
            if (one != null) {
                return new int[] {one};
            }
            List<Integer> out = new ArrayList<>();
            int i = 0;
            while (i < key.length()) {
                int len = 0;
                Integer found = null;
                for (int j = Math.min(key.length(), i + longest); j > i; j--) {
                    found = feed.get(key.substring(i, j));
                    if (found != null) {
                        len = j - i;
                        break;
                    }
                }
                if (found == null) {
                    throw new IllegalArgumentException("member " + member + " cannot spell the chosen token: its"
                            + " vocabulary lacks the byte 0x" + Integer.toHexString(key.charAt(i)));
                }
                out.add(found);
                i += len;
            }
            return out.stream().mapToInt(Integer::intValue).toArray();
        }
    }
}
